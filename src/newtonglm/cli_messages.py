"""The library's messages in the command line's words.

The estimator speaks Python: ``missing='drop'``, ``sample_weight``, ``max_iter``, and 0-based
positions of the rows it was given ("first at row 5", "rows 3, 7"). :func:`translate` rewrites
one message for the command line: parameters become flags (``--missing drop``, ``--weights
'trials'`` with the column the user named, ``--max-iter``) and row positions become CSV lines
(row r is the line it starts on, ``r + 2`` in a file without blank lines or quoted line breaks,
line 1 being the header). Text in quotes — column names, values — is never rewritten, and a
message already in these words comes out as it went in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Context", "translate"]


@dataclass(frozen=True, slots=True)
class Context:
    """What a message is translated against: the columns given as flags, the rows' lines."""

    #: Column of ``--weights`` (the library's ``sample_weight``), or None.
    weights: str | None = None
    #: Column of ``--offset``, or None.
    offset: str | None = None
    #: Column of ``--exposure``, or None.
    exposure: str | None = None
    #: Column of ``--groups``, or None.
    groups: str | None = None
    #: The CSV line of each data row (``Table.lines``); rows beyond it count from line 2.
    lines: tuple[int, ...] = ()

    def line(self, row: int) -> int:
        """The CSV line of the 0-based data row ``row``."""
        return self.lines[row] if 0 <= row < len(self.lines) else row + 2

    def column(self, param: str) -> str | None:
        """The column the user gave for the fit parameter ``param``, if any."""
        if param == "offset":
            # The library's offset is log(exposure) when only --exposure was given.
            return self.offset if self.offset is not None else self.exposure
        roles = {"sample_weight": self.weights, "exposure": self.exposure, "groups": self.groups}
        return roles.get(param)


#: Estimator parameter → command-line flag.
FLAGS = {
    "missing": "--missing",
    "on_rank_deficient": "--on-rank-deficient",
    "separation": "--separation",
    "scale": "--scale",
    "cov_type": "--cov-type",
    "family": "--family",
    "link": "--link",
    "solver": "--solver",
    "tol": "--tol",
    "max_iter": "--max-iter",
    "learning_rate": "--learning-rate",
    "sample_weight": "--weights",
    "offset": "--offset",
    "exposure": "--exposure",
    "groups": "--groups",
    "formula": "--formula",
}
#: Parameters that name a column on the command line.
COLUMN_PARAMS = ("sample_weight", "offset", "exposure", "groups")
#: Parameters whose value keeps its quotes on the command line (a column name, a formula).
QUOTED_PARAMS = (*COLUMN_PARAMS, "formula")
_PARAMS = "|".join(FLAGS)


def _role_count(m: re.Match[str], ctx: Context) -> str:
    column = ctx.column(m[1])
    return m[0] if column is None else f"{column!r} {m[2]}"


def _param_value(m: re.Match[str], ctx: Context) -> str:
    value = m[2]
    if m[1] in QUOTED_PARAMS:
        return f"{FLAGS[m[1]]} {value}"
    return f"{FLAGS[m[1]]} {value.strip(chr(39))}"


def _bare(m: re.Match[str], ctx: Context) -> str:
    """A parameter's name → its flag; a column's flag with the column given (or COL)."""
    param = m[1]
    if param not in COLUMN_PARAMS:
        return FLAGS[param]
    column = ctx.column(param)
    return f"{FLAGS[param]} {'COL' if column is None else repr(column)}"


def _rows(m: re.Match[str], ctx: Context) -> str:
    rows = m[3].split(", ")
    word = "line" if m[1] == "row" or (len(rows) == 1 and not m[2]) else "lines"
    shown = ", ".join(str(ctx.line(int(r))) for r in rows)
    return f"{word} {m[2]}{shown}"


Handler = Callable[[re.Match[str], Context], str]
#: (pattern, handler), tried left to right at each position of the message, first match wins.
RULES: tuple[tuple[str, Handler], ...] = (
    # 'sample_weight' (3 rows) in a list of columns: the column the user named.
    (r"'(sample_weight|offset)' (\(\d+ rows?\))", _role_count),
    # missing='drop', tol=1e-08, groups='firm'.
    (rf"""(?<![\w-])({_PARAMS})=('[^']*'|"[^"]*"|[-+\w.]+)""", _param_value),
    # exposure 'holders' must be > 0.
    (r"(?<![\w-])(exposure|offset) ('[^']*')", lambda m, ctx: f"{FLAGS[m[1]]} {m[2]}"),
    # Anything else quoted (column names, values) stays as it is.
    (r"""(?<!\w)'[^']*'(?!\w)|(?<!\w)"[^"]*"(?!\w)""", lambda m, ctx: m[0]),
    (r"(?<![\w-])(cov_type)/scale\b", lambda m, ctx: "--cov-type/--scale"),
    (r"(?<![\w-])(sample_weight|max_iter|learning_rate|on_rank_deficient|cov_type)\b", _bare),
    (r"(?<![\w(-])(tol)\b", _bare),
    (r"(?<![\w-])(scale|offset|exposure|groups)=(?![\w'])", _bare),
    (r"(?<![\w-])(groups|exposure|offset)(?= (?:has|must)\b)", _bare),
    (r"\b(rows?) (\[?)(\d+(?:, \d+)*)", _rows),
    (r"\bn_samples = (\d+)", lambda m, ctx: f"{m[1]} rows"),
    (r"\bllf_, aic_ and bic_", lambda m, ctx: "the log-likelihood, AIC and BIC"),
    (r"\bpass an offset instead\b", lambda m, ctx: "pass --offset COL instead"),
)
_COMPILED = tuple(re.compile(pattern) for pattern, _ in RULES)
_ANY = re.compile("|".join(f"(?P<r{i}>{pattern})" for i, (pattern, _) in enumerate(RULES)))


def translate(message: str, ctx: Context | None = None) -> str:
    """``message`` in the command line's words (see the module docstring), on one line."""
    ctx = Context() if ctx is None else ctx
    text = " ".join(str(message).split())

    def one(m: re.Match[str]) -> str:
        i = int(str(m.lastgroup)[1:])
        inner = _COMPILED[i].match(text, m.start())  # the rule's own groups
        return m[0] if inner is None else RULES[i][1](inner, ctx)

    return _ANY.sub(one, text)
