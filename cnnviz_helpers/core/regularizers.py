"""Image priors shared by the synthesis methods (class visualization, DeepDream, feature inversion, style transfer).

``tv_loss`` is a differentiable penalty added to the objective. The others act on the image
between gradient steps (CS231n's clamping and blurring; Yosinski et al. 2015's decay, blur and
pixel clipping; random jitter).

Example:
    >>> x = torch.rand(1, 3, 64, 64, requires_grad=True)
    >>> tv_loss(x).backward()            # CS231n's total variation: sum of squared neighbour differences
    >>> x = clip_small_norm(blur_every(x.detach(), step=0, every=4, sigma=1.0), percentile=10)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .images import gaussian_blur, jitter


def tv_loss(x: torch.Tensor, beta: float = 2.0, eps: float = 1e-8) -> torch.Tensor:
    r"""Total variation :math:`\sum_{c,i,j} \big((x_{i+1,j}-x_{i,j})^2 + (x_{i,j+1}-x_{i,j})^2\big)^{\beta/2}`.

    The differences past the last row / column are taken as zero, so with ``beta=2`` (the default)
    this is exactly the CS231n / EECS 498 ``tv_loss`` (sum of squared vertical plus horizontal
    differences, without the weight). Mahendran & Vedaldi (2015) use ``beta`` in [1, 2]: smaller
    values allow sharper edges. For ``beta < 2`` an ``eps`` inside the power keeps the gradient finite
    where neighbours are equal.

    Args:
        x: images ``[N, C, H, W]`` (or ``[C, H, W]``).
        beta: the exponent :math:`\beta`.

    Returns:
        A scalar tensor (summed over the batch).
    """
    dh = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    dw = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    s = dh.pow(2) + dw.pow(2)
    return s.sum() if beta == 2 else (s + eps).pow(beta / 2).sum()


# ---------------------------------------------------------------------------------------------
# Regularizers for gradient-ascent image synthesis (CS231n; Yosinski et al. 2015).
#
# Each one is a plain function on a normalised image batch ``[N, 3, H, W]`` so it can be switched
# on or off independently; :func:`cnnviz_helpers.class_visualization.class_visualization` and
# :func:`cnnviz_helpers.deepdream.deepdream` apply them after every gradient step. In normalised
# space the value 0 is the dataset's mean colour, so "clipping a pixel to zero" paints it grey-ish.
# ---------------------------------------------------------------------------------------------


def pixel_range(mean: Sequence[float], std: Sequence[float], like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel bounds ``((0 - mean) / std, (1 - mean) / std)`` of the normalised values that are real pixels.

    Returns two ``[1, C, 1, 1]`` tensors with ``like``'s dtype and device.
    """
    m = torch.as_tensor(mean, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)
    return -m / s, (1 - m) / s


def clamp_pixels(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Clamp a normalised image to the values that map back to pixels in [0, 1], channel by channel.

    This is CS231n's "clamp to the valid pixel range" after each ascent step: without it the image
    drifts to values no camera could record.

    Example:
        >>> x = clamp_pixels(x, km.mean, km.std)
        >>> km.deprocess(x)   # no clipping happens in here any more
    """
    lo, hi = pixel_range(mean, std, x)
    return torch.maximum(torch.minimum(x, hi), lo)


def l2_decay(x: torch.Tensor, decay: float) -> torch.Tensor:
    r"""Yosinski's L2 decay :math:`r(x) = (1 - \theta_\text{decay})\,x`: shrink every value towards the mean colour.

    One step of weight decay on the image; it keeps a few extreme pixels from dominating.
    ``decay=0`` returns ``x`` itself.
    """
    if not 0 <= decay < 1:
        raise ValueError(f"decay must be in [0, 1), got {decay}")
    return x * (1 - decay) if decay else x


def blur_every(x: torch.Tensor, step: int, every: int, sigma: float) -> torch.Tensor:
    """Gaussian-blur ``x`` (standard deviation ``sigma`` pixels) when ``step % every == 0``; otherwise return ``x``.

    Blurring now and then (CS231n: every 10 steps, sigma 0.5; Yosinski: every 4 steps, sigma 0.5–1)
    removes the high-frequency patterns gradient ascent is prone to produce. ``every <= 0`` or
    ``sigma <= 0`` switches it off.

    Example:
        >>> for t in range(100):
        ...     x = blur_every(x, t, every=10, sigma=0.5)
    """
    if every <= 0 or sigma <= 0 or step % every:
        return x
    return gaussian_blur(x, sigma)


def _check_percentile(percentile: float) -> None:
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")


def _zero_below_percentile(x: torch.Tensor, score: torch.Tensor, percentile: float) -> torch.Tensor:
    """Zero every pixel (all channels) whose ``score`` ``[N, H, W]`` is below its image's ``percentile``."""
    flat = score.flatten(1)
    threshold = torch.quantile(flat, percentile / 100, dim=1, keepdim=True)
    keep = (flat >= threshold).view_as(score).unsqueeze(1)
    return x * keep


def clip_small_norm(x: torch.Tensor, percentile: float) -> torch.Tensor:
    r"""Yosinski's "clipping pixels with small norm": zero the pixels whose colour vector is short.

    For each pixel the norm :math:`\lVert x_{:,i,j}\rVert_2` over the channels is computed; pixels
    below the ``percentile``-th percentile of their image (0–100, e.g. 10) are set to 0 (the mean
    colour). Only the strongest pixels survive, which gives a sparser, more object-like image.
    ``percentile=0`` switches it off.

    Example:
        >>> x = clip_small_norm(x, 20)       # the weakest 20 % of pixels become the mean colour
    """
    _check_percentile(percentile)
    return _zero_below_percentile(x, x.norm(dim=1), percentile) if percentile else x


def clip_small_contribution(x: torch.Tensor, grad: torch.Tensor, percentile: float) -> torch.Tensor:
    r"""Yosinski's "clipping pixels with small contribution" to the objective.

    The contribution of pixel :math:`(i, j)` is the first-order estimate of how much the objective
    changes when the pixel is set to 0: :math:`\big|\sum_c x_{c,i,j}\,\partial f/\partial x_{c,i,j}\big|`
    (absolute value: large changes in either direction count). Pixels below the ``percentile``-th
    percentile of their image are set to 0; ``percentile=0`` switches it off.

    Args:
        x: normalised images ``[N, C, H, W]``.
        grad: gradient of the objective with respect to ``x`` (same shape).
        percentile: 0–100.
    """
    if grad.shape != x.shape:
        raise ValueError(f"grad must have the shape of x {tuple(x.shape)}, got {tuple(grad.shape)}")
    _check_percentile(percentile)
    return _zero_below_percentile(x, (x * grad).sum(1).abs(), percentile) if percentile else x


def random_jitter(
    x: torch.Tensor, max_jitter: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Roll ``x`` by a random offset ``(ox, oy)``, each uniform in ``[-max_jitter, max_jitter]``.

    Returns the rolled image and the offset. ``images.jitter(y, -ox, -oy)`` undoes it exactly
    (rolling only permutes pixels). The roll is differentiable: taking the gradient of an objective
    on the rolled image with respect to ``x`` gives the gradient rolled back — the same as CS231n's
    jitter-the-data / step / un-jitter, with the undo done by autograd. The offsets are drawn
    on the CPU from ``generator``, so a seeded generator repeats them on any device.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y, (ox, oy) = random_jitter(x, 16, g)
        >>> torch.equal(jitter(y, -ox, -oy), x)
        True
    """
    if max_jitter <= 0:
        return x, (0, 0)
    ox, oy = (int(v) for v in torch.randint(-max_jitter, max_jitter + 1, (2,), generator=generator))
    return jitter(x, ox, oy), (ox, oy)
