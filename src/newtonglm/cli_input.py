"""The command line's CSV reader: a table the fit can trust, or one line saying what is wrong.

Every cell is read as text and each column is then decided once: numbers (every non-empty cell
parses), text (a factor for the formula), or a numeric column with stray text in it — an error
naming the column, the value and its CSV line, or with ``--missing drop`` those cells become
missing values and are counted. Ragged rows, an empty file, the wrong delimiter, repeated
column names and bytes that are not in the file's encoding are errors in the same words.

Line numbers are those of the file (line 1 is the header's first line): a record's line is the
one it starts on, so blank lines and quoted fields spanning lines do not shift them. The table
keeps the line of each data row (:attr:`Table.lines`), so row ``r`` of the fit is reported as
line ``Table.lines[r]``.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import NewtonGLMError

__all__ = ["Stray", "Table", "read_table"]

#: A column is numeric with stray text when at least this share of its filled cells parse.
NUMERIC_SHARE = 0.5
#: Spellings of a tab a shell passes on as they are.
SEP_NAMES = {"tab": "\t", "\\t": "\t"}


@dataclass(frozen=True, slots=True)
class Stray:
    """Text cells of one numeric column, read as missing (``--missing drop``)."""

    #: The column's name.
    column: str
    #: How many of its cells held text.
    count: int
    #: The first such cell, as written.
    value: str
    #: The CSV line of that cell.
    line: int


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file as the fit reads it."""

    #: The data, numeric columns as float64, text columns as strings.
    frame: pd.DataFrame
    #: The CSV line (1-based, the header being line 1) on which each data row starts.
    lines: tuple[int, ...]
    #: Numeric columns whose text cells were set missing (``--missing drop``), in file order.
    stray: tuple[Stray, ...] = ()

    @property
    def n_stray(self) -> int:
        """Cells of numeric columns that held text and were set missing."""
        return sum(s.count for s in self.stray)


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


def _records(path: str, text: str, sep: str) -> tuple[list[list[str]], list[int]]:
    """The non-blank records of ``text`` and the line each starts on."""
    sep = SEP_NAMES.get(sep, sep)
    if len(sep) != 1:
        raise NewtonGLMError(
            f"--sep {sep!r} is not one character; the delimiter is a single character such as "
            "',' ';' '|' or a tab (--sep tab)."
        )
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=sep)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise NewtonGLMError(
            f"{path!r} line {start} cannot be read as CSV with delimiter {sep!r}: {exc}."
        ) from None
    if not rows:
        raise NewtonGLMError(f"{path!r} is empty: it needs a header row and rows of data.")
    header = rows[0]
    if len(header) == 1 and len(rows) > 1:
        guess = next((c for c in ";\t|," if c != sep and c in header[0]), None)
        if guess is not None:
            raise NewtonGLMError(
                f"{path!r} has one column, {header[0]!r}, with {sep!r} as the delimiter: is it "
                f"separated by {guess!r}? Pass --sep {'tab' if guess == chr(9) else repr(guess)}."
            )
    names = [h.strip() for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise NewtonGLMError(
            f"{path!r} names column(s) {repeated} more than once in its header; every column "
            "needs its own name."
        )
    for line, row in zip(lines[1:], rows[1:], strict=True):
        if len(row) != len(header):
            raise NewtonGLMError(
                f"{path!r} line {line} has {len(row)} fields but the header has "
                f"{len(header)}; every row needs one value per column (empty for missing)."
            )
    if len(rows) == 1:
        raise NewtonGLMError(f"{path!r} has a header row but no data rows.")
    return rows, lines


def _stdin(encoding: str) -> str:
    """Standard input as text, decoded with ``encoding`` when it is a byte stream."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # already text (a replaced sys.stdin)
        text = sys.stdin.read()
    else:
        data = raw.read()
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise NewtonGLMError(
                f"standard input is not {encoding} text: byte 0x{data[exc.start]:02x} at "
                f"offset {exc.start} cannot be decoded; pass --encoding with its encoding."
            ) from None
        except LookupError:
            raise NewtonGLMError(
                f"--encoding {encoding!r} is not an encoding Python knows."
            ) from None
    if not text.strip():
        raise NewtonGLMError("standard input is empty: it needs a header row and data.")
    return text


def read_table(
    path: str, *, sep: str = ",", encoding: str = "utf-8", missing: str = "raise"
) -> Table:
    """Read ``path`` (``-`` is standard input) as a :class:`Table` (see the module docstring)."""
    text = _stdin(encoding) if path == "-" else _text(path, encoding)
    rows, lines = _records("<stdin>" if path == "-" else path, text, sep)
    header, body, body_lines = rows[0], rows[1:], lines[1:]
    frame = pd.DataFrame(body, columns=[h.strip() for h in header], dtype=object)
    stray_cols: list[Stray] = []
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
            found = Stray(str(col), int(stray.sum()), str(cells.iloc[first]), body_lines[first])
            if missing != "drop":
                raise NewtonGLMError(
                    f"column {found.column!r} is numeric but line {found.line} holds "
                    f"{found.value!r} ({found.count} such cells); correct it, or pass "
                    "--missing drop to treat such cells as missing."
                )
            stray_cols.append(found)
            frame[col] = numbers.astype(np.float64)
        else:
            frame[col] = cells.where(~empty, None)
    return Table(frame, tuple(body_lines), tuple(stray_cols))
