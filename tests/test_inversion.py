"""Feature inversion: the feature loss falls by a large factor, TV is the lecture's formula, no side effects."""

from __future__ import annotations

import math

import pytest
import torch

from cnnviz_helpers import capture
from cnnviz_helpers.core.regularizers import tv_loss
from cnnviz_helpers.inversion import feature_inversion


def _feature_loss(model, layer: str, x: torch.Tensor, y: torch.Tensor) -> float:
    """‖Φ(y) − Φ(x)‖² / ‖Φ(x)‖², computed independently of the method."""
    with capture(model, layer, detach=True) as acts:
        acts.run(x)
        fx = acts[layer]
        acts.run(y)
        fy = acts[layer]
    return float((fy - fx).pow(2).sum() / fx.pow(2).sum())


def _tv_naive(img: torch.Tensor, beta: float) -> float:
    """The lecture's formula with explicit loops; differences past the border count as 0."""
    c, h, w = img.shape
    total = 0.0
    for k in range(c):
        for i in range(h):
            for j in range(w):
                dv = float(img[k, i + 1, j] - img[k, i, j]) if i + 1 < h else 0.0
                dh = float(img[k, i, j + 1] - img[k, i, j]) if j + 1 < w else 0.0
                total += (dv**2 + dh**2) ** (beta / 2)
    return total


@pytest.fixture(scope="module")
def example(shapes_model):
    km = shapes_model
    return km.preprocess(km.examples[3].image)


def _noise_init(km, x: torch.Tensor, seed: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    p = (0.5 + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return (p - torch.tensor(km.mean).view(1, 3, 1, 1)) / torch.tensor(km.std).view(1, 3, 1, 1)


def test_tv_matches_formula_on_hand_made_image():
    img = torch.tensor([[[0.0, 1.0], [3.0, 5.0]]])  # one channel, 2x2
    # squared neighbour differences per pixel: (0,0): 3²+1² = 10, (0,1): 4² = 16, (1,0): 2² = 4, (1,1): 0
    assert tv_loss(img, beta=2).item() == pytest.approx(30.0)
    assert tv_loss(img, beta=1).item() == pytest.approx(math.sqrt(10) + 4 + 2, abs=1e-3)
    rand = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(0))
    for beta in (2.0, 1.5, 1.0):
        assert tv_loss(rand, beta=beta).item() == pytest.approx(_tv_naive(rand, beta), rel=1e-4)


@pytest.mark.parametrize("depth", [0, -1], ids=["shallow", "deep"])
def test_feature_loss_falls_by_a_large_factor(shapes_model, example, unchanged, depth):
    km = shapes_model
    layer = km.spec.layers[depth]
    init = _noise_init(km, example)
    with unchanged(km.model):
        rec = feature_inversion(km, example, layer, steps=40, init=init, progress=False)
    before, after = _feature_loss(km.model, layer, example, init), _feature_loss(km.model, layer, example, rec)
    assert after < before / 10, (before, after)
    p = rec * torch.tensor(km.std).view(1, 3, 1, 1) + torch.tensor(km.mean).view(1, 3, 1, 1)
    assert p.min() >= -1e-6 and p.max() <= 1 + 1e-6


def test_tv_weight_smooths_the_reconstruction(shapes_model, example):
    km = shapes_model
    layer = km.spec.layers[1]
    run = lambda w: feature_inversion(km.model, example, layer, mean=km.mean, std=km.std, tv_weight=w, steps=20, progress=False)  # noqa: E731
    weak, strong = run(0.0), run(2.0)
    tv = lambda x: tv_loss(x * torch.tensor(km.std).view(1, 3, 1, 1)).item()  # noqa: E731
    assert tv(strong) < 0.5 * tv(weak)


def test_deterministic_with_a_seed_and_callback_sees_every_step(shapes_model, example):
    km = shapes_model
    steps_seen = []
    run = lambda seed, cb=None: feature_inversion(  # noqa: E731
        km.model, example, km.spec.layers[0], mean=km.mean, std=km.std, steps=3, seed=seed, callback=cb, progress=False
    )
    a = run(0, lambda s, img: steps_seen.append((s, img.shape)))
    assert torch.equal(a, run(0))
    assert not torch.equal(a, run(1))
    assert steps_seen == [(s, example.shape) for s in (1, 2, 3)]


def test_no_hooks_left_on_error_and_bad_layer_named(shapes_model, example, squeezenet_random, unchanged):
    km = shapes_model

    def boom(step, img):
        raise RuntimeError("stop")

    with unchanged(km.model):
        with pytest.raises(RuntimeError, match="stop"):
            feature_inversion(
                km.model, example, km.spec.layers[0], mean=km.mean, std=km.std, steps=2, callback=boom, progress=False
            )
        with pytest.raises(KeyError, match="Did you mean"):
            feature_inversion(km.model, example, "features.99", mean=km.mean, std=km.std, steps=2, progress=False)
    x = torch.zeros(1, 3, 64, 64)
    with unchanged(squeezenet_random):  # torchvision net, in-place ReLUs, ImageNet statistics
        rec = feature_inversion(squeezenet_random, x, "features.3", steps=5, progress=False)
    assert rec.shape == x.shape and torch.isfinite(rec).all()
