r"""Integrated Gradients (Sundararajan, Taly & Yan 2017): beyond the lecture, next to saliency (section 5).

A saliency map is the gradient at the image alone. Where the network is saturated (the class is
already certain, a ReLU is off) that gradient is small although the pixels matter, so it can miss
them. Integrated Gradients accumulates the gradient along the straight path from a *baseline*
:math:`x'` (an image with "no signal") to the image :math:`x`:

.. math:: \mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1
          \frac{\partial F\big(x' + \alpha (x - x')\big)}{\partial x_i}\, d\alpha

where :math:`F` is the unnormalised score of the target class (or a unit's activation).

**Completeness.** By the fundamental theorem of calculus along the path, the attributions add up
to the change of the score between the baseline and the image:

.. math:: \sum_i \mathrm{IG}_i(x) = F(x) - F(x')

so every bit of the score difference is assigned to some pixel (the gradient × input of a
saliency map has no such guarantee for a non-linear network).

**The Riemann rule.** The integral is a sum over ``steps`` = :math:`m` points of the path,

.. math:: \mathrm{IG}_i(x) \approx (x_i - x'_i) \sum_{k=1}^{m} w_k\,
          \frac{\partial F\big(x' + \alpha_k (x - x')\big)}{\partial x_i}, \qquad w_k = \frac1m

with :math:`\alpha_k = k/m` (``"riemann_right"``, the paper's Eq. 3), :math:`(k-1)/m`
(``"riemann_left"``) or :math:`(k-\tfrac12)/m` (``"riemann_middle"``, the default: its error falls
as :math:`1/m^2` for a smooth path, against :math:`1/m` for the other two). Completeness holds up
to that error — the paper suggests 20 to 300 steps, checking :math:`\sum_i \mathrm{IG}_i` against
:math:`F(x) - F(x')`. The result equals ``captum.attr.IntegratedGradients(model).attribute(x,
baselines, target=target, n_steps=steps, method=method)``; here the path points go through the
network ``batch_size`` images at a time and only the target class's score is computed.

Example:
    >>> x = km.preprocess(km.examples[0].image)
    >>> ig = integrated_gradients(km, x)                    # [1, 3, H, W], predicted class
    >>> ig.sum(), km.model(x)[0].max() - km.model(torch.zeros_like(x))[0, km.model(x).argmax()]   # completeness
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from .core.layers import Hooks
from .engines.scores import input_gradient
from .models.loading import KitModel
from .models.targets import Target, Unit, class_targets, model_input, resolve_target, unwrap

#: The Riemann rules (Captum's names) → the path positions :math:`\alpha_k` for ``m`` steps (Captum's values).
RULES = {
    "riemann_left": lambda m: torch.linspace(0, 1 - 1 / m, m),
    "riemann_right": lambda m: torch.linspace(1 / m, 1, m),
    "riemann_middle": lambda m: torch.linspace(1 / (2 * m), 1 - 1 / (2 * m), m),
}
#: Path images per forward/backward pass. On a 2-core CPU, 50 steps of squeezenet1_1 at 224 px took
#: 34 s in passes of 8, 17 s of 16, 14.5 s of 25 and 12 s of 50 (Captum, one pass of 50: 21 s);
#: 32 keeps most of the gain at a bounded memory cost.
CPU_BATCH, GPU_BATCH = 32, 64


def integrated_gradients(
    model: nn.Module | KitModel,
    x: torch.Tensor,
    target: Target | Unit = None,
    *,
    baseline: float | torch.Tensor | None = None,
    steps: int = 50,
    method: str = "riemann_middle",
    batch_size: int | None = None,
    progress: bool = True,
) -> torch.Tensor:
    r"""Integrated Gradients of ``target`` for each image of ``x``: ``(x - baseline) ×`` the mean path gradient.

    Args:
        model: the network; left exactly as it was.
        x: normalised batch ``[N, 3, H, W]``.
        target: class per image / one class / ``None`` for each image's predicted class (of the
            image itself, so every path point explains the same class), or a
            :class:`~cnnviz_helpers.models.targets.Unit`.
        baseline: the path's start in the *normalised* input space, a number or a tensor
            broadcastable to ``x``; default ``None`` = zeros, i.e. the dataset's mean colour (a
            uniform grey for ImageNet statistics), as Captum's default. For a black image pass
            ``km.preprocess(black_picture)``.
        steps: path points :math:`m` (at least 1).
        method: the Riemann rule, ``"riemann_middle"`` (default), ``"riemann_right"`` or ``"riemann_left"``.
        batch_size: path images per forward/backward pass (default 32 on the CPU, 64 on a GPU);
            lower it if memory is short.
        progress: show a progress bar over the passes.

    Returns:
        ``[N, 3, H, W]`` signed attributions on the model's device; their sum over a pixel's
        channels and all pixels is :math:`\approx F(x) - F(\text{baseline})`.

    Raises:
        ValueError: ``steps`` or ``batch_size`` below 1, an unknown ``method``.

    Example:
        >>> ig = integrated_gradients(km.model, x, target=3, steps=100)
        >>> show_images([attribution_heatmap(ig)[0]], cmap="inferno")
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if method not in RULES:
        raise ValueError(f"method must be one of {', '.join(RULES)}, got {method!r}")
    target = resolve_target(model, target)
    model = unwrap(model)[0]
    x = model_input(model, x)
    n = x.shape[0]
    start = torch.zeros_like(x) if baseline is None else torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    if batch_size is None:
        batch_size = CPU_BATCH if x.device.type == "cpu" else GPU_BATCH
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(target, Unit):
        targets: Unit | torch.Tensor = target
    else:
        with Hooks(model), torch.no_grad():
            targets = class_targets(model(x), target)  # the image's class: the same for every path point
    alphas = RULES[method](steps).to(x.dtype).to(x.device)
    passes = -(-steps // max(1, batch_size // n))
    per_pass = -(-steps // passes)  # path points per pass (each with all N images), spread evenly over the passes
    total = torch.zeros_like(x)
    for i in tqdm(range(0, steps, per_pass), desc="Integrated Gradients", disable=not progress, leave=False):
        a = alphas[i : i + per_pass].view(-1, 1, 1, 1, 1)
        path = (start + a * (x - start)).flatten(0, 1)  # [points * N, 3, H, W], point-major
        grads = input_gradient(model, path, targets if isinstance(targets, Unit) else targets.repeat(len(a)))
        total += grads.view(len(a), *x.shape).sum(0)
    return total / steps * (x - start)
