"""How a figure reads: minutes as 12 min / 3.4 h / 2.1 d, money with the currency, counts with
thousands separators, NULL as an en dash. Presentation only; no figure is derived here."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

NONE = "\u2013"


def minutes(value: Any) -> str:
    if value is None:
        return NONE
    v = float(value)
    if abs(v) < 90:
        return f"{v:.0f} min" if abs(v) >= 10 else f"{v:.1f} min"
    if abs(v) < 48 * 60:
        return f"{v / 60:.1f} h"
    return f"{v / 1440:.1f} d"


def count(value: Any) -> str:
    if value is None:
        return NONE
    return f"{int(value):,}"


def pct(value: Any) -> str:
    return NONE if value is None else f"{float(value):.1f}%"


def ratio(value: Any) -> str:
    return NONE if value is None else f"{float(value):.2f}x"


def number(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, int) or (isinstance(value, decimal.Decimal) and value == value.to_integral()):
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def money(value: Any, currency: str = "") -> str:
    """Compact money: 950, 12.3k, 4.56M."""
    if value is None:
        return NONE
    v = float(value)
    for bound, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= bound:
            text = f"{v / bound:.3g}{suffix}"
            break
    else:
        text = f"{v:,.0f}"
    return f"{text} {currency}".strip()


def when(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def text(value: Any) -> str:
    return NONE if value is None else str(value)
