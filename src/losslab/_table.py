"""Reading a CSV for the command line: numeric features, a target of numbers or labels.

One reader for every command (``fit``, ``recommend``, ``search``), with errors that say
what is wrong with the file and how to fix it.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
import numpy as np

from ._validate import suggest

__all__ = ["read_csv"]

#: Cells read as missing values (an error: losslab does not guess values).
MISSING = ("", "na", "nan", "null", "none")
#: Integers beyond this are not exact in float64; such a target stays float.
EXACT_INTEGER = 2.0**53


def read_csv(path: str | os.PathLike, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(X, y, feature_names)`` of a comma-separated file with a header row.

    Every column but ``target`` is a numeric feature; the target holds numbers (integers
    are returned as int64 when they are exact, |y| < 2**53) or class labels (strings). A
    UTF-8 byte-order mark is skipped. A file that looks ``;``- or tab-separated gets a hint.
    """
    text = os.fspath(path)
    file = Path(text)
    if file.is_dir():
        raise ValueError(f"DATA {text!r} is a folder; give a CSV file")
    if not file.is_file():
        raise ValueError(f"DATA file {text!r} does not exist")
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise ValueError(f"{text!r} is not UTF-8 text; save it as a UTF-8 CSV") from None
    except csv.Error as exc:
        raise ValueError(f"{text!r} is not a readable CSV: {exc}") from None
    try:
        return _columns(text, rows, target)
    except ValueError as exc:
        raise ValueError(f"{exc}{_separator_hint(rows)}") from None


def _columns(path: str, rows: list[list[str]], target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if len(rows) < 2:
        raise ValueError(f"{path!r} needs a header row and at least one data row; it has {len(rows)} row(s)")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise ValueError(f"--target {target!r} is not a column of {path!r}.{suggest(target, header)} Columns:"
                         f" {', '.join(header)}")
    if len(set(header)) != len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"{path!r} has the column name {twice[0]!r} more than once; column names must differ")
    data = rows[1:]
    for line, row in enumerate(data, 2):
        if len(row) != len(header):
            raise ValueError(f"{path!r} line {line} has {len(row)} fields; the header has {len(header)}")
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        cells = [row[j].strip() for row in data]
        missing = [i for i, c in enumerate(cells) if c.lower() in MISSING]
        if missing:
            raise ValueError(f"column {name!r} has a missing value on line {missing[0] + 2} ({len(missing)} in all);"
                             " fill or drop those rows first")
        numbers = _numbers(cells)
        if numbers is not None:
            columns[name] = numbers
        elif name == target:
            columns[name] = np.array(cells)  # class labels
        else:
            bad = next(i for i, c in enumerate(cells) if _number(c) is None)
            raise ValueError(f"column {name!r} is not numeric ({cells[bad]!r} on line {bad + 2}); features must be"
                             " numbers: encode or drop that column")
    features = [h for h in header if h != target]
    if not features:
        raise ValueError(f"{path!r} has no feature columns besides the target {target!r}")
    bad_features = [h for h in features if not np.all(np.isfinite(columns[h]))]
    if bad_features:
        raise ValueError(f"column {bad_features[0]!r} holds inf or a number too large for float64; features must be"
                         " finite")
    y = columns[target]
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"the target {target!r} holds inf or a number too large for float64")
        if np.all(y == np.round(y)) and np.max(np.abs(y), initial=0.0) < EXACT_INTEGER:
            y = y.astype(np.int64)
    return np.column_stack([columns[h] for h in features]), y, features


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numbers(cells: list[str]) -> np.ndarray | None:
    values = [_number(c) for c in cells]
    if any(v is None for v in values):
        return None
    return np.array(values, dtype=float)


def _separator_hint(rows: list[list[str]]) -> str:
    first = ",".join(rows[0]) if rows else ""
    if first.count(";") > first.count(","):
        return (" (The file looks ';'-separated; losslab reads comma-separated files. Convert it, e.g. with"
                " python -c \"import pandas as pd; pd.read_csv('in.csv', sep=';').to_csv('out.csv', index=False)\".)")
    if first.count("\t") > first.count(","):
        return " (The file looks tab-separated; losslab reads comma-separated files.)"
    return ""

