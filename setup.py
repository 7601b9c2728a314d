"""Build hook: the wheel carries the kit's shipped data.

The repository keeps its data in the top-level ``data/`` (sample images, ShapesNet and fast-style weights,
model cards: the training scripts write there and the README links there). A wheel has no top level, so
the build copies ``data/`` into the package as ``cnnviz_helpers/data``, where
``cnnviz_helpers.core.images.DATA_DIR`` finds it through ``importlib.resources``. Editable installs and
checkouts read ``data/`` directly. Everything else is configured in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOT_SHIPPED = shutil.ignore_patterns("downloads", "*.part", ".*")  # downloads live in the user's data cache


class build_py_with_data(build_py):
    """``build_py`` that also copies ``data/`` (less downloads) to ``<build>/cnnviz_helpers/data``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads data/ in place
            return
        src, dest = Path(__file__).parent / "data", Path(self.build_lib) / "cnnviz_helpers" / "data"
        shutil.copytree(src, dest, ignore=NOT_SHIPPED, dirs_exist_ok=True)


setup(cmdclass={"build_py": build_py_with_data})
