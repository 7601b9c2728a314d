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

Example:
    >>> x = km.preprocess(km.examples[0].image).requires_grad_()
    >>> s = target_scores(km.model, x, target=3)       # == km.model(x)[:, 3]
    >>> s.sum().backward()
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..engines.receptive_field import trace_model
from .layers import Hooks, layer_input
from .targets import ModelLike, Target, class_targets, model_input, unwrap

#: Operations that act on each channel separately: between the classifier layer and the output
#: they let the score of one class be computed from that class's channel alone.
CHANNELWISE_MODULES = (nn.ReLU, nn.Dropout, nn.Identity, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten)
CHANNELWISE_FUNCTIONS = frozenset({torch.flatten, F.relu, F.dropout, F.adaptive_avg_pool2d})


def class_scores(logits: torch.Tensor, target: Target = None) -> torch.Tensor:
    """The unnormalised (pre-softmax) score of each image's target class, ``logits[i, target[i]]`` (``[N]``)."""
    if logits.ndim != 2:
        raise ValueError(f"expected class scores of shape [N, classes], the model returned {tuple(logits.shape)}")
    return logits.gather(1, class_targets(logits, target)[:, None])[:, 0]


def score_layer(graph: fx.Graph, modules: dict[str, nn.Module]) -> fx.Node | None:
    """The last ``Linear`` / ``Conv2d`` whose output channels reach the model output one-to-one, if any."""
    node = next(n for n in graph.nodes if n.op == "output").args[0]
    while isinstance(node, fx.Node) and len(node.users) == 1 and len(node.all_input_nodes) == 1:
        m = modules.get(str(node.target)) if node.op == "call_module" else None
        if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.groups == 1 and m.padding_mode == "zeros"):
            return node
        if not (isinstance(m, CHANNELWISE_MODULES) or (node.op == "call_function" and node.target in CHANNELWISE_FUNCTIONS)):
            return None
        node = node.all_input_nodes[0]
    return None


def target_rows(layer: nn.Linear | nn.Conv2d, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Output channel ``targets[i]`` of ``layer`` for input ``i``, without the other channels: ``[N, 1, ...]``."""
    weight = layer.weight[targets]
    bias = layer.bias[targets] if layer.bias is not None else None
    if isinstance(layer, nn.Linear):  # inputs [N, ..., F]
        out = torch.einsum("n...f,nf->n...", inputs, weight)
        return (out if bias is None else out + bias.view(-1, *[1] * (out.ndim - 1)))[:, None]
    if bool((targets == targets[0]).all()):  # one class for the whole batch: a one-channel convolution
        return F.conv2d(inputs, weight[:1], None if bias is None else bias[:1], layer.stride, layer.padding, layer.dilation)
    n, c = inputs.shape[:2]  # a different class per image: image i is group i of a grouped convolution
    out = F.conv2d(inputs.reshape(1, n * c, *inputs.shape[2:]), weight, bias, layer.stride, layer.padding, layer.dilation, n)
    return out.view(n, 1, *out.shape[2:])


@dataclass(frozen=True)
class _Head:
    """The classifier layer of a model and the channel-wise nodes between it and the output."""

    name: str
    layer: nn.Linear | nn.Conv2d
    tail: tuple[fx.Node, ...]
    tail_modules: tuple[tuple[str, nn.Module], ...]
    verified: bool = False

    @property
    def classes(self) -> int:
        return self.layer.out_features if isinstance(self.layer, nn.Linear) else self.layer.out_channels

    def current(self, model: nn.Module) -> bool:
        """The model still has these very modules (none was replaced since the trace)."""
        try:
            return model.get_submodule(self.name) is self.layer and all(model.get_submodule(n) is m for n, m in self.tail_modules)
        except AttributeError:  # a module was removed
            return False

    def scores(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``[N]`` target scores from the classifier layer's input."""
        out = target_rows(self.layer, features, targets)
        tail = dict(self.tail_modules)
        for node in self.tail:
            if node.op == "call_module":
                out = tail[str(node.target)](out)
            else:
                args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda _n, v=out: v)
                out = node.target(*args, **kwargs)  # type: ignore[operator]
        if out.shape != (len(targets), 1):
            raise ValueError(f"the classifier tail gives {tuple(out.shape)}, not one score per image")
        return out[:, 0]


_HEADS: weakref.WeakKeyDictionary[nn.Module, _Head | None] = weakref.WeakKeyDictionary()  # per model, None: no shortcut


def _find_head(model: nn.Module) -> _Head | None:
    try:
        graph, _, modules = trace_model(model)
    except TypeError:
        return None
    node = score_layer(graph, modules)
    if node is None or sum(n.op == "call_module" and n.target == node.target for n in graph.nodes) != 1:
        return None  # no classifier layer, or one called twice (the pre-hook would stop at the first call)
    tail = []
    user = next(iter(node.users))
    while user.op != "output":
        tail.append(user)
        user = next(iter(user.users))
    tail_modules = tuple((str(n.target), modules[str(n.target)]) for n in tail if n.op == "call_module")
    return _Head(str(node.target), modules[str(node.target)], tuple(tail), tail_modules)  # type: ignore[arg-type]


def _head(model: nn.Module) -> _Head | None:
    if model not in _HEADS or ((head := _HEADS[model]) is not None and not head.current(model)):
        _HEADS[model] = _find_head(model)
    return _HEADS[model]


def _check(model: nn.Module, head: _Head, features: list[torch.Tensor], targets: torch.Tensor, scores: torch.Tensor) -> None:
    """Keep the shortcut only if it reproduces the full forward pass's scores."""
    ok = False
    if len(features) == 1:
        try:
            with torch.no_grad():
                fast = head.scores(features[0], targets)
            full = scores.detach()
            ok = bool(torch.allclose(fast, full, rtol=1e-3, atol=1e-4 * (1 + float(full.abs().max()))))
        except (RuntimeError, ValueError, IndexError):
            ok = False
    _HEADS[model] = replace(head, verified=True) if ok else None


def target_scores(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    r"""The unnormalised score of each image's target class, :math:`s_{y_i}(x_i)`, as a ``[N]`` tensor.

    Equal to ``model(x)[range(N), target]`` (and differentiable like it), but when ``target`` is
    given and the model ends in a ``Linear`` / ``Conv2d`` followed only by channel-wise operations,
    the forward pass stops before that layer and only the target classes' rows of it are computed
    (for SqueezeNet about 25 % less work forward and backward). The first call for a model runs
    the full pass and checks the shortcut against it.

    Args:
        model: a classifier returning ``[N, classes]`` logits, in the mode it should run in (the
            kit's methods call this inside :class:`~cnnviz_helpers.layers.Hooks`, i.e. eval mode).
        x: the input batch (gradients flow back to it).
        target: one class for all images, one per image, or ``None`` for each image's predicted
            class (which needs every logit: the full forward pass).

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
    head = _head(model) if target is not None else None
    if head is not None and head.verified:
        targets = class_targets((x.shape[0], head.classes), target).to(x.device)
        return head.scores(layer_input(model, head.layer, x), targets)
    features: list[torch.Tensor] = []
    with Hooks(model, eval_mode=False, freeze=False) as hooks:
        if head is not None:  # first use: record the classifier layer's input to check the shortcut
            hooks.forward_pre(head.layer, lambda _m, inputs: features.append(inputs[0].detach()))
        logits = model(x)
    scores = class_scores(logits, target)
    if head is not None:
        _check(model, head, features, class_targets(logits, target), scores)
    return scores


def input_gradient(model: ModelLike, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    r"""Gradient of the unnormalised class score with respect to the input, :math:`\partial S_c / \partial x`.

    The whole batch takes one forward and one backward pass: the scores of the per-image targets are
    summed (image ``i``'s score does not depend on image ``j``'s pixels in eval mode, so the
    gradient of the sum is each image's own gradient). Only the target classes' scores are
    computed (:func:`~cnnviz_helpers.scores.target_scores`).

    Args:
        model: the network (``nn.Module`` or :class:`KitModel`); left exactly as it was.
        x: normalised batch ``[N, 3, H, W]`` (what ``km.preprocess`` returns); not modified.
        target: class per image, one class for all, or ``None`` for the predicted class.

    Returns:
        ``[N, 3, H, W]`` gradient, on the model's device.

    Example:
        >>> g = input_gradient(km.model, x, target=km.class_index("tabby"))
        >>> (g * x).sum()     # gradient × input: first-order estimate of S(x) - S(0), 0 = the mean image
    """
    model = unwrap(model)[0]
    with Hooks(model):
        x = model_input(model, x).requires_grad_(True)
        score = target_scores(model, x, target).sum()
        (grad,) = torch.autograd.grad(score, x)
    return grad.contiguous()
