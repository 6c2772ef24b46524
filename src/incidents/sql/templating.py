"""The Jinja environment every SQL template renders in.

StrictUndefined turns a typo in a template into an error instead of empty SQL; every identifier
that comes from config passes `ident` (validate + quote), every value passes `literal`.
"""

from __future__ import annotations

import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from incidents.errors import ConfigError
from incidents.sql import identifiers
from incidents.sql.template_cache import bytecode_cache
from incidents.sql.text import ConfigText, UnsafeValue, dollar_quoted, literal


def finalize(value: Any) -> Any:
    """Applied to everything a template prints: text straight from config must go through
    `| literal` or `| ident`, so a forgotten filter is an error, never SQL."""
    if isinstance(value, ConfigText):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise UnsafeValue(f"a template prints the config value {shown!r} as SQL; pass it through "
                          "`| literal` (values) or `| ident` (names)")
    return value


@lru_cache(maxsize=8)
def environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # SQL, not HTML: values are escaped by `literal`
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=finalize,
        bytecode_cache=bytecode_cache(),  # compiled templates kept between runs (incidents.sql.template_cache)
    )
    env.filters["ident"] = identifiers.quote
    env.filters["literal"] = literal
    env.filters["sqltype"] = str
    env.filters["dollar_quoted"] = dollar_quoted
    return env


def render_template(templates_dir: Path, name: str, /, **context: Any) -> str:
    """Render one template; every mistake in it becomes a ConfigError naming the template (and the
    line, where Jinja knows it), never a traceback."""
    try:
        template = environment(templates_dir).get_template(name)
        return template.render(**context)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"template not found: {exc.name}", file=f"templates/{name}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template syntax error: {exc.message}", file=f"templates/{exc.name or name}",
                          line=exc.lineno) from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template uses an undefined value: {exc.message}", file=f"templates/{name}",
                          line=_template_line(exc, templates_dir)) from None
    except ValueError as exc:  # identifier or literal validation inside the template
        raise ConfigError(str(exc), file=f"templates/{name}", line=_template_line(exc, templates_dir)) from None
    except RecursionError:
        raise ConfigError("the template includes or calls itself without end; remove the cycle",
                          file=f"templates/{name}") from None
    except (ArithmeticError, TypeError, LookupError, AttributeError, jinja2.TemplateError) as exc:
        raise ConfigError(f"template fails to render: {type(exc).__name__}: {exc}", file=f"templates/{name}",
                          line=_template_line(exc, templates_dir)) from None


def _template_line(exc: BaseException, templates_dir: Path) -> int | None:
    """The line of the innermost template frame (Jinja maps its frames to template lines)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(str(templates_dir))]
    return frames[-1].lineno if frames else None
