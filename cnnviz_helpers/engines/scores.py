r"""Class scores: the logit of one chosen class per image, computing only that class.

Saliency, guided backprop, SmoothGrad and class visualization differentiate *one* class score per
image, :math:`s_{y_i}(x_i)`, yet a plain forward pass computes all of them. For most ImageNet
networks that is cheap (ResNet's and VGG's last ``Linear`` is a tiny part of the work), but
SqueezeNet's classifier is a 1×1 convolution 512 → 1000 over a 13×13 map, about a quarter of the
network's multiply-adds — and a quarter again in the backward pass. When the classifier layer is
followed only by channel-wise operations (ReLU, global pooling, flatten, dropout), class
:math:`c` needs only row :math:`c` of its weights:

.. math:: s_c(x) = \operatorname{pool}\big(\operatorname{relu}(w_c \ast f(x) + b_c)\big)

:func:`target_scores` runs the network up to the classifier layer (a forward pre-hook stops it),
applies the target rows and then the channel-wise tail. The layer is found by tracing the model
with ``torch.fx`` (once per model) and the shortcut is checked against the full forward pass on
its first use; any model where it is not found, or the check fails, simply gets the full pass.
That machinery lives in :mod:`cnnviz_helpers.engines.score_shortcut`; this module is the reference.

Example:
    >>> x = km.preprocess(km.examples[0].image).requires_grad_()
    >>> s = target_scores(km.model, x, target=3)       # == km.model(x)[:, 3]
    >>> s.sum().backward()
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.layers import Hooks, capture, check_channel
from ..models.targets import ModelLike, Target, Unit, class_targets, model_input, resolve_target, unwrap
from .score_shortcut import head_for, verify_head


def class_scores(logits: torch.Tensor, target: Target = None) -> torch.Tensor:
    """The unnormalised (pre-softmax) score of each image's target class, ``logits[i, target[i]]`` (``[N]``)."""
    if logits.ndim != 2:
        raise ValueError(f"expected class scores of shape [N, classes], the model returned {tuple(logits.shape)}")
    return logits.gather(1, class_targets(logits, target)[:, None])[:, 0]


def unit_activation(out: torch.Tensor, unit: Unit) -> torch.Tensor:
    """Each image's activation of ``unit`` (``[N]``) from its layer's output ``out`` (``[N, C, h, w]`` or ``[N, C]``).

    ``unit.position``: ``None`` → the channel's mean over the map, ``"max"`` → its largest value in
    each image, ``"center"`` → the centre neuron ``(h // 2, w // 2)``, ``(row, col)`` → that neuron.

    Raises:
        IndexError: channel or position outside the layer's output.
        ValueError: a position for a layer without spatial dimensions, or an unknown position word.
    """
    check_channel(out, unit.channel, unit.layer)
    a = out[:, unit.channel]
    if unit.position is None:
        return a.flatten(1).mean(1) if a.ndim > 1 else a
    if a.ndim != 3:
        raise ValueError(f"{unit.layer} has no spatial dimensions (output {tuple(out.shape)}): leave the Unit's position None")
    (h, w), pos = a.shape[-2:], unit.position
    if pos == "max":
        return a.flatten(1).amax(1)
    if pos == "center":
        pos = (h // 2, w // 2)
    if isinstance(pos, str) or len(pos) != 2:
        raise ValueError(f"a Unit's position is (row, col), 'center', 'max' or None, got {pos!r}")
    r, c = pos
    if not (0 <= r < h and 0 <= c < w):
        raise IndexError(f"{unit.layer}'s maps are {h}x{w}: position must be (row, col) in 0..{h - 1}, 0..{w - 1}, got {pos}")
    return a[:, r, c]


def unit_scores(model: nn.Module, x: torch.Tensor, unit: Unit) -> torch.Tensor:
    """Each image's activation of ``unit`` (``[N]``, differentiable); the forward pass stops at ``unit.layer``.

    Raises:
        KeyError: unknown layer (with close names); see :func:`unit_activation` for the others.
    """
    with capture(model, unit.layer, eval_mode=False, freeze=False) as acts:
        acts.run(x)
        return unit_activation(acts[unit.layer], unit)


def target_scores(model: nn.Module, x: torch.Tensor, target: Target | Unit = None) -> torch.Tensor:
    r"""The unnormalised score of each image's target class, :math:`s_{y_i}(x_i)`, as a ``[N]`` tensor.

    Equal to ``model(x)[range(N), target]`` (and differentiable like it), but when ``target`` is
    given and the model ends in a ``Linear`` / ``Conv2d`` followed only by channel-wise operations,
    the forward pass stops before that layer and only the target classes' rows of it are computed
    (for SqueezeNet about 25 % less work forward and backward). The first call for a model runs
    the full pass and checks the shortcut against it.

    Args:
        model: a classifier returning ``[N, classes]`` logits, in the mode it should run in (the
            kit's methods call this inside :class:`~cnnviz_helpers.core.layers.Hooks`, i.e. eval mode).
        x: the input batch (gradients flow back to it).
        target: one class for all images, one per image, or ``None`` for each image's predicted
            class (which needs every logit: the full forward pass); or a :class:`Unit`, whose
            activation is the score (:func:`unit_scores`: the pass stops at its layer).

    Returns:
        ``[N]`` scores.

    Raises:
        IndexError: a target outside the model's classes (with the valid range).
        ValueError: a target list of the wrong length; a model that does not return ``[N, classes]``.

    Example:
        >>> with Hooks(model):
        ...     score = target_scores(model, x.requires_grad_(), target=[3, 7]).sum()
        ...     (grad,) = torch.autograd.grad(score, x)
    """
    if isinstance(target, Unit):
        return unit_scores(model, x, target)
    head = head_for(model) if target is not None else None  # the shortcut (engines.score_shortcut)
    if head is not None and head.verified:
        return head.target_scores(model, x, target)
    features: list[torch.Tensor] = []
    with Hooks(model, eval_mode=False, freeze=False) as hooks:
        if head is not None:  # first use: record the classifier layer's input to check the shortcut
            hooks.forward_pre(head.layer, lambda _m, inputs: features.append(inputs[0].detach()))
        logits = model(x)
    scores = class_scores(logits, target)
    if head is not None:
        verify_head(model, head, features, class_targets(logits, target), scores)
    return scores


def input_gradient(model: ModelLike, x: torch.Tensor, target: Target | Unit = None) -> torch.Tensor:
    r"""Gradient of the unnormalised class score (or a unit's activation) with respect to the input, :math:`\partial S_c / \partial x`.

    The whole batch takes one forward and one backward pass: the scores of the per-image targets are
    summed (image ``i``'s score does not depend on image ``j``'s pixels in eval mode, so the
    gradient of the sum is each image's own gradient). Only the target classes' scores are
    computed (:func:`~cnnviz_helpers.engines.scores.target_scores`).

    Args:
        model: the network (``nn.Module`` or :class:`KitModel`); left exactly as it was.
        x: normalised batch ``[N, 3, H, W]`` (what ``km.preprocess`` returns); not modified.
        target: class per image, one class for all, ``None`` for the predicted class, or a
            :class:`Unit` (the gradient of its activation).

    Returns:
        ``[N, 3, H, W]`` gradient, on the model's device.

    Example:
        >>> g = input_gradient(km.model, x, target=km.class_index("tabby"))
        >>> (g * x).sum()     # gradient × input: first-order estimate of S(x) - S(0), 0 = the mean image
    """
    target = resolve_target(model, target)
    model = unwrap(model)[0]
    with Hooks(model):
        x = model_input(model, x).requires_grad_(True)
        score = target_scores(model, x, target).sum()
        (grad,) = torch.autograd.grad(score, x)
    return grad.contiguous()
