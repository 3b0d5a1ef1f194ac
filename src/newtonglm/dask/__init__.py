"""The Dask wing: designs whose rows stay in the chunks of Dask collections.

Imported only when a Dask input is seen (by ``estimators.inputs``), so Dask stays optional.
``matrix`` is the Dask design matrix and its row sums; ``executor`` runs the engine's passes on
every chunk and registers itself for that matrix type; ``inputs`` and ``formula`` validate Dask
arrays and DataFrames into a design; ``predict`` gives lazy predictions.
"""

from __future__ import annotations

from . import executor as executor  # registers the Dask executor for DaskMatrix
from .matrix import DaskMatrix

__all__ = ["DaskMatrix"]
