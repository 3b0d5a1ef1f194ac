"""The small real datasets shipped with newtonglm (sources and licences in datasets/README.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from .exceptions import InvalidParameterError

__all__ = ["available", "load"]


def _data_dir() -> Path:
    # Installed wheel: package data copied from datasets/ by the build. Editable install or
    # source tree: the repository's datasets/ folder itself.
    packaged = Path(str(resources.files("newtonglm"))) / "data"
    if packaged.is_dir() and any(packaged.glob("*.csv")):
        return packaged
    return Path(__file__).resolve().parents[2] / "datasets"


def available() -> list[str]:
    """Names of the shipped datasets."""
    return sorted(p.stem for p in _data_dir().glob("*.csv"))


def load(name: str) -> pd.DataFrame:
    """Load a shipped dataset as a DataFrame.

    Parameters
    ----------
    name : str
        One of :func:`available`, e.g. ``"insurance"`` (counts with exposure), ``"pima"``
        (binary outcome), ``"menarche"`` (grouped binomial), ``"ships"``.

    Returns
    -------
    pandas.DataFrame
    """
    path = _data_dir() / f"{name}.csv"
    if not path.is_file():
        raise InvalidParameterError(
            f"no dataset called {name!r}; available datasets: {available()}."
        )
    return pd.read_csv(path)
