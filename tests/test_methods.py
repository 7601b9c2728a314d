"""The method registry (cnnviz_helpers.methods): every entry runs, and the README's table is generated from it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from cnnviz_helpers.attribution_metrics import random_map
from cnnviz_helpers.integrated_gradients import integrated_gradients
from cnnviz_helpers.methods import BY_NAME, METHODS, attribution_methods, methods_table, scoring_methods
from cnnviz_helpers.occlusion import occlusion_map

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("methods_table_tool", ROOT / "tools" / "methods_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_methods_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert _tool().with_table(readme) == readme, "README's methods table is stale: run `make methods-table`"


def test_every_entry_is_complete_and_the_table_lists_it():
    table = methods_table()
    for m in METHODS:
        assert m.paper and m.kind in ("attribution", "synthesis", "feature", "adversarial"), m.name
        assert set(m.uses) <= {"layer", "unit", "class"} and all(p.min <= p.value <= p.max or p.log for p in m.params)
        assert f"| {m.name} |" in table and m.function.__name__ in table
        assert set(m.progress) <= {p.name for p in m.params}
    assert len(METHODS) == len(BY_NAME) == 18


def test_attribution_entries_fit_the_attribution_type_without_wrappers(shapes_model, unchanged):
    x = shapes_model.preprocess([e.image for e in shapes_model.examples[:2]])
    with unchanged(shapes_model.model):
        for name, fn in attribution_methods(quick=False).items():
            out = fn(shapes_model.model, x, [1, 2])  # the Attribution type: fn(model, x, target)
            assert out.shape[0] == 2 and out.shape[-2:] == x.shape[-2:], name
    assert "Integrated Gradients" in attribution_methods(quick=False) and "Integrated Gradients" not in attribution_methods()


def test_run_rejects_a_setting_the_method_does_not_have(shapes_model):
    x = shapes_model.preprocess(shapes_model.examples[0].image)
    with pytest.raises(KeyError, match="samples"):
        BY_NAME["saliency"].run(shapes_model, x, 0, params={"samples": 3})


def test_scoring_methods_are_every_attribution_entry_plus_random_one_map_per_image(shapes_model, unchanged):
    x = shapes_model.preprocess([e.image for e in shapes_model.examples[:3]])
    targets = torch.tensor([1, 2, 3])
    scorers = scoring_methods({"Integrated Gradients": {"steps": 4}})
    assert list(scorers) == [m.name for m in METHODS if m.kind == "attribution"] + ["random"]
    assert scorers["random"] is random_map
    with unchanged(shapes_model.model):
        occ = scorers["occlusion"](shapes_model, x, targets)  # image by image, the registry's window (25 % of the side)
        ig = scorers["Integrated Gradients"](shapes_model, x, targets)
    for i in range(3):
        want = occlusion_map(shapes_model, x[i : i + 1], int(targets[i]), window=16, stride=16, progress=False).heatmap
        torch.testing.assert_close(occ[i], want)
    torch.testing.assert_close(ig, integrated_gradients(shapes_model, x, targets, steps=4, progress=False))
    with pytest.raises(KeyError, match="no attribution method named"):
        scoring_methods({"DeepDream": {"steps": 1}})
