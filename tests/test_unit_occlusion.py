"""Occlusion for a single neuron (notebook 04): the watched score is one intermediate unit."""

from __future__ import annotations

import pytest
import torch

from cnnviz_helpers import capture
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.occlusion import occlusion_map, window_starts


def _naive_unit_drops(model, x, layer, channel, position, window, stride):
    """One occluded copy at a time, the unit read with a forward hook."""

    def unit(z):
        with capture(model, layer) as acts:
            acts.run(z)
            a = acts[layer][:, channel]
        if position is not None:
            return float(a[0, position[0], position[1]])
        return float(a.flatten(1).mean(1)[0]) if a.ndim > 1 else float(a[0])

    clean, size = unit(x), x.shape[-1]
    starts = window_starts(size, window, stride)
    drops = torch.zeros(len(starts), len(starts))
    for i, y0 in enumerate(starts):
        for j, x0 in enumerate(starts):
            z = x.clone()
            z[..., y0 : y0 + window, x0 : x0 + window] = 0.0
            drops[i, j] = clean - unit(z)
    return clean, drops


@pytest.mark.parametrize(
    ("layer", "channel", "position"),
    [("features.6", 5, None), ("features.6", 5, (8, 9)), ("features.5", 2, (3, 3)), ("classifier.3", 7, None)],
)
def test_unit_occlusion_equals_a_naive_loop(shapes_model, unchanged, layer, channel, position):
    x = shapes_model.preprocess(shapes_model.examples[3].image)
    with unchanged(shapes_model.model):
        occ = occlusion_map(shapes_model.model, x, Unit(layer, channel, position), window=12, stride=6)
    clean, drops = _naive_unit_drops(shapes_model.model, x, layer, channel, position, 12, 6)
    assert occ.score == pytest.approx(clean, abs=1e-5)
    assert torch.allclose(occ.drops, drops, atol=1e-4), (occ.drops - drops).abs().max()
    assert drops.abs().max() > 1e-3  # the unit does react to occlusion


def test_unit_occlusion_on_a_branching_torchvision_net(resnet18_random):
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    occ = occlusion_map(resnet18_random, x, Unit("layer2", 3, (2, 5)), window=16, stride=16)
    _, drops = _naive_unit_drops(resnet18_random, x, "layer2", 3, (2, 5), 16, 16)
    assert torch.allclose(occ.drops, drops, atol=1e-4)


def test_unit_occlusion_errors_say_what_to_do(shapes_model):
    x = shapes_model.preprocess(shapes_model.examples[0].image)
    with pytest.raises(TypeError, match="positional"):
        occlusion_map(shapes_model.model, x, 1, 16, 8)  # options are keyword-only
    with pytest.raises(KeyError, match="features"):
        occlusion_map(shapes_model.model, x, Unit("feature.6", 0))
    with pytest.raises(IndexError, match="channels"):
        occlusion_map(shapes_model.model, x, Unit("features.6", 999))
    with pytest.raises(IndexError, match="position"):
        occlusion_map(shapes_model.model, x, Unit("features.6", 0, (40, 0)))


def test_max_and_center_units_are_the_clean_images_strongest_and_centre_neurons(shapes_model):
    x = shapes_model.preprocess(shapes_model.examples[3].image)
    with capture(shapes_model.model, "features.6") as acts:
        acts.run(x)
        a = acts["features.6"][0, 5]
    strongest = divmod(int(a.argmax()), a.shape[1])
    for position, fixed in (("max", strongest), ("center", (a.shape[0] // 2, a.shape[1] // 2))):
        occ = occlusion_map(shapes_model.model, x, Unit("features.6", 5, position), window=12, stride=6, progress=False)
        ref = occlusion_map(shapes_model.model, x, Unit("features.6", 5, fixed), window=12, stride=6, progress=False)
        assert torch.equal(occ.drops, ref.drops)
