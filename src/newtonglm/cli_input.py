"""The command line's CSV reader: a table the fit can trust, or one line saying what is wrong.

Every cell is read as text and each column is then decided once: numbers (every non-empty cell
parses), text (a factor for the formula), or a numeric column with stray text in it — an error
naming the column, the value and its CSV line, or with ``--missing drop`` those cells become
missing values and are counted. Ragged rows, an empty file, the wrong delimiter and bytes that
are not in the file's encoding are errors in the same words.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import NewtonGLMError

__all__ = ["Table", "read_table"]

#: A column is numeric with stray text when at least this share of its filled cells parse.
NUMERIC_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file as the fit reads it."""

    #: The data, numeric columns as float64, text columns as strings.
    frame: pd.DataFrame
    #: Cells of numeric columns that held text and were set missing (``--missing drop``).
    n_stray: int


def _text(path: str, encoding: str) -> str:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise NewtonGLMError(f"cannot read {path!r}: {exc.strerror or exc}.") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise NewtonGLMError(
            f"{path!r} is not {encoding} text: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} cannot be decoded; pass --encoding with the file's encoding (e.g. "
            "--encoding latin-1)."
        ) from None
    except LookupError:
        raise NewtonGLMError(f"--encoding {encoding!r} is not an encoding Python knows.") from None
    if not text.strip():
        raise NewtonGLMError(f"{path!r} is empty: it needs a header row and rows of data.")
    return text


def _records(path: str, text: str, sep: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    header = rows[0]
    if len(header) == 1 and len(rows) > 1:
        guess = next((c for c in ";\t|," if c != sep and c in header[0]), None)
        if guess is not None:
            raise NewtonGLMError(
                f"{path!r} has one column, {header[0]!r}, with {sep!r} as the delimiter: is it "
                f"separated by {guess!r}? Pass --sep {guess!r}."
            )
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise NewtonGLMError(
                f"{path!r} line {line} has {len(row)} fields but the header has "
                f"{len(header)}; every row needs one value per column (empty for missing)."
            )
    if len(rows) == 1:
        raise NewtonGLMError(f"{path!r} has a header row but no data rows.")
    return rows


def read_table(
    path: str, *, sep: str = ",", encoding: str = "utf-8", missing: str = "raise"
) -> Table:
    """Read ``path`` (``-`` is standard input) as a :class:`Table` (see the module docstring)."""
    if path == "-":
        import sys

        text = sys.stdin.read()
        if not text.strip():
            raise NewtonGLMError("standard input is empty: it needs a header row and data.")
    else:
        text = _text(path, encoding)
    rows = _records(path, text, sep)
    header, body = rows[0], rows[1:]
    frame = pd.DataFrame(body, columns=[h.strip() for h in header], dtype=object)
    n_stray = 0
    for col in frame.columns:
        cells = frame[col].str.strip()
        empty = cells.isin(["", "NA", "NaN", "nan", "null", "NULL"])
        numbers = pd.to_numeric(cells.where(~empty), errors="coerce")
        filled = int((~empty).sum())
        stray = ~empty & numbers.isna()
        if filled and not stray.any():
            # Whole numbers without gaps stay integers (as pandas reads them), so that a
            # factor C(district) of 1, 2, 3 names its levels "2", not "2.0".
            frame[col] = pd.to_numeric(cells) if not empty.any() else numbers.astype(np.float64)
        elif filled and (filled - int(stray.sum())) >= NUMERIC_SHARE * filled:
            first = int(np.flatnonzero(stray.to_numpy())[0])
            if missing != "drop":
                raise NewtonGLMError(
                    f"column {col!r} is numeric but line {first + 2} holds {cells.iloc[first]!r} "
                    f"({int(stray.sum())} such cells); correct it, or pass --missing drop to "
                    "treat such cells as missing."
                )
            n_stray += int(stray.sum())
            frame[col] = numbers.astype(np.float64)
        else:
            frame[col] = cells.where(~empty, None)
    return Table(frame, n_stray)
