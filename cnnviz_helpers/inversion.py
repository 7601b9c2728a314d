"""Feature inversion (lecture section 9): what does a layer remember about an image?

Mahendran & Vedaldi (2015) look for an image whose features at one layer match those of a given
image, starting from random noise, with a total-variation prior that keeps the result a natural
picture. Reconstructions from shallow layers are nearly photographic; from deep layers only the
parts the network needs for its decision survive (shape, layout), colour and texture drift.

Example:
    >>> km = load_model()
    >>> x = km.preprocess(km.examples[0].image)
    >>> rec = feature_inversion(km, x, km.spec.layers[1])
    >>> show_images([km.deprocess(x[0]), km.deprocess(rec[0])], ["original", "reconstruction"])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from tqdm.auto import trange

from .core.images import from_pixels, to_pixels
from .core.layers import capture
from .core.options import Callback
from .core.regularizers import tv_loss
from .models.loading import KitModel
from .models.targets import model_device, stop_requested, unwrap


def feature_inversion(
    model: nn.Module | KitModel,
    x: torch.Tensor,
    layer: str,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    tv_weight: float = 0.3,
    beta: float = 2.0,
    steps: int = 200,
    lr: float = 0.1,
    seed: int | None = 0,
    init: torch.Tensor | None = None,
    callback: Callback | None = None,
    progress: bool = True,
) -> torch.Tensor:
    r"""Reconstruct ``x`` from its features at ``layer`` (Mahendran & Vedaldi 2015).

    Minimises, over the pixel image :math:`p \in [0, 1]^{3\times H\times W}`,

    .. math::
        \frac{\|\Phi(p) - \Phi_0\|_2^2}{\|\Phi_0\|_2^2}
        \;+\; \lambda\,\frac{1}{HW}\sum_{c,i,j}\Big((p_{c,i+1,j}-p_{c,i,j})^2 + (p_{c,i,j+1}-p_{c,i,j})^2\Big)^{\beta/2}

    where :math:`\Phi` is the output of ``layer`` and :math:`\Phi_0 = \Phi(x)`. Dividing by
    :math:`\|\Phi_0\|^2` (as the paper does) makes the feature term start near 1 at every layer (from noise), and
    dividing the total variation (:func:`cnnviz_helpers.core.regularizers.tv_loss`) by :math:`HW` (the
    paper's :math:`HWB^\beta` with pixel range :math:`B = 1`) makes ``tv_weight`` independent of
    the image size. Optimised with Adam (cosine learning-rate decay) from seeded random noise;
    pixels are clipped to [0, 1] after every step. The forward pass stops at ``layer`` (deeper
    layers are never computed) and no hook is left on the model.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or any ``nn.Module`` (left exactly as it was).
        x: normalised images ``[N, 3, H, W]`` to reconstruct (``km.preprocess``).
        layer: the layer whose output is inverted, e.g. one of ``km.spec.layers``.
        mean, std: the input normalisation; default: the KitModel's, else ImageNet's.
        tv_weight: :math:`\lambda`; larger → smoother, less detailed reconstructions.
        beta: the TV exponent :math:`\beta` (2: CS231n; 1–2 in the paper, smaller keeps sharper edges).
        steps: optimisation steps.
        lr: Adam's initial learning rate (pixel units), decayed to 0 along a cosine.
        seed: seed of the random start (``None``: use the global generator).
        init: the normalised starting image(s) instead of random noise.
        callback: ``callback(step, image) -> stop?`` after every step, ``image`` the current
            normalised reconstruction (detached) — e.g. to update a
            :func:`cnnviz_helpers.ui.widgets.live_image`; returning ``True`` stops early and returns
            the reconstruction so far.
        progress: show a tqdm progress bar with the two loss terms.

    Returns:
        The reconstruction(s), normalised like ``x`` (use ``km.deprocess``).

    Raises:
        KeyError: ``layer`` does not exist (the message lists close names).

    Example:
        >>> grid = [feature_inversion(km, x, name) for name in km.spec.layers]
        >>> show_images([km.deprocess(r[0]) for r in grid], titles=list(km.spec.layers))
    """
    net, mean, std = unwrap(model, mean, std)
    x = x.detach().to(model_device(net))
    if init is None:
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        noise = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
        p = (0.5 + 0.1 * noise).clamp(0, 1)
    else:
        p = to_pixels(init.detach().to(x), mean, std).clamp(0, 1)
    p.requires_grad_(True)
    area = x.shape[-2] * x.shape[-1]
    opt = torch.optim.Adam([p], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    with capture(net, layer, stop=True) as acts:
        with torch.no_grad():
            acts.run(x)
        target = acts[layer].detach()
        scale = target.flatten(1).pow(2).sum(1).clamp_min(1e-12)
        bar = trange(steps, desc=f"inverting {layer}", disable=not progress, leave=False)
        for step in bar:
            acts.run(from_pixels(p, mean, std))
            feature = ((acts[layer] - target).flatten(1).pow(2).sum(1) / scale).sum()
            tv = tv_loss(p, beta) / area
            opt.zero_grad(set_to_none=True)
            (feature + tv_weight * tv).backward()
            opt.step()
            schedule.step()
            with torch.no_grad():
                p.clamp_(0, 1)
            bar.set_postfix(feature=f"{feature.item():.3g}", tv=f"{tv.item():.3g}")
            if stop_requested(callback, step + 1, from_pixels(p, mean, std).detach()):
                break
    return from_pixels(p, mean, std).detach()
