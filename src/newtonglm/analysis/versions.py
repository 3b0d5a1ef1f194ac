"""``show_versions()``: what a bug report needs to know about this installation.

scikit-learn's convention: the versions of Python, the package and its dependencies, and the
machine facts that change results or speed — here whether the compiled kernel is in use (a
build without a C compiler falls back to the NumPy/BLAS path, several times slower) and which
BLAS runs the linear algebra, on how many threads.
"""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ..engine import gram

__all__ = ["DEPENDENCIES", "show_versions", "versions"]

#: Runtime dependencies first, then the optional ones (None when not installed).
DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "formulaic",
    "scikit-learn",
    "threadpoolctl",
    "narwhals",
    "statsmodels",
    "dask",
    "matplotlib",
    "polars",
    "pyarrow",
)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _blas() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    return [
        {
            "api": info.get("internal_api"),
            "version": info.get("version"),
            "threads": info.get("num_threads"),
            "library": info.get("filepath"),
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def versions() -> dict[str, Any]:
    """The facts :func:`show_versions` prints, as a dictionary.

    Returns
    -------
    dict
        ``python``, ``platform``, ``newtonglm``, ``dependencies`` (name → version or None),
        ``compiled_kernel`` (bool) with ``kernel`` (the compiled module's file, or a note on
        the fallback), and ``blas`` (one entry per BLAS loaded: api, version, threads,
        library).
    """
    compiled = gram.compiled()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "newtonglm": _version("newtonglm") or "0+unknown",
        "dependencies": {name: _version(name) for name in DEPENDENCIES},
        "compiled_kernel": compiled is not None,
        "kernel": getattr(compiled, "__file__", None)
        if compiled is not None
        else "NumPy/BLAS fallback (built without a C compiler)",
        "blas": _blas(),
    }


def show_versions() -> None:
    """Print the versions of newtonglm and its dependencies, the kernel and the BLAS in use.

    Paste the output into a bug report. The facts are those of :func:`versions`.
    """
    facts = versions()
    lines = [
        "System:",
        f"    python: {facts['python']}",
        f"  platform: {facts['platform']}",
        "",
        "newtonglm:",
        f"   version: {facts['newtonglm']}",
        f"    kernel: {'compiled' if facts['compiled_kernel'] else 'fallback'} ({facts['kernel']})",
        "",
        "Dependencies:",
    ]
    width = max(len(name) for name in DEPENDENCIES)
    for name, ver in facts["dependencies"].items():
        lines.append(f"  {name:>{width}}: {ver if ver is not None else 'not installed'}")
    lines += ["", "BLAS:"]
    if not facts["blas"]:
        lines.append("  none found by threadpoolctl")
    for info in facts["blas"]:
        lines.append(
            f"  {info['api']} {info['version']}, {info['threads']} threads ({info['library']})"
        )
    print("\n".join(lines))
