"""Vectorised column builders: numpy arrays in, pandas/Arrow columns the loaders accept out.

Strings are Arrow-backed (no Python objects per row: fakesnow's write_pandas would json-probe
every object cell); timestamps are whole seconds, so no float rounding can differ between runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NEVER = np.int64(2**62)  # "has not happened": compares after every real time


def lookup(values: Sequence[str], index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """values[index] as an Arrow string array, NULL where mask is False, without per-row Python."""
    indices = pa.array(np.asarray(index, dtype=np.int32), mask=None if mask is None else ~mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(values), pa.string())).dictionary_decode()


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise string concatenation of arrays and constants."""
    return pc.binary_join_element_wise(*parts, "")


def int_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(int_text(values), width, "0")


def when(mask: np.ndarray, then: pa.Array | str, otherwise: pa.Array | str) -> pa.Array:
    return pc.if_else(pa.array(mask), then, otherwise)


def text(array: pa.Array) -> pd.arrays.ArrowExtensionArray:
    return pd.arrays.ArrowExtensionArray(array)


def strings(values: Sequence[str | None]) -> pd.arrays.ArrowExtensionArray:
    return pd.arrays.ArrowExtensionArray(pa.array(list(values), pa.string()))


def timestamps(seconds: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Seconds since the epoch -> datetime64[us]; NaT (NULL) where not present or NEVER."""
    seconds = np.asarray(seconds, dtype=np.int64)
    ok = seconds < NEVER if present is None else present & (seconds < NEVER)
    micros = np.where(ok, seconds * 1_000_000, np.iinfo(np.int64).min)
    return micros.view("datetime64[us]")


def nullable_int(values: np.ndarray, present: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.where(present, values, 0).astype(np.int64), ~present)


def nullable_bool(values: np.ndarray, present: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(np.where(present, values, False).astype(bool), ~present)


def choose(rng: np.random.Generator, cumulative: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One index per element of rows, drawn from cumulative[rows] (a 2-D cumulative table)."""
    u = rng.random(len(rows))
    return (u[:, None] >= cumulative[rows]).sum(axis=1).clip(0, cumulative.shape[1] - 1)


def choose1(rng: np.random.Generator, cumulative: np.ndarray, n: int) -> np.ndarray:
    """n indices drawn from one 1-D cumulative table."""
    return np.searchsorted(cumulative, rng.random(n), side="right").clip(0, len(cumulative) - 1)


def cumulative(probabilities: Sequence[Sequence[float]] | Sequence[float] | np.ndarray) -> np.ndarray:
    """Normalised cumulative probabilities along the last axis; the last column is exactly 1."""
    p = np.asarray(probabilities, dtype=float)
    c = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    c[..., -1] = 1.0
    return c


def lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(n))


def frame(columns: dict[str, object]) -> pd.DataFrame:
    """A DataFrame with upper-case column names (Snowflake's unquoted identifiers)."""
    return pd.DataFrame({name.upper(): value for name, value in columns.items()}, copy=False)
