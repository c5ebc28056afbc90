"""Builds relustep with its data: the top-level ``data/`` folder, the one source of truth, is
copied into the built package as ``relustep/_data`` so that an installed relustep (a wheel, or
``pip install .``) finds it. The loaders check every file's sha256 as before; an editable install
keeps reading ``data/`` in the checkout."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = Path(__file__).resolve().parent / "data"
SKIPPED = ("build.py", "__pycache__")  # the script that rebuilds the data is not data


class BuildWithData(build_py):
    """``build_py``, then ``data/`` copied into ``<build>/relustep/_data``."""

    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "relustep" / "_data"
        for source in sorted(DATA.rglob("*")):
            relative = source.relative_to(DATA)
            if source.is_dir() or any(part in SKIPPED for part in relative.parts):
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / relative)


setup(cmdclass={"build_py": BuildWithData})
