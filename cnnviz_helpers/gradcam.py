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
    >>> cam = grad_cam(km, x)[0]               # [H, W], predicted class, at the last conv layer
    >>> show_images([overlay(km.deprocess(x), cam, alpha=0.5)])
    >>> display(attribution_widget(km))                             # image × method × class × layer
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .core.layers import Hooks, layer_names
from .engines.scores import target_scores
from .guided_backprop import guided_backprop
from .models.loading import KitModel
from .models.targets import ModelLike, Target, Unit, model_input, resolve_target, unwrap

#: Modules that act on each channel separately: the last conv layer's "block" includes those that follow it.
_CHANNELWISE = (nn.BatchNorm2d, nn.ReLU)


def last_conv_layer(model: ModelLike) -> str:
    """The default Grad-CAM layer: ``km.spec.last_conv`` for a KitModel; for a plain ``nn.Module``
    its last ``nn.Conv2d``, together with the ``BatchNorm2d`` / ``ReLU`` modules that directly follow
    it in the same container (so ShapesNet's block gives ``features.14``, as its spec says).

    Raises:
        ValueError: the model has no ``nn.Conv2d``.
    """
    if isinstance(model, KitModel) and model.spec.last_conv:
        return model.spec.last_conv
    net = unwrap(model)[0]
    convs = layer_names(net, nn.Conv2d)
    if not convs:
        raise ValueError(f"{type(net).__name__} has no nn.Conv2d layer: pass Grad-CAM's layer= yourself")
    parent_name, _, child = convs[-1].rpartition(".")
    parent = net.get_submodule(parent_name)
    names = [n for n, _ in parent.named_children()]
    last = child
    for name in names[names.index(child) + 1 :]:
        if not isinstance(getattr(parent, name), _CHANNELWISE):
            break
        last = name
    return f"{parent_name}.{last}" if parent_name else last


def grad_cam(
    model: nn.Module | KitModel,
    x: torch.Tensor,
    target: Target | Unit = None,
    *,
    layer: str | None = None,
    relu: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    r"""Grad-CAM map of ``target`` at the convolutional layer ``layer``.

    One forward pass and one backward pass from the scores down to ``layer`` only (the layer's
    output is made the leaf of the backward pass, so nothing below it is differentiated).

    Args:
        model: the network; left exactly as it was.
        x: normalised batch ``[N, 3, H, W]``.
        target: class per image / one class / ``None`` for the predicted class, or a
            :class:`~cnnviz_helpers.models.targets.Unit` of a layer deeper than ``layer``.
        layer: a layer whose output is a ``[N, C, h, w]`` feature map, called once per forward pass;
            default: the last convolutional layer (:func:`last_conv_layer`); shallower layers give
            finer, less class-specific maps.
        relu: keep only the positive part (the paper's choice); ``False`` gives the signed map.
        upsample: resize bilinearly to the input's ``H x W``; ``False`` keeps the layer's ``h x w``.

    Returns:
        ``[N, H, W]`` (or ``[N, h, w]``) maps, on the model's device, not normalised.

    Raises:
        KeyError: unknown layer (with close names).
        ValueError: the layer's output is not a 4-D feature map, the layer runs more than once
            per forward pass (like ResNet's ``layerK.M.relu``: pick the block ``layerK.M`` instead),
            or a ``Unit`` target's layer comes before ``layer``.

    Example:
        >>> cams = grad_cam(km.model, x, [3, 7], layer="features.12")   # two images, two classes
    """
    target = resolve_target(model, target)
    layer = last_conv_layer(model) if layer is None else layer
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
        scores = target_scores(model, model_input(model, x), target)
        if not recorded and isinstance(target, Unit):
            raise ValueError(f"the forward pass stops at the unit's layer {target.layer!r} before Grad-CAM's layer {layer!r}: "
                             "pick a Grad-CAM layer below the unit")  # fmt: skip
        if len(recorded) != 1:
            raise ValueError(
                f"{layer!r} ran {len(recorded)} times in one forward pass; Grad-CAM needs a layer that runs "
                "once (for a module reused inside a block, like ResNet's layer4.1.relu, pick the block: layer4.1)"
            )
        (grads,) = torch.autograd.grad(scores.sum(), recorded[0])
    weights = grads.mean((2, 3), keepdim=True)  # alpha_k: global-average-pooled gradients
    cam = (weights * recorded[0].detach()).sum(1)
    cam = cam.clamp(min=0) if relu else cam
    if upsample:
        cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return cam


def guided_grad_cam(
    model: nn.Module | KitModel, x: torch.Tensor, target: Target | Unit = None, *, layer: str | None = None
) -> torch.Tensor:
    r"""Guided Grad-CAM: guided backprop (sharp) times the upsampled Grad-CAM map (class discriminative).

    .. math:: \text{Guided Grad-CAM} = \text{GuidedBackprop}_c(x) \odot \mathrm{upsample}\big(L^c_{\text{Grad-CAM}}\big)

    Args and errors: as :func:`grad_cam` and :func:`cnnviz_helpers.guided_backprop.guided_backprop`.

    Returns:
        ``[N, 3, H, W]`` signed map on the model's device.

    Example:
        >>> g = guided_grad_cam(km, x, km.examples[0].label)
        >>> show_images([normalize(g[0])])
    """
    return guided_backprop(model, x, target) * grad_cam(model, x, target, layer=layer)[:, None]
