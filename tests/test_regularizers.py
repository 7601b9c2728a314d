"""The image priors of gradient-ascent synthesis each do what they say, on synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz_helpers.core.images import deprocess, jitter
from cnnviz_helpers.core.regularizers import (
    blur_every,
    clamp_pixels,
    clip_small_contribution,
    clip_small_norm,
    l2_decay,
    pixel_range,
    random_jitter,
)

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _high_frequency_energy(x: torch.Tensor) -> float:
    """Energy of the spectrum outside the lowest quarter of frequencies."""
    spec = torch.fft.rfft2(x).abs().pow(2)
    fy = torch.fft.fftfreq(x.shape[-2]).abs()[:, None]
    fx = torch.fft.rfftfreq(x.shape[-1])[None, :]
    return float(spec[..., (fy > 0.25) | (fx > 0.25)].sum())


def test_blur_every_lowers_high_frequencies_only_on_its_steps() -> None:
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    blurred = blur_every(x, step=20, every=10, sigma=0.5)
    assert _high_frequency_energy(blurred) < 0.5 * _high_frequency_energy(x)
    assert torch.allclose(blurred.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.05)  # a blur keeps the average colour
    assert blur_every(x, step=21, every=10, sigma=0.5) is x
    assert blur_every(x, step=20, every=0, sigma=0.5) is x
    # a larger sigma removes more
    assert _high_frequency_energy(blur_every(x, 0, 1, 1.0)) < _high_frequency_energy(blurred)


def test_clip_small_norm_zeroes_exactly_the_weak_pixels() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 8, 8, generator=g)
    out = clip_small_norm(x, 30)
    for n in range(2):
        norms = x[n].norm(dim=0).numpy()
        weak = norms < np.percentile(norms, 30)
        assert 15 <= weak.sum() <= 21  # 30 % of 64 pixels
        assert torch.all(out[n][:, torch.from_numpy(weak)] == 0)
        assert torch.equal(out[n][:, torch.from_numpy(~weak)], x[n][:, torch.from_numpy(~weak)])
    assert clip_small_norm(x, 0) is x
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        clip_small_norm(x, 150)


def test_clip_small_contribution_uses_absolute_first_order_contribution() -> None:
    x = torch.ones(1, 3, 2, 2)
    grad = torch.zeros(1, 3, 2, 2)
    grad[0, :, 0, 0] = 1.0  # contribution +3
    grad[0, :, 0, 1] = -2.0  # contribution -6: large, in the other direction → kept
    grad[0, :, 1, 0] = 0.01  # contribution 0.03: small → clipped
    out = clip_small_contribution(x, grad, 50)  # the two smallest |contributions| of four go
    assert out[0, :, 0, 0].eq(1).all() and out[0, :, 0, 1].eq(1).all()
    assert out[0, :, 1, 0].eq(0).all() and out[0, :, 1, 1].eq(0).all()
    with pytest.raises(ValueError, match="shape"):
        clip_small_contribution(x, grad[:, :2], 50)


def test_random_jitter_is_undone_exactly_and_gradients_come_back_unrolled() -> None:
    x = torch.randn(1, 3, 20, 24)
    offsets = set()
    for seed in range(30):
        y, (ox, oy) = random_jitter(x, 5, torch.Generator().manual_seed(seed))
        assert -5 <= ox <= 5 and -5 <= oy <= 5
        assert torch.equal(jitter(y, -ox, -oy), x)
        offsets.add((ox, oy))
    assert len(offsets) > 10
    # same generator seed, same offsets
    assert random_jitter(x, 5, torch.Generator().manual_seed(3))[1] == random_jitter(x, 5, torch.Generator().manual_seed(3))[1]
    # d/dx of sum(w * roll(x)) is roll⁻¹(w)
    xr = x.clone().requires_grad_(True)
    y, (ox, oy) = random_jitter(xr, 5, torch.Generator().manual_seed(7))
    w = torch.randn_like(x)
    (g,) = torch.autograd.grad((w * y).sum(), xr)
    assert torch.equal(g, jitter(w, -ox, -oy))
    assert random_jitter(x, 0)[0] is x


def test_clamp_pixels_gives_the_valid_range_and_keeps_valid_values() -> None:
    x = torch.randn(1, 3, 16, 16) * 5
    out = clamp_pixels(x, MEAN, STD)
    lo, hi = pixel_range(MEAN, STD, x)
    pixels = out * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    inside = (x >= lo) & (x <= hi)
    assert inside.any() and torch.equal(out[inside], x[inside])
    # clamping is what deprocess' clipping would do anyway
    assert np.allclose(deprocess(out, MEAN, STD), deprocess(x, MEAN, STD), atol=1e-6)


def test_l2_decay_shrinks_towards_the_mean_colour() -> None:
    x = torch.randn(1, 3, 4, 4)
    assert torch.allclose(l2_decay(x, 0.1), 0.9 * x)
    assert l2_decay(x, 0.0) is x
    with pytest.raises(ValueError):
        l2_decay(x, 1.5)
