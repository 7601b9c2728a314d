"""tools/measure_notebooks.py, the hub-sizing tool of the README: it runs a notebook, reports it, and its
generated downloads are read by the kit's real Imagenette and painting code paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "measure_notebooks.py"


def test_measures_a_notebook_and_names_its_slowest_cells(tmp_path):
    out = tmp_path / "rows.jsonl"
    env = os.environ | {"CNNVIZ_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(TOOL), "13_summary", "--slowest", "2", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["notebook"] == "13_summary" and row["ok"] and row["mode"] == "offline"
    assert row["seconds"] > 0 and row["peak_mib"] > 10  # a kernel ran (its resident set is tens of MiB at least)
    assert "| `13_summary` |" in done.stdout
    assert len([line for line in done.stderr.splitlines() if "13_summary cell " in line]) == 2


def test_fake_downloads_are_read_by_the_kits_loaders(tmp_path, monkeypatch):
    from tools.measure_notebooks import fake_downloads

    cache = fake_downloads(per_class=2)
    monkeypatch.setenv("CNNVIZ_DATA", str(cache))
    from cnnviz_helpers.datasets.assets import ASSETS
    from cnnviz_helpers.datasets.image_sets import load_imagenette
    from cnnviz_helpers.datasets.imagenette import WNID_TO_IMAGENET
    from cnnviz_helpers.style import default_style, style_images

    assert default_style() == "starry_night"  # the first painting: the notebooks' default once downloaded
    styles = style_images()
    assert all(asset.name.removesuffix(".jpg") in styles for asset in ASSETS)
    names = [f"class {i}" for i in range(1000)]
    data = load_imagenette(names, 20, 64)
    assert len(data) == 20 and sorted(set(data.targets)) == sorted(WNID_TO_IMAGENET.values())
