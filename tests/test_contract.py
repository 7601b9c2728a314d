"""The contract every public method keeps (README): a KitModel or a plain nn.Module, targets as an
index, a class name, one per image (list of indices or names), a tensor or a Unit — the same result
each way — and the model left exactly as it was.

The cases come from the method registry (``cnnviz_helpers.methods.METHODS``): every registry method ×
model kinds × target kinds, each run through ``Method.run`` with its settings at their cheapest
(fewest steps / samples), so a method added to the registry is checked here without editing this
file. A few public functions outside the registry (sanity checks, FGSM, filters, features, fast
style training) are listed below by hand. A plain nn.Module means ImageNet normalisation (the one
place another is set is ``KitModel.wrap``), so its results must agree with the KitModel's network
re-wrapped with ImageNet's statistics; class names with a plain nn.Module must fail with a clear
TypeError.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from cnnviz_helpers import IMAGENET_MEAN, IMAGENET_STD, KitModel
from cnnviz_helpers.adversarial import fgsm, fooling_image, pgd
from cnnviz_helpers.class_visualization import class_visualization
from cnnviz_helpers.deepdream import deepdream
from cnnviz_helpers.fast_style import train_fast_style
from cnnviz_helpers.filters import first_layer_filters
from cnnviz_helpers.inversion import feature_inversion
from cnnviz_helpers.last_layer import extract_features
from cnnviz_helpers.methods import METHODS
from cnnviz_helpers.methods import Method as Entry
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.patches import receptive_field
from cnnviz_helpers.sanity import cascading_randomization
from cnnviz_helpers.style_transfer import style_transfer
from cnnviz_helpers.texture_synthesis import texture_synthesis

LAYER = "features.6"
TINY_NET = dict(channels=(4, 4, 8), n_residual=1)


@dataclass(frozen=True)
class Method:
    """One public method: ``call(model, target, unit)``; ``unit`` a channel of LAYER (a Unit target) or None."""

    name: str
    call: Callable[[Any, Any, Any], Any]
    batch: int = 2  # images per call (per-image targets have this many entries)
    units: bool = False  # also explains a Unit


def _cheapest(entry: Entry) -> dict[str, float]:
    """The entry's integer settings at their minimum: fewest steps, samples, octaves, windows."""
    return {p.name: p.min for p in entry.params if p.integer}


def _from_registry(entry: Entry) -> Method:
    batch = 1 if entry.draws in ("occlusion", "image") else 2

    def call(model: Any, target: Any, unit: Any) -> Any:
        x = [X[0][:batch]] if entry.data == "image set" else X[0][:batch]
        return entry.run(model, x, target, layer=LAYER, unit=unit, params=_cheapest(entry))

    return Method(entry.name, call, batch, units=entry.kind == "attribution" and "unit" in entry.uses)


def _x(km: KitModel, n: int) -> torch.Tensor:
    return km.preprocess([e.image for e in km.examples[:n]])


#: methods that explain or reach a class (target-taking): the registry's, then the others
TARGETED = [_from_registry(m) for m in METHODS if "class" in m.uses] + [
    Method(
        "cascading_randomization",
        lambda m, t, u: cascading_randomization(m, X[0], t, layers=["classifier.5"], progress=False).maps["saliency"],
    ),
    Method("fgsm", lambda m, t, u: fgsm(m, X[0], t)),
]

#: methods without a class target: only the model varies
UNTARGETED = [_from_registry(m) for m in METHODS if "class" not in m.uses] + [
    Method("first_layer_filters", lambda m, t, u: first_layer_filters(m)),
    Method("extract_features", lambda m, t, u: extract_features(m, X[0], LAYER, progress=False)),
    Method("receptive_field", lambda m, t, u: receptive_field(m, LAYER).size),
    Method(
        "train_fast_style",
        lambda m, t, u: train_fast_style(
            m,
            "brick",
            content=["coffee"],
            steps=1,
            batch_size=1,
            crop=16,
            content_layer=LAYER,
            style_layers=["features.2"],
            progress=False,
            **TINY_NET,
        )[1]["total"],
    ),  # fmt: skip
]

X: list[torch.Tensor] = []  # the images, set by the fixture (the calls above read X[0])


@pytest.fixture(scope="module")
def km(shapes_model: KitModel) -> KitModel:
    X[:] = [_x(shapes_model, 2)]
    return shapes_model


def _tensors(result: Any) -> list[torch.Tensor]:
    if hasattr(result, "heatmap"):  # OcclusionMap
        return _tensors(result.heatmap) + _tensors(result.drops)
    if hasattr(result, "patches"):  # Patches
        return _tensors(result.patches)
    if hasattr(result, "regions"):  # dissection.TopImages
        return _tensors(result.maps) + _tensors(result.regions.float()) + [torch.tensor(result.iou)]
    if isinstance(result, torch.Tensor):
        return [result.detach().cpu()]
    if isinstance(result, np.ndarray):
        return [torch.from_numpy(np.ascontiguousarray(result))]
    if isinstance(result, (list, tuple)):
        return [torch.as_tensor(np.asarray(result, dtype=np.float64))]
    raise TypeError(type(result))


def _same(a: Any, b: Any) -> bool:
    return all(torch.allclose(p, q, rtol=1e-4, atol=1e-5) for p, q in zip(_tensors(a), _tensors(b), strict=True))


def _run(method: Method, model: Any, target: Any, unchanged: Any, net: torch.nn.Module, unit: Any = None) -> Any:
    with unchanged(net), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. "not fooled after 2 steps"
        return method.call(model, target, unit)


def _targets(km: KitModel, batch: int) -> dict[str, tuple[Any, bool]]:
    """Target kind → (target, whether it asks for one class per image)."""
    labels = [e.label for e in km.examples[:batch]]
    names = [km.class_names[i] for i in labels]
    return {
        "index": (labels[0], False),
        "name": (names[0], False),
        "per-image indices": (labels, True),
        "per-image names": (names, True),
        "tensor": (torch.tensor(labels), True),
    }


def _imagenet(km: KitModel) -> KitModel:
    """What a plain nn.Module means: the KitModel with ImageNet normalisation."""
    return dataclasses.replace(km, mean=IMAGENET_MEAN, std=IMAGENET_STD)


@pytest.mark.parametrize("kind", ["KitModel", "nn.Module"])
@pytest.mark.parametrize("target_kind", ["index", "name", "per-image indices", "per-image names", "tensor"])
@pytest.mark.parametrize("method", TARGETED, ids=lambda m: m.name)
def test_targeted_method_accepts_every_model_and_target(km, unchanged, method, kind, target_kind) -> None:
    targets = _targets(km, method.batch)
    single, per_image = targets["index"][0], targets["tensor"][0]
    ref_model, model = (km, km) if kind == "KitModel" else (_imagenet(km), km.model)
    reference = {per: _run(method, ref_model, t, unchanged, km.model) for per, t in ((False, single), (True, per_image))}
    target, per = targets[target_kind]
    if kind == "nn.Module" and "name" in target_kind:
        with pytest.raises(TypeError, match="KitModel"):
            _run(method, model, target, unchanged, km.model)
        return
    assert _same(_run(method, model, target, unchanged, km.model), reference[per])


@pytest.mark.parametrize("method", [m for m in TARGETED if m.units], ids=lambda m: m.name)
def test_attribution_of_a_unit_is_the_same_for_a_kitmodel_and_its_module(km, unchanged, method) -> None:
    with_unit = _run(method, km, 0, unchanged, km.model, unit=3)
    assert _same(with_unit, _run(method, km.model, None, unchanged, km.model, unit=3))
    assert not _same(with_unit, _run(method, km, 0, unchanged, km.model))  # the unit, not the class, was explained


@pytest.mark.parametrize("method", UNTARGETED, ids=lambda m: m.name)
def test_untargeted_method_gives_the_same_result_for_a_kitmodel_and_its_module(km, unchanged, method) -> None:
    # the documented rule: a plain nn.Module is normalised like a KitModel with ImageNet statistics
    reference = _run(method, _imagenet(km), None, unchanged, km.model)
    assert _same(_run(method, km.model, None, unchanged, km.model), reference)
    # and KitModel.wrap is the one place another normalisation is given
    wrapped = KitModel.wrap(km.model, km.mean, km.std, input_size=km.input_size)
    assert _same(_run(method, wrapped, None, unchanged, km.model), _run(method, km, None, unchanged, km.model))


def test_the_registry_is_covered(km) -> None:
    """Every registry method is a case here (by construction), with the kind its entry names."""
    names = {m.name for m in TARGETED + UNTARGETED}
    assert {e.name for e in METHODS} <= names and "Integrated Gradients" in names
    assert {e.kind for e in METHODS} == {"attribution", "synthesis", "feature", "adversarial"}


def test_a_callback_returning_true_stops_every_synthesis_method_early(km) -> None:
    """The explorer's Stop button: a callback returning True ends the run and the image so far is returned."""
    seen: list[int] = []

    def stop_at_2(step: int, image: torch.Tensor) -> bool:
        seen.append(step)
        return step >= 2

    runs = {
        "class_visualization": lambda cb: class_visualization(km, 0, steps=50, callback=cb, callback_every=1, progress=False),
        "unit visualization": lambda cb: class_visualization(
            km, Unit(LAYER, 0), steps=50, callback=cb, callback_every=1, progress=False
        ),
        "feature_inversion": lambda cb: feature_inversion(km, X[0][:1], LAYER, steps=50, callback=cb, callback_every=1, progress=False),
        "fooling_image": lambda cb: fooling_image(
            km, X[0][:1], 3, step_size=1e-6, steps=50, callback=cb, callback_every=1, progress=False
        ),
        "pgd": lambda cb: pgd(km, X[0][:1], steps=50, callback=cb, callback_every=1, progress=False),
        "deepdream": lambda cb: deepdream(
            km, X[0][:1], LAYER, steps=1, octaves=3, min_size=16, callback=cb, callback_every=1, progress=False
        ),
        "texture_synthesis": lambda cb: (
            texture_synthesis(km, "brick", size=32, steps=50, callback=cb, callback_every=1, progress=False).image
        ),
        "style_transfer": lambda cb: style_transfer(
            km, "coffee", "brick", image_size=32, style_size=32, steps=50, callback=cb, callback_every=1, progress=False,
            verbose=False,
        ).image,
        "train_fast_style": lambda cb: train_fast_style(
            km, "brick", content=["coffee"], steps=50, batch_size=1, crop=16, callback=cb, callback_every=1,
            progress=False, **TINY_NET,
        )[0](X[0][:1] * 0 + 0.5),
    }  # fmt: skip
    for name, run in runs.items():
        seen.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # stopped on request: no "gave up" warning
            out = run(stop_at_2)
        assert seen == [1, 2], (name, seen)
        assert out.shape[0] == 1 and torch.isfinite(out).all(), name


def test_a_misspelt_option_names_the_close_ones(km) -> None:
    with pytest.raises(TypeError, match="l2_reg"):
        class_visualization(km, 0, steps=1, l2_regularization=1e-3)
