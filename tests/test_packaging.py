"""The kit as students and hubs install it: a wheel that carries its data, and the notebooks' install cell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tools.build_notebooks import INSTALL_CELL, KIT_SOURCE

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "cnnviz_helpers", "data")


def _run(cmd: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd`` without this session's ``PYTHONPATH`` (which points at the checkout); assert it succeeds."""
    env = env or {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_the_wheel_carries_its_data_and_runs_a_notebook_outside_the_repo(tmp_path):
    src = tmp_path / "src"  # a clean copy: no stale build/ folder can leak into the wheel
    src.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "downloads"))
        else:
            shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", src])
    (wheel,) = (tmp_path / "dist").glob("cnnviz-*.whl")

    venv = tmp_path / "venv"  # a fresh environment outside the repository …
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel])
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # … that reuses this environment's torch, Jupyter and pytest (added after the install, so pip never sees them)
    (site / "zz_reuse_dependencies.pth").write_text(str(Path(torch.__file__).parents[1]) + "\n")

    work = tmp_path / "class"  # notebooks in any directory
    work.mkdir()
    shutil.copy2(ROOT / "solutions" / "00_setup.ipynb", work)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(CNNVIZ_OFFLINE="1", CNNVIZ_FAST="1", MPLBACKEND="Agg", CNNVIZ_DATA=str(tmp_path / "cache"), PYTHONNOUSERSITE="1")
    check = (
        "import cnnviz_helpers, sys\n"
        "from cnnviz_helpers import load_image, load_model\n"
        "from cnnviz_helpers.fast_style import load_fast_style\n"
        "assert cnnviz_helpers.__file__.startswith(sys.argv[1]), cnnviz_helpers.__file__\n"
        "km = load_model()\n"
        "assert km.name == 'shapesnet' and load_image('chelsea').size == (451, 300)\n"
        "assert load_model('shapesnet_shortcut').name == 'shapesnet_shortcut'  # its weights and card are in the wheel\n"
        "print(len(load_fast_style().style_names), 'styles')\n"
        "from cnnviz_helpers import set_language\n"
        "from cnnviz_helpers.core.i18n import _\n"
        "from cnnviz_helpers.ui.plotting import CJK_FONT\n"
        "set_language('zh')\n"
        "assert _('Stop') == '停止' and CJK_FONT.is_file() and CJK_FONT.with_name('OFL.txt').is_file()\n"
    )
    out = _run([python, "-c", check, site], cwd=work, env=env).stdout
    assert "CNNVIZ_OFFLINE is set" in out and "styles" in out
    _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "00_setup.ipynb"], cwd=work, env=env)


def test_install_cell_installs_only_where_the_kit_is_missing(monkeypatch):
    import importlib.util

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    exec(INSTALL_CELL, {})  # the kit is importable here (`make lab`, `make test`): nothing happens
    assert calls == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # Colab: not installed yet
    exec(INSTALL_CELL, {})
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", KIT_SOURCE]]


def test_every_notebook_starts_with_the_install_cell():
    import nbformat

    for folder in ("solutions", "notebooks"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
            assert first.source == INSTALL_CELL, f"{path.name}: run `make notebooks`"


def test_the_presenting_extra_is_the_deck_the_browser_test_checks():
    """`presenting` installs jupyterlab-slideshow (live widgets on slides), never jupyterlab_rise (widgets as
    text), at a release the extra accepts, pinned in constraints.txt; an installed one is that release."""
    from importlib.metadata import distributions

    import tomllib
    from packaging.requirements import Requirement

    extra = {
        Requirement(r).name: Requirement(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["presenting"]
    }
    pins = {
        Requirement(line).name: Requirement(line)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert "jupyterlab-rise" not in extra and "jupyterlab_rise" not in extra
    (pinned,) = pins["jupyterlab-slideshow"].specifier
    assert pinned.operator == "==" and extra["jupyterlab-slideshow"].specifier.contains(pinned.version)
    installed = {d.metadata["Name"].lower(): d.version for d in distributions()}
    assert installed.get("jupyterlab-slideshow", pinned.version) == pinned.version  # `make test` installs it
