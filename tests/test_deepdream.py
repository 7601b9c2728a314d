"""DeepDream: the step is the analytical one, the layer's energy rises, octaves and guards behave, models untouched."""

from __future__ import annotations

import pytest
import torch

from cnnviz_helpers import KitModel
from cnnviz_helpers.core.layers import capture
from cnnviz_helpers.deepdream import deepdream, octave_sizes
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.ui.sections import deepdream_widget


def _energy(km: KitModel, x: torch.Tensor, layer: str) -> float:
    with capture(km.model, layer, detach=True) as acts:
        acts.run(x)
    return float(acts[layer].pow(2).mean())


def _image(km: KitModel, size: int = 64) -> torch.Tensor:
    return km.preprocess(km.examples[0].image, size=size)


def test_one_step_is_the_normalised_gradient_of_half_the_squared_norm(shapes_model: KitModel, unchanged) -> None:
    x = _image(shapes_model)
    lr = 0.02
    # naive: full forward to features.10 through a slice of the network, autograd of ½‖a‖²
    xr = x.clone().requires_grad_(True)
    a = shapes_model.model.features[:11](xr.clone())
    (g,) = torch.autograd.grad(0.5 * a.pow(2).sum(), xr)
    std = torch.tensor(shapes_model.std).view(1, 3, 1, 1)
    mean = torch.tensor(shapes_model.mean).view(1, 3, 1, 1)
    expected = (x + lr / std * g / g.abs().mean()).clamp(-mean / std, (1 - mean) / std)
    with unchanged(shapes_model.model):
        got = deepdream(shapes_model, x, "features.10", steps=1, octaves=1, jitter=0, lr=lr, progress=False)
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()


def test_the_layer_energy_rises_over_octaves(shapes_model: KitModel, unchanged) -> None:
    x = _image(shapes_model, 96)
    before = x.clone()
    calls: list[tuple[int, tuple[int, ...]]] = []
    with unchanged(shapes_model.model):
        dream = deepdream(
            shapes_model, x, "features.14", steps=6, octaves=3, lr=0.02, progress=False, callback_every=6,
            callback=lambda s, img: calls.append((s, tuple(img.shape))),
        )  # fmt: skip
    assert torch.equal(x, before)  # the input is not modified
    assert dream.shape == x.shape
    assert [c[0] for c in calls] == [6, 12, 18]
    assert [c[1][-1] for c in calls] == [49, 69, 96]  # 96 / 1.4², 96 / 1.4, 96: smallest first
    # the steps count on across the octaves: every 4th of the 18 and the last
    calls.clear()
    deepdream(shapes_model, x, "features.14", steps=6, octaves=3, lr=0.02, progress=False, callback_every=4,
              callback=lambda s, img: calls.append((s, tuple(img.shape))))  # fmt: skip
    assert [(s, size[-1]) for s, size in calls] == [(4, 49), (8, 69), (12, 69), (16, 96), (18, 96)]
    assert _energy(shapes_model, dream, "features.14") > 1.5 * _energy(shapes_model, x, "features.14")
    # the valid pixel range is kept
    pixels = dream * 0.25 + 0.5
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    # one channel only: that channel's energy rises more than the layer's
    one = deepdream(shapes_model, x, Unit("features.14", 5), steps=6, octaves=2, lr=0.02, progress=False)
    with capture(shapes_model.model, "features.14", detach=True) as acts:
        acts.run(torch.cat([x, one]))
    ch = acts["features.14"][:, 5].pow(2).mean(dim=(1, 2))
    assert ch[1] > 2 * ch[0]


def test_octave_sizes_and_the_minimum_size_guard(shapes_model: KitModel) -> None:
    assert octave_sizes(224, 224, 4, 1.4, 32) == [(82, 82), (114, 114), (160, 160), (224, 224)]
    assert octave_sizes(40, 60, 4, 1.4, 32) == [(40, 60)]  # smaller octaves skipped
    with pytest.raises(ValueError, match="at least 32 pixels"):
        octave_sizes(24, 24, 2, 1.4, 32)
    with pytest.raises(ValueError, match="at least 32 pixels"):
        deepdream(shapes_model, _image(shapes_model, 24), "features.6", progress=False)
    with pytest.raises(ValueError, match="octave_scale"):
        octave_sizes(64, 64, 2, 1.0, 32)


def test_seeded_stops_at_the_layer_and_cleans_up(shapes_model: KitModel, unchanged) -> None:
    x = _image(shapes_model)
    run = lambda seed: deepdream(shapes_model, x, "features.6", steps=3, octaves=2, seed=seed, progress=False)  # noqa: E731
    calls = []
    handle = shapes_model.model.features[8].register_forward_hook(lambda *a: calls.append(1))
    try:
        first = run(1)
    finally:
        handle.remove()
    assert calls == []  # nothing after features.6 was computed
    assert torch.equal(first, run(1)) and not torch.equal(first, run(2))
    with unchanged(shapes_model.model):
        with pytest.raises(IndexError, match=r"0\.\.63"):
            deepdream(shapes_model, x, Unit("features.6", 70), steps=1, progress=False)
        with pytest.raises(KeyError, match="Did you mean"):
            deepdream(shapes_model, x, "features.66", steps=1, progress=False)


def test_widget_runs_and_shows_the_dream(shapes_model: KitModel) -> None:
    widget = deepdream_widget(shapes_model)
    settings = widget.params["DeepDream"]
    settings["steps"].value, settings["octaves"].value, settings["octave scale"].value = 1, 2, 1.5
    widget.panel.click()
    widget.panel.wait()
    assert widget.view.layout.display is None and widget.panel.status.value.startswith("DeepDream → "), widget.panel.status.value
