"""Network Dissection: a hand-built colour unit is found, IoU and thresholds equal naive loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz_helpers.core.layers import capture
from cnnviz_helpers.datasets.shapes import COLOUR_PROTOTYPES, CONCEPT_CATEGORIES, CONCEPT_NAMES, make_shapes
from cnnviz_helpers.datasets.shapesnet import MEAN, STD, TEST_SEED, to_tensor
from cnnviz_helpers.dissection import concept_images, dissect, dissect_unit, mask_iou, top_images
from cnnviz_helpers.models.targets import model_input


@pytest.fixture(scope="module")
def data():
    images, _, _, concepts = make_shapes(120, seed=5, concepts=True)
    return to_tensor(images), concepts


class _WithSquares(nn.Module):
    """``[x, x²]``: with it a 1×1 convolution can compute ``-|x - p|²``, a unit that fires on one colour."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x * x], 1)


def _colour_units(*names: str) -> nn.Module:
    """A 1×1 conv whose unit ``i`` is ``-|x - p_i|²`` for the prototype ``p_i`` of colour ``names[i]`` (input normalised)."""
    conv = nn.Conv2d(6, len(names), 1)
    prototypes = dict(reversed(COLOUR_PROTOTYPES))  # the first prototype of each name
    with torch.no_grad():
        for i, name in enumerate(names):
            p = (torch.tensor(prototypes[name]) / 255 - torch.tensor(MEAN)) / torch.tensor(STD)
            conv.weight[i] = torch.cat([2 * p, -torch.ones(3)]).view(6, 1, 1)
            conv.bias[i] = -(p * p).sum()
    return nn.Sequential(_WithSquares(), conv, nn.AvgPool2d(2)).eval()


def test_a_hand_built_colour_unit_is_labelled_with_its_colour(data, unchanged):
    x, concepts = data
    net = _colour_units("red", "yellow")
    share = (concepts.mask("red").mean() + concepts.mask("yellow").mean()) / 2  # the units' regions ≈ the colours' size
    with unchanged(net):
        result = dissect(net, x, concepts, ["1", "2"], quantile=1 - share)
    for layer in ("1", "2"):  # full resolution, and pooled to 32×32 and upsampled back
        assert [result.label(layer, u)[:2] for u in range(2)] == [("red", "colour"), ("yellow", "colour")]
    assert min(result.label("1", u)[2] for u in range(2)) > 0.5
    assert result.unique_detectors("1") == 2
    assert result.category_shares("1") == {"shape": 0.0, "texture": 0.0, "colour": 1.0, "background": 0.0}


def test_thresholds_and_iou_equal_a_naive_per_image_loop(shapes_model, unchanged):
    images, _, _, concepts = make_shapes(12, seed=9, concepts=True)
    x, q, layers = to_tensor(images), 0.99, ["features.6", "features.14"]
    with unchanged(shapes_model.model):
        result = dissect(shapes_model, x, concepts, layers, quantile=q, batch_size=12)
        streamed = dissect(shapes_model, x, concepts, layers, quantile=q, batch_size=5)  # thresholds over 3 batches
    masks = torch.from_numpy(concepts.masks())  # [N, K, H, W]
    with capture(shapes_model.model, layers, detach=True) as recorded:
        recorded.run(model_input(shapes_model, x))  # the activations dissect saw (same batch, same layout)
    for layer in layers:
        acts = recorded[layer]
        units = acts.shape[1]
        for u in range(units):
            values = acts[:, u].reshape(-1).sort(descending=True).values
            assert result.thresholds[layer][u] == values[math.floor((1 - q) * len(values))]
        torch.testing.assert_close(streamed.thresholds[layer], result.thresholds[layer])
        inter = np.zeros((units, len(CONCEPT_NAMES)))
        union = np.zeros_like(inter)
        for i in range(12):
            # upsampled as dissect does (float rounding decides pixels whose value equals the threshold)
            up = F.interpolate(acts[i : i + 1], size=(64, 64), mode="bilinear", align_corners=False)[0]
            for u in range(units):
                region = up[u] > result.thresholds[layer][u]
                inter[u] += (region & masks[i]).sum((1, 2)).numpy()  # [K]: every concept of image i
                union[u] += (region | masks[i]).sum((1, 2)).numpy()
        want = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        np.testing.assert_allclose(result.iou[layer].numpy(), want, atol=1e-12)
        assert torch.equal(result.image_max[layer], acts.amax((2, 3)))


def test_mask_iou_equals_a_naive_per_image_loop_and_dissects_a_concept_of_ones_own(data, shapes_model, unchanged):
    x, concepts = data
    net = _colour_units("red", "yellow")
    share = concepts.mask("red").mean()
    red = mask_iou(net, x, concepts.mask("red"), "1", quantile=1 - share)  # the generator's concept, given as masks
    assert red.argmax() == 0 and red[0] > 0.5 and red[1] < 0.1  # the red unit detects it, the yellow one does not
    layer, q, masks = "features.14", 0.99, torch.from_numpy(concepts.mask("square"))
    with unchanged(shapes_model.model):
        got = mask_iou(shapes_model, x[:12], masks[:12], layer, quantile=q, batch_size=5)
    threshold = dissect(shapes_model, x[:12], concepts[:12], layer, quantile=q).thresholds[layer]
    with capture(shapes_model.model, layer, detach=True) as recorded:
        recorded.run(model_input(shapes_model, x[:12]))
    inter, union = torch.zeros(len(threshold), dtype=torch.float64), torch.zeros(len(threshold), dtype=torch.float64)
    for i in range(12):
        up = F.interpolate(recorded[layer][i : i + 1], size=(64, 64), mode="bilinear", align_corners=False)[0]
        for u in range(len(threshold)):
            region = up[u] > threshold[u]
            inter[u] += (region & masks[i]).sum()
            union[u] += (region | masks[i]).sum()
    torch.testing.assert_close(got, torch.where(union > 0, inter / union.clamp_min(1), 0.0), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match=r"must be \[N, H, W\]"):
        mask_iou(shapes_model, x[:12], masks[:10], layer)


def test_layer_summaries_follow_the_ious(shapes_model, data):
    x, concepts = data
    result = dissect(shapes_model, x[:60], concepts[:60])
    assert result.layers == tuple(shapes_model.spec.layers)
    for layer in result.layers:
        iou = result.iou[layer].numpy()
        best = iou.argmax(1)
        det = iou.max(1) > 0.04
        assert torch.equal(result.detectors(layer), torch.from_numpy(det))
        assert result.unique_detectors(layer) == len(set(best[det]))
        shares = result.category_shares(layer)
        for cat, share in shares.items():
            assert share == pytest.approx(sum(CONCEPT_CATEGORIES[k] == cat for k in best[det]) / len(best))
        assert sum(shares.values()) == pytest.approx(det.mean())
    assert result.unique_detectors("features.14") >= 3  # the trained network has shape/texture detectors


def test_top_images_are_the_most_active_with_their_regions(shapes_model, data, unchanged):
    x, concepts = data
    result = dissect(shapes_model, x[:60], concepts[:60], "features.10")
    with unchanged(shapes_model.model):
        top = top_images(shapes_model, x[:60], result, "features.10", 3, k=4)
    strength = result.image_max["features.10"][:, 3]
    assert torch.equal(top.indices, strength.argsort(descending=True)[:4])
    assert torch.equal(top.images, x[:60][top.indices]) and (top.layer, top.unit) == ("features.10", 3)
    assert top.dissection is result
    assert top.maps.shape == top.regions.shape == (4, 64, 64)
    assert torch.equal(top.regions, top.maps > result.thresholds["features.10"][3])
    assert (top.maps.amax((1, 2)) <= strength[top.indices] + 1e-5).all()  # bilinear: convex combinations
    assert (top.concept, top.category, top.iou) == result.label("features.10", 3)


def test_bad_input_says_what_to_do(shapes_model, data):
    x, concepts = data
    with pytest.raises(ValueError, match="same N, H, W"):
        dissect(shapes_model, x[:10], concepts)
    with pytest.raises(ValueError, match="pass layers="):
        dissect(shapes_model.model, x, concepts)
    with pytest.raises(ValueError, match="feature maps"):
        dissect(shapes_model, x, concepts, "classifier.5")
    result = dissect(shapes_model, x[:20], concepts[:20], "features.14")
    with pytest.raises(KeyError, match="features.14"):
        result.label("features.6", 0)
    with pytest.raises(IndexError, match="0..127"):
        result.label("features.14", 128)
    with pytest.raises(ValueError, match="pass the same images"):
        top_images(shapes_model, x, result, "features.14", 0)


def test_dissect_unit_is_dissect_then_top_images_on_the_held_out_concept_images(shapes_model, unchanged):
    images, _, _, concepts = make_shapes(100, seed=TEST_SEED, concepts=True)
    x, got = concept_images(shapes_model, 100)
    torch.testing.assert_close(x, to_tensor(images))
    assert np.array_equal(got.labels, concepts.labels)
    with unchanged(shapes_model.model):
        top = dissect_unit(shapes_model, "features.14", 5, images=100, k=3)
    want = top_images(shapes_model, x, dissect(shapes_model, x, concepts, "features.14"), "features.14", 5, k=3)
    assert torch.equal(top.indices, want.indices) and torch.equal(top.regions, want.regions)
    assert (top.concept, top.iou) == (want.concept, want.iou)
    torch.testing.assert_close(top.dissection.iou["features.14"], want.dissection.iou["features.14"])


def test_dissect_unit_dissects_a_layer_once_for_all_its_units_until_the_weights_change(shapes_model, monkeypatch):
    import cnnviz_helpers.dissection as dissection

    calls = []
    monkeypatch.setattr(dissection, "dissect", lambda *a, **kw: calls.append(a[3]) or dissect(*a, **kw))
    monkeypatch.setattr(dissection, "_DISSECTIONS", type(dissection._DISSECTIONS)())
    first = dissect_unit(shapes_model, "features.14", 5, images=60, k=2)
    other = dissect_unit(shapes_model, "features.14", 6, images=60, k=2)  # another unit: no new dissection
    assert calls == ["features.14"] and other.dissection is first.dissection
    fresh = top_images(
        shapes_model,
        *concept_images(shapes_model, 60)[:1],
        dissect(shapes_model, *concept_images(shapes_model, 60), "features.14"),
        "features.14",
        6,
        k=2,
    )
    assert torch.equal(other.indices, fresh.indices) and other.iou == fresh.iou
    conv = shapes_model.model.features[12]
    saved = conv.bias.detach().clone()
    with torch.no_grad():
        conv.bias += 1.0  # a training step: the cached dissection no longer describes the model
    try:
        dissect_unit(shapes_model, "features.14", 6, images=60, k=2)
    finally:
        with torch.no_grad():
            conv.bias.copy_(saved)
    assert calls == ["features.14", "features.14"]


def test_concept_images_follow_a_plain_modules_imagenet_normalisation_and_refuse_other_networks(shapes_model):
    x, _ = concept_images(shapes_model.model, 10)  # a plain nn.Module means ImageNet normalisation
    picture = torch.from_numpy(make_shapes(10, seed=TEST_SEED)[0]).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(x, (picture - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    with pytest.raises(ValueError, match="only ShapesNet"):
        concept_images(nn.Sequential(nn.Conv2d(3, 4, 3)), 10)
