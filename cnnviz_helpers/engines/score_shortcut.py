r"""The target-row shortcut behind :func:`cnnviz_helpers.engines.scores.target_scores` (speed machinery).

When a classifier's last ``Linear`` / ``Conv2d`` is followed only by channel-wise operations (ReLU,
global pooling, flatten, dropout), the score of class :math:`c` needs only row :math:`c` of that
layer's weights. This module finds that layer by tracing the model with ``torch.fx`` (once per
model), computes the target rows (:func:`target_rows`, also used by the occlusion engine) and
checks the shortcut against the full forward pass on its first use; a model where it is not
found, or the check fails, gets the full pass. Not needed to read a method.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..core.layers import layer_input
from ..models.targets import Target, class_targets
from .receptive_field import trace_model

#: Operations that act on each channel separately: between the classifier layer and the output
#: they let the score of one class be computed from that class's channel alone.
CHANNELWISE_MODULES = (nn.ReLU, nn.Dropout, nn.Identity, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten)
CHANNELWISE_FUNCTIONS = frozenset({torch.flatten, F.relu, F.dropout, F.adaptive_avg_pool2d})


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

    def target_scores(self, model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
        """``[N]`` target scores of ``x``: the forward pass stops at the classifier layer, then only the target rows."""
        targets = class_targets((x.shape[0], self.classes), target).to(x.device)
        return self.scores(layer_input(model, self.layer, x), targets)

    def scores(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``[N]`` target scores from the classifier layer's input."""
        out = target_rows(self.layer, features, targets)
        tail = dict(self.tail_modules)
        for node in self.tail:
            if node.op == "call_module":
                out = tail[str(node.target)](out)
            else:
                args, kwargs = fx.node.map_arg((node.args, node.kwargs), _constant(out))
                out = node.target(*args, **kwargs)  # type: ignore[operator]
        if out.shape != (len(targets), 1):
            raise ValueError(f"the classifier tail gives {tuple(out.shape)}, not one score per image")
        return out[:, 0]


def _constant(value: torch.Tensor) -> Callable[[fx.Node], torch.Tensor]:
    """``map_arg``'s function that replaces the (single) input node by ``value``."""
    return lambda _node: value


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


def head_for(model: nn.Module) -> _Head | None:
    """The (cached) classifier head of ``model``, or ``None`` when it has no usable one."""
    if model not in _HEADS or ((head := _HEADS[model]) is not None and not head.current(model)):
        _HEADS[model] = _find_head(model)
    return _HEADS[model]


def verify_head(model: nn.Module, head: _Head, features: list[torch.Tensor], targets: torch.Tensor, scores: torch.Tensor) -> None:
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
