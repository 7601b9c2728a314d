r"""Grad-CAM and guided Grad-CAM (Selvaraju et al. 2017), lecture section 5 — plus the section's widget.

Grad-CAM weighs the feature maps :math:`A^k` of a convolutional layer by how much the class score
:math:`S_c` (pre-softmax) depends on them on average, and keeps the positive part:

.. math:: \alpha_k^c = \frac{1}{hw} \sum_{i,j} \frac{\partial S_c}{\partial A^k_{ij}}, \qquad
          L^c_{\text{Grad-CAM}} = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)

The result has the layer's (coarse) resolution and is upsampled to the image. It is class
discriminative but blurry; guided backprop is sharp but hardly class discriminative; their
product, *guided Grad-CAM*, is both.

Example:
    >>> km = load_model()
    >>> x = km.preprocess(km.examples[0].image)
    >>> cam = grad_cam(km.model, x, km.spec.last_conv)[0]          # [H, W], predicted class
    >>> show_images([overlay(km.deprocess(x), cam, alpha=0.5)])
    >>> display(attribution_widget(km))                             # image × method × class × layer
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .core.layers import Hooks
from .engines.scores import class_scores
from .guided_backprop import guided_backprop
from .models.loading import KitModel
from .models.targets import Target, model_input, resolve_target, unwrap


def grad_cam(
    model: nn.Module | KitModel,
    x: torch.Tensor,
    layer: str,
    target: Target = None,
    relu: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    r"""Grad-CAM map of ``target`` at the convolutional layer ``layer``.

    One forward pass and one backward pass from the scores down to ``layer`` only (the layer's
    output is made the leaf of the backward pass, so nothing below it is differentiated).

    Args:
        model: the network; left exactly as it was.
        x: normalised batch ``[N, 3, H, W]``.
        layer: a layer whose output is a ``[N, C, h, w]`` feature map, called once per forward pass
            (``km.spec.last_conv`` is the usual choice; shallower layers give finer, less
            class-specific maps).
        target: class per image / one class / ``None`` for the predicted class.
        relu: keep only the positive part (the paper's choice); ``False`` gives the signed map.
        upsample: resize bilinearly to the input's ``H x W``; ``False`` keeps the layer's ``h x w``.

    Returns:
        ``[N, H, W]`` (or ``[N, h, w]``) maps, on the model's device, not normalised.

    Raises:
        KeyError: unknown layer (with close names).
        ValueError: the layer's output is not a 4-D feature map, or the layer runs more than once
            per forward pass (like ResNet's ``layerK.M.relu``: pick the block ``layerK.M`` instead).

    Example:
        >>> cams = grad_cam(km.model, x, "features.12", target=[3, 7])   # two images, two classes
    """
    target = resolve_target(model, target)
    model = unwrap(model)[0]
    recorded: list[torch.Tensor] = []

    def record(_m: nn.Module, _inputs: Any, out: Any) -> torch.Tensor:
        if not isinstance(out, torch.Tensor) or out.ndim != 4:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"Grad-CAM needs a layer with a [N, C, h, w] feature map; {layer!r} returns {shape}")
        acts = out.detach().requires_grad_(True)  # the leaf the backward pass stops at
        recorded.append(acts)
        return acts.clone()  # the rest of the network (and any in-place op in it) works on a copy

    with Hooks(model) as hooks:
        hooks.forward(layer, record)
        logits = model(model_input(model, x))
        if len(recorded) != 1:
            raise ValueError(
                f"{layer!r} ran {len(recorded)} times in one forward pass; Grad-CAM needs a layer that runs "
                "once (for a module reused inside a block, like ResNet's layer4.1.relu, pick the block: layer4.1)"
            )
        (grads,) = torch.autograd.grad(class_scores(logits, target).sum(), recorded[0])
    weights = grads.mean((2, 3), keepdim=True)  # alpha_k: global-average-pooled gradients
    cam = (weights * recorded[0].detach()).sum(1)
    cam = cam.clamp(min=0) if relu else cam
    if upsample:
        cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return cam


def guided_grad_cam(model: nn.Module | KitModel, x: torch.Tensor, layer: str, target: Target = None) -> torch.Tensor:
    r"""Guided Grad-CAM: guided backprop (sharp) times the upsampled Grad-CAM map (class discriminative).

    .. math:: \text{Guided Grad-CAM} = \text{GuidedBackprop}_c(x) \odot \mathrm{upsample}\big(L^c_{\text{Grad-CAM}}\big)

    Args and errors: as :func:`grad_cam` and :func:`cnnviz_helpers.guided_backprop.guided_backprop`.

    Returns:
        ``[N, 3, H, W]`` signed map on the model's device.

    Example:
        >>> g = guided_grad_cam(km.model, x, km.spec.last_conv, target=km.examples[0].label)
        >>> show_images([normalize(g[0])])
    """
    return guided_backprop(model, x, target) * grad_cam(model, x, layer, target)[:, None]
