"""Build hooks: the optional compiled Gram kernel, and the shipped datasets as package data.

``newtonglm._gram`` (``src/newtonglm/_gram.c``) is optional: where it cannot be compiled (no C
compiler), the install goes on without it and ``newtonglm.kernel`` uses its NumPy/BLAS path.

Build hook: copy the top-level ``datasets/`` folder into the wheel as package data.

``datasets/`` is the single source of the shipped CSVs; ``newtonglm.datasets.load`` reads them
through ``importlib.resources`` from ``newtonglm/data`` in an installed wheel, and falls back to
the repository's ``datasets/`` folder in an editable install.
"""

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py


class BuildPyWithDatasets(build_py):
    """``build_py`` that also copies ``datasets/*.csv`` and its README into the package."""

    def run(self) -> None:  # noqa: D102
        super().run()
        source = Path(__file__).resolve().parent / "datasets"
        target = Path(self.build_lib) / "newtonglm" / "data"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(source.iterdir()):
            if path.suffix in {".csv", ".md"}:
                shutil.copy2(path, target / path.name)


setup(
    cmdclass={"build_py": BuildPyWithDatasets},
    ext_modules=[
        Extension(
            "newtonglm._gram",
            sources=["src/newtonglm/_gram.c"],
            depends=[
                "src/newtonglm/_gram_simd.h",
                "src/newtonglm/_gram_tiles.h",
                "src/newtonglm/_gram_rows.h",
                "src/newtonglm/_gram_packed.h",
            ],
            extra_compile_args=["-O3", "-Wno-psabi"],
            optional=True,
        )
    ],
)
