"""The package's folders are its architecture: this test enforces who may import whom.

Layers (README, "Package layout"):  core / engines / datasets  <-  section methods  <-  ui, training, grading.
``grading`` (the graded exercises' checks) may import the foundation and the section methods; no other
layer imports it.
A section method may use another section's *method* only where the lecture composes them
(guided Grad-CAM = Grad-CAM x guided backprop; sanity checks test the attribution methods; Gatys' style
transfer adds a content loss to texture synthesis' Gram losses; fast style transfer trains with Gatys'
losses); helpers shared by several methods belong in core.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "cnnviz_helpers"
FOUNDATION = {"core", "engines", "datasets"}
SECTIONS = {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
#: method -> methods it may import (lecture compositions, each with its reason in the module docstring)
METHOD_EDGES = {
    "gradcam": {"guided_backprop"},
    "sanity": {"saliency", "gradcam", "guided_backprop"},
    "fast_style": {"style_transfer", "texture_synthesis"},
    "style_transfer": {"texture_synthesis"},
    "patches": set(),
}
UI_ONLY = ("matplotlib", "ipywidgets", "IPython")


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        out.append((".".join(("cnnviz_helpers",) + rel.parts), path))
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__init__":
        return "package"
    if parts[1] in SECTIONS:
        return "section"
    return parts[1]  # core, engines, datasets, ui, training


def _imports(module: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import statement of ``path``."""
    tree = ast.parse(path.read_text())
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    top_level = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            targets = [name] if node.module else [f"{name}.{a.name}" for a in node.names]
            found += [(t, id(node) in top_level) for t in targets]
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in top_level) for a in node.names]
    return found


def _violations() -> list[str]:
    bad = []
    for module, path in _modules():
        layer = _layer(module)
        for target, at_top in _imports(module, path):
            if target.startswith(UI_ONLY) and at_top and layer not in ("ui",):
                bad.append(f"{module} imports {target} at module level (UI libraries live in cnnviz_helpers.ui)")
            if not target.startswith("cnnviz_helpers."):
                continue
            tlayer = _layer(target)
            tname = target.split(".")[1]
            if layer in FOUNDATION and tlayer not in FOUNDATION:
                bad.append(f"{module} ({layer}) imports {target}: the core imports no method, UI or training code")
            elif layer == "section" and tlayer in ("ui", "training"):
                bad.append(f"{module} (a lecture method) imports {target}: methods never import the UI or training scripts")
            elif layer == "section" and tlayer == "section":
                me = module.split(".")[1]
                if tname != me and tname not in METHOD_EDGES.get(me, set()):
                    bad.append(f"{module} imports the sibling method module {target}: move shared helpers into core")
            elif layer == "ui" and tlayer == "training":
                bad.append(f"{module} (UI) imports training script {target}")
            if tlayer == "grading" and layer != "grading":
                bad.append(f"{module} ({layer}) imports {target}: nothing but the notebooks' checks uses the grading layer")
            elif layer == "grading" and tlayer in ("ui", "training"):
                bad.append(f"{module} (grading) imports {target}: checks run without the UI or training code")
    return bad


def test_layers_import_only_downwards():
    assert _violations() == []


def test_every_module_is_in_a_known_layer():
    layers = {_layer(m) for m, _ in _modules()}
    assert layers <= {"package", "section", "core", "engines", "datasets", "ui", "training", "grading"}, layers


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from ..ui.widgets import live_image", "methods never import the UI"),
        ("from .saliency import saliency_map", "sibling method module"),
        ("import matplotlib", "UI libraries"),
        ("from .grading import check", "grading layer"),
    ],
)
def test_rule_checker_catches_violations(tmp_path, monkeypatch, source, expected):
    """The checker itself can fail: plant a bad import in a fake section module."""
    fake = PKG / "deepdream.py"
    original = fake.read_text()
    planted = original + "\n" + source.replace("..ui", ".ui") + "\n"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: planted if self == fake else original_read(self, *a, **k))
    assert any(expected in v for v in _violations())


original_read = Path.read_text


def test_old_import_paths_still_work():
    import importlib
    import warnings

    for old, new in [
        ("models", "core.models"),
        ("widgets", "ui.widgets"),
        ("shapes", "datasets.shapes"),
        ("receptive_field", "engines.receptive_field"),
    ]:
        assert importlib.import_module(f"cnnviz_helpers.{old}") is importlib.import_module(f"cnnviz_helpers.{new}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from cnnviz_helpers.occlusion import occlusion_widget  # noqa: F401  (moved to ui.sections)
    assert any(issubclass(w.category, DeprecationWarning) and "ui.sections" in str(w.message) for w in caught)
