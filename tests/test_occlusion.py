"""Occlusion: equal to a naive one-window-at-a-time loop and to Captum; the model is left as it was."""

from __future__ import annotations

import copy

import pytest
import torch
from captum.attr import Occlusion

from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import to_tensor
from cnnviz_helpers.occlusion import occlusion_map, window_starts


def _naive(model, x, target, window, stride, fill=0.0, probability=False):
    """Drops and per-pixel mean drop, one occluded copy at a time (float64)."""
    score = (lambda out: out.softmax(-1)[0, target]) if probability else (lambda out: out[0, target])
    H, W = x.shape[-2:]
    ys, xs = window_starts(H, window, stride), window_starts(W, window, stride)
    fill = torch.as_tensor(fill, dtype=x.dtype).expand_as(x)
    drops = torch.zeros(len(ys), len(xs), dtype=x.dtype)
    total, count = torch.zeros(H, W, dtype=x.dtype), torch.zeros(H, W, dtype=x.dtype)
    with torch.no_grad():
        clean = score(model(x))
        for i, r in enumerate(ys):
            for j, c in enumerate(xs):
                occluded = x.clone()
                occluded[..., r : r + window, c : c + window] = fill[..., r : r + window, c : c + window]
                drops[i, j] = clean - score(model(occluded))
                total[r : r + window, c : c + window] += drops[i, j]
                count[r : r + window, c : c + window] += 1
    return drops, total / count


@pytest.fixture(scope="module")
def shapes64(shapes_model):
    images, labels, _ = make_shapes(1, seed=11)  # a 40x40 crop keeps the naive loops short (global pooling: any size works)
    return copy.deepcopy(shapes_model.model).double(), to_tensor(images[:, 12:52, 10:50]).double(), int(labels[0])


@pytest.mark.parametrize("window,stride", [(13, 9), (16, 16), (9, 7)])
def test_equals_naive_loop_shapesnet(shapes64, window, stride):
    model, x, label = shapes64
    occ = occlusion_map(model, x, label, window=window, stride=stride, batch_size=16)
    drops, heat = _naive(model, x, label, window, stride)
    torch.testing.assert_close(occ.drops, drops, rtol=0, atol=1e-10)
    torch.testing.assert_close(occ.heatmap, heat, rtol=0, atol=1e-10)
    assert occ.drops.abs().max() > 1e-3  # the test is not comparing zeros


def test_equals_naive_loop_squeezenet_and_resnet(squeezenet_random, resnet18_random):
    """Fire modules (concat, ceil-mode pooling) and residual adds (+ batch norm), with a baseline image as fill."""
    torch.manual_seed(1)
    for net, size, window, stride in ((squeezenet_random, 45, 15, 10), (resnet18_random, 48, 16, 16)):
        model = copy.deepcopy(net).double()
        x = torch.randn(1, 3, size, size, dtype=torch.float64)
        fill = torch.randn(1, 3, size, size, dtype=torch.float64)
        occ = occlusion_map(model, x, 7, window=window, stride=stride, fill=fill, batch_size=5)
        drops, heat = _naive(model, x, 7, window, stride, fill)
        scale = drops.abs().max()
        assert scale > 0
        torch.testing.assert_close(occ.drops / scale, drops / scale, rtol=0, atol=1e-10)
        torch.testing.assert_close(occ.heatmap / scale, heat / scale, rtol=0, atol=1e-10)


def test_probability_score_equals_naive(shapes64):
    model, x, label = shapes64
    occ = occlusion_map(model, x, label, window=16, stride=12, probability=True)
    drops, _ = _naive(model, x, label, 16, 12, probability=True)
    assert drops.abs().max() > 1e-6
    torch.testing.assert_close(occ.drops, drops, rtol=0, atol=1e-12)
    assert 0 <= occ.score <= 1


def test_equals_captum_occlusion(shapes64):
    model, x, label = shapes64
    grey = ((0.5 - torch.tensor(0.5)) / 0.25 + torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)).view(1, 3, 1, 1)
    for fill, window, stride in ((0.0, 12, 8), (grey, 15, 9)):
        occ = occlusion_map(model, x, label, window=window, stride=stride, fill=fill)
        ref = Occlusion(model).attribute(
            x,
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=fill,
            target=label,
            perturbations_per_eval=16,
        )
        assert occ.heatmap.abs().max() > 1e-3
        for channel in range(3):  # Captum accumulates in float32
            torch.testing.assert_close(occ.heatmap.float(), ref[0, channel], rtol=1e-5, atol=1e-5 * float(ref.abs().max()))


def test_float32_close_to_captum_on_squeezenet(squeezenet_random):
    x = torch.randn(1, 3, 64, 64)
    occ = occlusion_map(squeezenet_random, x, 3, window=16, stride=8)
    ref = Occlusion(squeezenet_random).attribute(
        x, (3, 16, 16), strides=(3, 8, 8), baselines=0.0, target=3, perturbations_per_eval=64
    )
    torch.testing.assert_close(occ.heatmap, ref[0, 0], rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_state_restored_and_clear_errors(shapes_model, unchanged):
    model = shapes_model.model
    x = shapes_model.preprocess(shapes_model.examples[0].image)
    model.train()  # must come back in train mode, and occlusion must run in eval mode meanwhile
    try:
        with unchanged(model):
            occ = occlusion_map(model, x, 0, window=32, stride=16)
            with pytest.raises(IndexError, match="0..9"):
                occlusion_map(model, x, 10, window=32, stride=16)
            with pytest.raises(ValueError, match="stride"):
                occlusion_map(model, x, 0, window=8, stride=16)
            with pytest.raises(ValueError, match="window"):
                occlusion_map(model, x, 0, window=65, stride=16)
    finally:
        model.eval()
    with torch.no_grad():
        assert occ.score == pytest.approx(float(model(x)[0, 0]), rel=1e-5)  # scored in eval mode
