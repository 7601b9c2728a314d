"""The package's folders are its architecture: this test enforces who may import whom.

Layers (README, "Package layout"), lowest first — a module imports only its own layer or a lower one:

    core < datasets < models < engines < sections < methods < ui | training | grading

- ``core``: config, images, layers and hooks, priors, options; ``datasets``: the data the kit makes or
  downloads; ``models``: ``load_model``, ``KitModel``, targets, example images, the image set of a model;
  ``engines``: speed machinery (receptive fields, the occlusion engine, class scores and their shortcut);
  ``sections``: one module per lecture section; ``methods``: the method registry.
- ``ui``, ``training`` and ``grading`` sit side by side at the top: none of them imports another.
- The package's front door (``cnnviz_helpers/__init__.py``) re-exports core and models names, so it sits in
  the models layer.
- A section module may use another section's *method* only where the lecture composes them (guided
  Grad-CAM = Grad-CAM x guided backprop; sanity checks test the attribution methods; Gatys' style
  transfer adds a content loss to texture synthesis' Gram losses; fast style transfer trains with
  Gatys' losses): :data:`METHOD_EDGES`. Helpers shared by several sections belong lower down.

Every import counts, wherever it is written (module level, inside a function, under ``TYPE_CHECKING``).
No module imports through a string (``importlib.import_module``, ``__import__``, a kit module's name held
in a string), so every edge is visible here; there is no cycle between modules nor between packages; UI
libraries (matplotlib, ipywidgets, IPython) are imported at module level only in ``ui``.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "cnnviz_helpers"
#: the layers, lowest first; the names in one tuple are side by side (neither imports the other)
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("datasets",),
    ("models",),
    ("engines",),
    ("sections",),
    ("methods",),
    ("ui", "training", "grading"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
SUBPACKAGES = {"core", "datasets", "models", "engines", "ui", "training", "grading"}
FRONT_DOOR_LAYER = "models"  # cnnviz_helpers/__init__.py re-exports core and models names
#: section -> sections it may import (lecture compositions, each with its reason in the module docstring)
METHOD_EDGES = {
    "gradcam": {"guided_backprop"},
    "sanity": {"saliency", "gradcam", "guided_backprop"},
    "fast_style": {"style_transfer", "texture_synthesis"},
    "style_transfer": {"texture_synthesis"},
}
UI_ONLY = ("matplotlib", "ipywidgets", "IPython")
KIT_NAME = re.compile(r"^cnnviz_helpers(\.\w+)+(:\w+)?$")  # "cnnviz_helpers.ui.sections", "cnnviz_helpers.inversion:x"


# --------------------------------------------------------------------------------------------
# reading the package
# --------------------------------------------------------------------------------------------


def _sources() -> dict[str, str]:
    """Module name -> source of every module of the package (``cnnviz_helpers.core`` for core/__init__.py)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = ("cnnviz_helpers",) + path.relative_to(PKG).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text()
    return out


def _is_package(module: str, sources: dict[str, str]) -> bool:
    return module == "cnnviz_helpers" or f"{module}.__init__" in _packages(frozenset(sources))


@cache
def _packages(modules: frozenset[str]) -> set[str]:
    return {f"{m.rsplit('.', 1)[0]}.__init__" for m in modules if "." in m}


@cache
def _parse(source: str) -> ast.Module:
    return ast.parse(source)


def layer_of(module: str) -> str:
    """The layer of a kit module (``"unknown"`` for a subpackage no layer lists)."""
    parts = module.split(".")
    if len(parts) == 1:
        return FRONT_DOOR_LAYER
    if parts[1] == "methods":
        return "methods"
    if parts[1] in SUBPACKAGES:
        return parts[1]
    return "sections" if len(parts) == 2 else "unknown"


def package_of(module: str, sources: dict[str, str]) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to the package itself)."""
    return module if _is_package(module, sources) else module.rsplit(".", 1)[0]


def _docstrings(tree: ast.Module) -> set[int]:
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return {
        id(n.body[0].value)
        for n in nodes
        if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
    }


def _walk(node: ast.AST, runtime_top: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under ``node`` with whether it runs when the module is imported (not in a function body,
    not under ``if TYPE_CHECKING``)."""
    for child in ast.iter_child_nodes(node):
        top = runtime_top
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            top = False
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            top = False
        yield child, top
        yield from _walk(child, top)


def imports(module: str, source: str, sources: dict[str, str]) -> list[tuple[str, bool]]:
    """``(imported module, when the module is imported?)`` for every import statement of ``module``."""
    tree = _parse(source)
    package = module if _is_package(module, sources) else module.rsplit(".", 1)[0]
    found = []
    for node, top in _walk(tree, True):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:
                sub = f"{name}.{alias.name}"
                found.append((sub if sub in sources else name, top))
        elif isinstance(node, ast.Import):
            found += [(alias.name, top) for alias in node.names]
    return found


def string_imports(module: str, source: str) -> list[str]:
    """Imports through strings: ``importlib.import_module`` / ``__import__`` calls and kit module names in strings."""
    tree = _parse(source)
    skip = _docstrings(tree)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__"):
                bad.append(
                    f"{module} line {node.lineno} imports through a string ({ast.unparse(node)[:60]}): import the module itself"
                )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if KIT_NAME.match(node.value):
                bad.append(f"{module} line {node.lineno} holds the kit module name {node.value!r} in a string: import it instead")
    return bad


# --------------------------------------------------------------------------------------------
# the rules
# --------------------------------------------------------------------------------------------


def layer_violations(sources: dict[str, str]) -> list[str]:
    """Imports that go up the layer order, sideways at the top, or to a sibling section outside METHOD_EDGES."""
    bad = []
    for module, source in sources.items():
        layer = layer_of(module)
        if layer not in RANK:
            bad.append(f"{module} is in no layer: put it in one of {_order()} (and list a new subpackage here)")
        for target, at_import in imports(module, source, sources):
            if target.startswith(UI_ONLY) and at_import and layer != "ui":
                bad.append(f"{module} imports {target} at module level (UI libraries live in cnnviz_helpers.ui)")
            if target != "cnnviz_helpers" and not target.startswith("cnnviz_helpers."):
                continue
            tlayer = layer_of(target)
            if RANK.get(tlayer, -1) > RANK.get(layer, -1):
                bad.append(f"{module} ({layer}) imports {target} ({tlayer}), a higher layer: {_order()}")
            elif tlayer != layer and RANK.get(tlayer) == RANK.get(layer):
                bad.append(f"{module} ({layer}) imports {target} ({tlayer}): {layer} and {tlayer} sit side by side")
            elif layer == tlayer == "sections":
                me, other = module.split(".")[1], target.split(".")[1]
                if other != me and other not in METHOD_EDGES.get(me, set()):
                    bad.append(f"{module} imports the sibling section {target}: move what they share to a lower layer")
    return bad


def _order() -> str:
    return " < ".join(" | ".join(names) for names in LAYERS)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def import_graphs(sources: dict[str, str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The kit's import graph between modules and between packages (every import, wherever written)."""
    modules: dict[str, set[str]] = {m: set() for m in sources}
    packages: dict[str, set[str]] = {}
    for module, source in sources.items():
        for target, _ in imports(module, source, sources):
            if target in sources and target != module:
                modules[module].add(target)
                a, b = package_of(module, sources), package_of(target, sources)
                if a != b:
                    packages.setdefault(a, set()).add(b)
    return modules, packages


def violations(sources: dict[str, str]) -> list[str]:
    """Everything wrong with ``sources``' imports (empty when the architecture holds)."""
    bad = layer_violations(sources)
    for module, source in sources.items():
        bad += string_imports(module, source)
    modules, packages = import_graphs(sources)
    bad += [f"import cycle between modules: {' <-> '.join(c)}" for c in cycles(modules)]
    bad += [f"import cycle between packages: {' <-> '.join(c)}" for c in cycles(packages)]
    return bad


# --------------------------------------------------------------------------------------------
# the package as it is
# --------------------------------------------------------------------------------------------


def test_layers_are_a_strict_order():
    assert layer_violations(_sources()) == []


def test_no_import_through_strings():
    assert [v for m, s in _sources().items() for v in string_imports(m, s)] == []


def test_no_import_cycles_between_modules_or_packages():
    modules, packages = import_graphs(_sources())
    assert cycles(modules) == []
    assert cycles(packages) == []
    assert packages, "the package graph is empty: the checker sees no imports"


def test_every_module_is_in_a_known_layer():
    layers = {m: layer_of(m) for m in _sources()}
    assert {m: layer for m, layer in layers.items() if layer not in RANK} == {}
    assert {"core", "datasets", "models", "engines", "sections", "ui", "training", "grading"} <= set(layers.values())


def test_the_checker_sees_the_kits_real_edges():
    """Guards against a checker that passes because it resolves nothing."""
    sources = _sources()
    modules, _ = import_graphs(sources)
    assert "cnnviz_helpers.models.loading" in modules["cnnviz_helpers.models.targets"]
    assert "cnnviz_helpers.engines.score_shortcut" in modules["cnnviz_helpers.engines.scores"]
    assert "cnnviz_helpers.core.images" in modules["cnnviz_helpers.models.loading"]  # from ..core import images as im
    assert "cnnviz_helpers.occlusion" in modules["cnnviz_helpers.methods"]  # from . import (..., occlusion, ...)


def test_importing_the_kit_loads_no_ui_library():
    """A script, a grader or a test that imports the kit does not pay for matplotlib or ipywidgets."""
    loaded = "sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules)"
    code = f"import sys\nimport cnnviz_helpers\nprint({loaded})\nimport cnnviz_helpers.grading\nprint({loaded}, 'grading' in dir(cnnviz_helpers))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "[] True"], done.stdout + done.stderr


# --------------------------------------------------------------------------------------------
# the checker can fail: planted violations
# --------------------------------------------------------------------------------------------


def _planted(module: str, line: str) -> list[str]:
    sources = _sources()
    sources[module] = sources.get(module, '"""A planted module."""\n') + "\n" + line + "\n"
    return violations(sources)


@pytest.mark.parametrize(
    "module, line, expected",
    [
        # upward imports, at module level, in a function, and typing-only
        ("cnnviz_helpers.core.config", "from ..models.loading import KitModel", "a higher layer"),
        (
            "cnnviz_helpers.datasets.shapes",
            "def f():\n    from ..core.layers import Hooks\n    from ..engines.scores import class_scores",
            "a higher layer",
        ),
        ("cnnviz_helpers.models.targets", "if TYPE_CHECKING:\n    from ..ui.widgets import live_image", "a higher layer"),
        ("cnnviz_helpers.engines.scores", "from .. import saliency", "a higher layer"),
        ("cnnviz_helpers.deepdream", "from .methods import METHODS", "a higher layer"),
        ("cnnviz_helpers.deepdream", "from .ui.widgets import live_image", "a higher layer"),
        ("cnnviz_helpers.core.images", "import cnnviz_helpers", "a higher layer"),  # the front door is a models-layer module
        # the top layer's packages side by side
        ("cnnviz_helpers.grading.runner", "from ..ui import plotting", "side by side"),
        ("cnnviz_helpers.ui.sections", "from ..grading import check", "side by side"),
        ("cnnviz_helpers.training.download", "from ..ui.widgets import live_image", "side by side"),
        # sections
        ("cnnviz_helpers.deepdream", "from .saliency import saliency_map", "sibling section"),
        # UI libraries outside ui
        ("cnnviz_helpers.deepdream", "import matplotlib.pyplot as plt", "UI libraries"),
        ("cnnviz_helpers.grading.runner", "from ipywidgets import Button", "UI libraries"),
        # cycles: two modules of one layer, two packages through the front door
        ("cnnviz_helpers.core.images", "from .regularizers import jitter", "cycle between modules"),
        ("cnnviz_helpers.models.targets", "from .. import budget", "cycle between packages"),
        # imports through strings
        ("cnnviz_helpers.occlusion", 'WIDGET = "cnnviz_helpers.ui.sections"', "in a string"),
        ("cnnviz_helpers.occlusion", 'KIT = ("cnnviz_helpers.texture_synthesis:gram_matrix",)', "in a string"),
        (
            "cnnviz_helpers.occlusion",
            "import importlib\nw = importlib.import_module('.ui.sections', 'cnnviz_helpers')",
            "through a string",
        ),
        ("cnnviz_helpers.grading.runner", "m = __import__('cnnviz_helpers.grading.runner')", "through a string"),
        # a new subpackage no layer lists
        ("cnnviz_helpers.extras.thing", "x = 1", "in no layer"),
    ],
)
def test_the_checker_catches_a_planted_violation(module, line, expected):
    found = _planted(module, line)
    assert any(expected in v for v in found), found


def test_allowed_imports_are_not_flagged():
    """Same layer, a lower layer, a listed lecture composition, a docstring naming a module, UI inside ui."""
    assert violations(_sources()) == []
    for module, line in [
        ("cnnviz_helpers.engines.scores", "from ..models.targets import Unit"),
        ("cnnviz_helpers.gradcam", "from .guided_backprop import guided_backprop"),
        ("cnnviz_helpers.ui.plotting", "import matplotlib.pyplot as plt"),
        ("cnnviz_helpers.deepdream", "def f():\n    import matplotlib.pyplot as plt"),
        ("cnnviz_helpers.grading.grader.exercises.ex_04_1", "from .... import occlusion"),
        ("cnnviz_helpers.saliency", 'def f():\n    """See cnnviz_helpers.ui.sections."""'),
    ]:
        assert _planted(module, line) == [], (module, line)
