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

from typing import Any

import torch

from .core.config import seeded_generator
from .core.images import to_pixels
from .core.layers import capture
from .core.options import Schedule
from .core.regularizers import tv_loss
from .core.synthesis import Pixels, clamp_prior, cosine_lr, optimize
from .models.targets import ModelLike, model_device, unwrap

INVERSION_LR = 0.1  # Adam's initial learning rate, in pixel units
INVERSION = Schedule(steps=200, lr=INVERSION_LR)  # decayed to 0 along a cosine


def feature_inversion(
    model: ModelLike,
    x: torch.Tensor,
    layer: str,
    *,
    tv_weight: float = 0.3,
    beta: float = 2.0,
    init: torch.Tensor | None = None,
    schedule: Schedule | None = None,
    **options: Any,
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
    pixels are clipped to [0, 1] after every step, on the kit's shared synthesis loop
    (:func:`~cnnviz_helpers.core.synthesis.optimize`). The forward pass stops at ``layer`` (deeper
    layers are never computed) and no hook is left on the model.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or any ``nn.Module`` (ImageNet normalisation;
            :meth:`~cnnviz_helpers.KitModel.wrap` it for another). Left exactly as it was.
        x: normalised images ``[N, 3, H, W]`` to reconstruct (``km.preprocess``).
        layer: the layer whose output is inverted, e.g. one of ``km.spec.layers``.
        tv_weight: :math:`\lambda`; larger → smoother, less detailed reconstructions.
        beta: the TV exponent :math:`\beta` (2: CS231n; 1–2 in the paper, smaller keeps sharper edges).
        init: the normalised starting image(s) instead of random noise.
        schedule: :class:`~cnnviz_helpers.core.options.Schedule` (default :data:`INVERSION`), or its
            fields as keywords: ``steps`` (200), ``lr`` (Adam's initial rate in pixel units, 0.1,
            decayed to 0 along a cosine), ``seed`` (of the random start), ``callback``
            (``callback(step, image) -> stop?`` every ``callback_every`` steps and after the last,
            ``image`` the current normalised reconstruction; ``True`` stops early and returns it),
            ``callback_every``, ``progress`` (a tqdm bar with the loss).

    Returns:
        The reconstruction(s), normalised like ``x`` (use ``km.deprocess``).

    Raises:
        KeyError: ``layer`` does not exist (the message lists close names).

    Example:
        >>> grid = [feature_inversion(km, x, name) for name in km.spec.layers]
        >>> show_images([km.deprocess(r[0]) for r in grid], titles=list(km.spec.layers))
    """
    schedule = Schedule.resolve(schedule, options, INVERSION)
    net, mean, std = unwrap(model)
    x = x.detach().to(model_device(net))
    if init is None:
        noise = torch.randn(x.shape, generator=seeded_generator(schedule.seed), dtype=x.dtype).to(x.device)
        start = (0.5 + 0.1 * noise).clamp(0, 1)
    else:
        start = to_pixels(init.detach().to(x), mean, std).clamp(0, 1)
    param = Pixels(start, mean, std)
    area = x.shape[-2] * x.shape[-1]
    lr = INVERSION_LR if schedule.lr is None else schedule.lr
    with capture(net, layer, stop=True) as acts:
        with torch.no_grad():
            acts.run(x)
        target = acts[layer].detach()
        scale = target.flatten(1).pow(2).sum(1).clamp_min(1e-12)

        def loss(image: torch.Tensor) -> dict[str, torch.Tensor]:
            acts.run(image)
            feature = ((acts[layer] - target).flatten(1).pow(2).sum(1) / scale).sum()
            return {"feature": feature, "tv": tv_weight * tv_loss(param.variable, beta) / area}

        optimizer = torch.optim.Adam([param.variable], lr=lr)
        optimize(param, loss, optimizer, schedule, prior=clamp_prior(0.0, 1.0), lr_at=cosine_lr(lr, schedule.steps),
                 record={} if schedule.progress else None, desc=f"inverting {layer}")  # fmt: skip
    return param.snapshot()
