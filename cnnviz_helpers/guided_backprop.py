r"""Guided backpropagation (Springenberg, Dosovitskiy, Brox & Riedmiller 2015), lecture section 5.

Backpropagate from a class score or from one unit inside the network to the image, but at every
ReLU let through only *positive* gradients, and only where the ReLU's input was positive:

.. math:: R^{(l)} = \mathbb 1\big[f^{(l)} > 0\big] \cdot \mathbb 1\big[R^{(l+1)} > 0\big] \cdot R^{(l+1)}

Plain backprop keeps the first indicator only; the "deconvnet" of Zeiler & Fergus (2014) keeps the
second only. Keeping both suppresses the negative evidence from the layers above and gives sharp,
image-like pictures of what a neuron responds to.

How it is done here: a tensor hook on the output of every ``nn.ReLU`` (through
:meth:`cnnviz_helpers.Hooks.output_grad`, registered at forward time) clamps the gradient arriving
at that output to :math:`\ge 0`; the ReLU's own backward then applies the first indicator. The hook
is attached on every call, so in-place ReLUs (SqueezeNet, VGG, ShapesNet) and a ReLU module called
twice per block (ResNet) are handled; everything is removed afterwards.

The rule is only defined for ReLU networks whose ReLUs are modules. While the forward pass runs,
the method watches every PyTorch function call and raises a clear ``ValueError`` — rather than
return a silently wrong map — when the network applies a ReLU as a *function* (``F.relu``,
``torch.relu``, ``x.relu()``: e.g. torchvision's ``googlenet``), or uses another activation
(SiLU, GELU, ELU, LeakyReLU, ReLU6/Hardtanh, Hardswish, Mish, Softplus …) as module or function.

Example:
    >>> km = load_model()
    >>> x = km.preprocess(km.examples[0].image)
    >>> g = guided_backprop(km.model, x)                                   # predicted class
    >>> u = guided_backprop(km.model, x, Unit(km.spec.layers[-1], 7, "max"))   # one unit
    >>> show_images([km.deprocess(x), normalize(g), normalize(u)])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .core.layers import Hooks
from .engines.scores import input_gradient
from .models.loading import KitModel
from .models.targets import Target, Unit, resolve_target, unwrap

#: Activation functions (PyTorch function names) guided backprop has no rule for.
UNSUPPORTED_ACTIVATIONS = frozenset(
    "silu gelu elu selu celu leaky_relu rrelu prelu hardtanh relu6 hardswish mish softplus glu softsign".split()
)


class _ActivationGuard(TorchFunctionMode):
    """Watches a forward pass for activations the ReLU hooks cannot see; raises on the first one.

    A forward pre-hook on each ``nn.ReLU`` counts the module calls; every ReLU *function* call
    beyond that count comes from outside an ``nn.ReLU`` module, i.e. is functional.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model_name = type(model).__name__
        self.module_calls = 0
        self.relu_calls = 0

    def count_module(self, _m: nn.Module, _inputs: Any) -> None:
        self.module_calls += 1

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", "").rstrip("_")
        if name in UNSUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"guided backprop is defined for ReLU networks, but {self.model_name} applies {name!r} "
                "in its forward pass; there is no guided rule for it. Use a ReLU network "
                "(squeezenet1_1, vgg16, resnet18, the kit's ShapesNet) or a method without ReLU-specific "
                "rules (saliency_map, smoothgrad, grad_cam)."
            )
        if name == "relu":
            self.relu_calls += 1
            if self.relu_calls > self.module_calls:
                raise ValueError(
                    f"{self.model_name} applies ReLU as a function (F.relu / torch.relu / x.relu()), not as an "
                    "nn.ReLU module — e.g. torchvision's googlenet does. Guided backprop changes the backward "
                    "pass of nn.ReLU modules, so the map would be silently wrong. Use a model whose ReLUs are "
                    "nn.ReLU modules (squeezenet1_1, vgg16, resnet18, ShapesNet), or replace the functional "
                    "calls by nn.ReLU modules."
                )
        return func(*args, **(kwargs or {}))


def _positive(grad: torch.Tensor) -> torch.Tensor:
    """The guided rule's extra step: keep only the positive part of the gradient reaching a ReLU output."""
    return grad.clamp(min=0)


def guided_backprop(model: nn.Module | KitModel, x: torch.Tensor, target: Target | Unit = None) -> torch.Tensor:
    r"""Guided backpropagation map of a class score, or of one unit of an intermediate layer.

    For a class target: the gradient of its unnormalised score (as in
    :func:`cnnviz_helpers.saliency.saliency_map`), with the guided ReLU rule. For a
    :class:`~cnnviz_helpers.models.targets.Unit`: the gradient of that unit's activation — the
    channel's mean over the map (``position=None``), its strongest position in each image
    (``"max"``, Springenberg's "reconstruction of the maximally activated neuron"), the centre
    neuron or a given ``(row, col)``; the forward pass then stops at the unit's layer.

    Args:
        model: a ReLU network whose ReLUs are ``nn.ReLU`` modules (in place or not); left exactly as it was.
        x: normalised batch ``[N, 3, H, W]``.
        target: class per image / one class / ``None`` for the predicted class, or a ``Unit``.

    Returns:
        ``[N, 3, H, W]`` signed gradient on the model's device (show it with
        :func:`cnnviz_helpers.normalize`, or take ``.abs().amax(1)`` for a heatmap).

    Raises:
        ValueError: the network applies ReLU as a function, or uses another activation (see module docstring).
        KeyError, IndexError: unknown layer (with close names), channel or position out of range.

    Example:
        >>> g = guided_backprop(km.model, x, target=km.examples[0].label)
        >>> unit = guided_backprop(km.model, x, Unit("features.10", 3, "max"))
    """
    target = resolve_target(model, target)
    model = unwrap(model)[0]
    guard = _ActivationGuard(model)
    with Hooks(model) as hooks, guard:
        for module in model.modules():
            if isinstance(module, nn.ReLU):
                hooks.forward_pre(module, guard.count_module)
                hooks.output_grad(module, _positive)
        return input_gradient(model, x, target)
