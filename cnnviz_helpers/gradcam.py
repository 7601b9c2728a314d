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

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import budget
from .guided_backprop import guided_backprop
from .layers import Hooks
from .models import KitModel, unwrap
from .plotting import normalize, overlay
from .saliency import Target, model_input, saliency_map, smoothgrad
from .scores import class_scores


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


METHODS = ("saliency", "SmoothGrad", "guided backprop", "Grad-CAM", "guided Grad-CAM")


def _heat(amap: torch.Tensor) -> np.ndarray:
    """One map → an ``HxW`` heatmap in [0, 1] (absolute value, max over colour channels)."""
    a = amap.detach().float().abs()
    return normalize(a.amax(0) if a.ndim == 3 else a)


def attribution_widget(km: KitModel, method: str = "saliency", size: int = 256) -> Any:
    """Interactive panel for this section: image × method × target class (top-5) × layer / unit × opacity.

    Shows ``image | map | overlay``; ``method`` is the method selected first (one of
    :data:`METHODS`). The layer picker is the Grad-CAM layer; for guided backprop a unit channel
    ≥ 0 explains that channel of the layer (at its strongest position) instead of the class.
    Moving the opacity slider only redraws; the other controls recompute the map.

    Example:
        >>> display(attribution_widget(km))
    """
    import ipywidgets as w

    from .widgets import image_picker, layer_picker, to_png

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    image = image_picker(km)
    method_w = w.Dropdown(options=METHODS, value=method, description="method")
    target = w.Dropdown(options=[], description="class")
    layer = layer_picker(km, value=km.spec.last_conv)
    unit = w.BoundedIntText(value=-1, min=-1, max=4095, description="unit ch.", tooltip="-1: explain the class score")
    opacity = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="opacity", continuous_update=True)
    view = w.Image(format="png", width=3 * size)
    status = w.Label()
    state: dict[str, Any] = {}

    def redraw(_change: Any = None) -> None:
        if "map" not in state:
            return
        img, amap = state["image"], state["map"]
        picture = normalize(amap.permute(1, 2, 0)) if amap.ndim == 3 else matplotlib.colormaps["hot"](_heat(amap))[..., :3]
        view.value = to_png(np.concatenate([img, picture, overlay(img, _heat(amap), alpha=opacity.value)], axis=1), 3 * size)

    def recompute(_change: Any = None) -> None:
        if state.get("loading"):
            return
        x, c = state["x"], target.value
        try:
            if method_w.value == "saliency":
                amap = saliency_map(km.model, x, c)
            elif method_w.value == "SmoothGrad":
                amap = smoothgrad(km.model, x, c, n_samples=budget(25, 8), seed=0)
            elif method_w.value == "guided backprop" and unit.value >= 0:
                amap = guided_backprop(km.model, x, layer=layer.value, channel=unit.value, position="max")
            elif method_w.value == "guided backprop":
                amap = guided_backprop(km.model, x, c)
            elif method_w.value == "Grad-CAM":
                amap = grad_cam(km.model, x, layer.value, c)
            else:
                amap = guided_grad_cam(km.model, x, layer.value, c)
        except (ValueError, IndexError, KeyError) as err:
            status.value = f"⚠ {err}"
            return
        what = (
            f"unit {layer.value}[{unit.value}]" if method_w.value == "guided backprop" and unit.value >= 0 else km.class_names[c]
        )
        status.value = f"{method_w.value} of {what}"
        state["map"] = amap[0].cpu()
        redraw()

    def new_image(_change: Any = None) -> None:
        x = km.preprocess(image.value)
        with torch.no_grad():
            probs = km.model(x).softmax(-1)[0]
        top = probs.topk(min(5, probs.numel()))
        state.update(x=x, image=km.deprocess(x[0]))
        options = [(f"{km.class_names[int(i)]} ({float(p):.0%})", int(i)) for p, i in zip(top.values, top.indices)]
        state["loading"] = True  # new class options: compute once, below
        target.options = options
        target.value = options[0][1]
        state["loading"] = False
        recompute()

    image.observe(new_image, "value")
    for control in (method_w, target, layer, unit):
        control.observe(recompute, "value")
    opacity.observe(redraw, "value")
    new_image()
    return w.VBox([w.HBox([image, method_w, target]), w.HBox([layer, unit, opacity]), view, status])
