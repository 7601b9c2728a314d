"""Receptive fields computed exactly from a network's layers, by tracing it with ``torch.fx``.

A unit of a convolutional layer sees only part of the input: its receptive field. Following every
convolution and pooling on the way (kernel size, stride, padding, dilation) gives the box of input
pixels behind each unit — where branches meet (SqueezeNet's Fire concat, ResNet's add) the union
of the branches' boxes. Used by :mod:`.patches` (crop the patch behind an activation) and
:mod:`.occlusion` (recompute only the part of each feature map an occluder changes).

Example:
    >>> rf = receptive_field(km.model, "features.10")
    >>> rf.size, rf.stride, rf.box(3, 4, image_size=(64, 64))
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..core.images import as_pair
from ..core.layers import Hooks, get_layer
from ..models.targets import ModelLike, unwrap

Pair = tuple[int, int]

# Modules / functions that act on each spatial position on its own (they may mix channels).
POINTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus,
    nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.Identity, nn.LocalResponseNorm,
)  # fmt: skip
POINTWISE_FUNCTIONS: frozenset[Any] = frozenset({
    operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.imul,
    torch.add, torch.sub, torch.mul, torch.relu, torch.sigmoid, torch.tanh, torch.clamp,
    F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.hardtanh, F.hardswish, F.dropout, F.dropout2d,
})  # fmt: skip
POINTWISE_METHODS = frozenset({"relu", "relu_", "sigmoid", "tanh", "add", "add_", "mul", "mul_", "clamp", "contiguous"})


@dataclass(frozen=True)
class SpatialOp:
    """Geometry of a sliding-window layer, per axis ``(height, width)``."""

    kernel: Pair
    stride: Pair
    padding: Pair
    dilation: Pair

    @property
    def span(self) -> Pair:
        """Input extent of one window: ``dilation * (kernel - 1) + 1``."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))  # type: ignore[return-value]


def spatial_op(module: nn.Module) -> SpatialOp | None:
    """The window geometry of a ``Conv2d`` / ``MaxPool2d`` / ``AvgPool2d``, or ``None`` for any other module."""
    if isinstance(module, nn.Conv2d):
        k, d = as_pair(module.kernel_size), as_pair(module.dilation)
        if isinstance(module.padding, str):  # "valid" or "same" (stride 1): left pad = total // 2
            p = (0, 0) if module.padding == "valid" else tuple(di * (ki - 1) // 2 for ki, di in zip(k, d))
        else:
            p = as_pair(module.padding)
        return SpatialOp(k, as_pair(module.stride), p, d)  # type: ignore[arg-type]
    if isinstance(module, nn.MaxPool2d):
        return SpatialOp(
            as_pair(module.kernel_size),
            as_pair(module.stride or module.kernel_size),
            as_pair(module.padding),
            as_pair(module.dilation),
        )
    if isinstance(module, nn.AvgPool2d):
        return SpatialOp(
            as_pair(module.kernel_size), as_pair(module.stride or module.kernel_size), as_pair(module.padding), (1, 1)
        )
    return None


def is_pointwise(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """True if ``node`` treats every spatial position separately (activations, eval batch norm, add, channel concat …)."""
    if node.op == "call_module":
        return isinstance(modules[str(node.target)], POINTWISE_MODULES)
    if node.op == "call_method":
        return node.target in POINTWISE_METHODS
    if node.op == "call_function":
        if node.target is torch.cat:
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
            return dim in (1, -3)
        if node.target is operator.getitem:  # x[:, c] or x[:, a:b]: picks channels only (GoogLeNet's input transform)
            idx = node.args[1]
            return isinstance(idx, tuple) and len(idx) == 2 and idx[0] == slice(None) and isinstance(idx[1], (int, slice))
        if node.target is torch.unsqueeze:
            return bool(node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None) == 1)
        return node.target in POINTWISE_FUNCTIONS
    return False


class _LayerTracer(fx.Tracer):
    """``torch.fx`` tracer that also remembers which graph node holds each named module's output."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: dict[str, fx.Node] = {}

    def call_module(self, m: nn.Module, forward: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        out = super().call_module(m, forward, args, kwargs)
        name = self.path_of_module(m)
        if isinstance(out, fx.Proxy) and name not in self.outputs:  # a reused module: its first call, as capture()
            self.outputs[name] = out.node
        return out


def trace_model(model: nn.Module) -> tuple[fx.Graph, dict[str, fx.Node], dict[str, nn.Module]]:
    """Trace ``model`` (in its current mode) into a ``torch.fx`` graph.

    Returns the graph, the node producing each named module's output (first call of a reused
    module) and ``named_modules``. The model itself is not modified.
    """
    tracer = _LayerTracer()
    try:
        graph = tracer.trace(model)
    except Exception as err:
        raise TypeError(
            f"cannot trace {type(model).__name__} with torch.fx ({type(err).__name__}: {err}); "
            "receptive fields need a model without data-dependent control flow"
        ) from err
    return graph, tracer.outputs, dict(model.named_modules())


@dataclass(frozen=True)
class ReceptiveField:
    """Where the units of one layer look in the input image.

    Unit ``(row, col)`` of the layer sees the input rows ``start[0] + row * stride[0]`` to
    ``start[0] + row * stride[0] + size[0] - 1`` (and likewise for columns). ``start`` is negative
    when padding makes the first units' fields hang over the image border.
    """

    size: Pair
    stride: Pair
    start: Pair

    def box(self, row: int, col: int, image_size: Pair | None = None) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` (bottom/right exclusive) of unit ``(row, col)``; clipped to ``image_size`` if given."""
        top, left = self.start[0] + row * self.stride[0], self.start[1] + col * self.stride[1]
        bottom, right = top + self.size[0], left + self.size[1]
        if image_size is not None:
            top, left = max(top, 0), max(left, 0)
            bottom, right = min(bottom, image_size[0]), min(right, image_size[1])
        return top, left, bottom, right


def _compose(rf: ReceptiveField, op: SpatialOp) -> ReceptiveField:
    return ReceptiveField(
        size=tuple(n + (s - 1) * j for n, s, j in zip(rf.size, op.span, rf.stride)),  # type: ignore[arg-type]
        stride=tuple(j * s for j, s in zip(rf.stride, op.stride)),  # type: ignore[arg-type]
        start=tuple(a - p * j for a, p, j in zip(rf.start, op.padding, rf.stride)),  # type: ignore[arg-type]
    )


def _union(fields: list[ReceptiveField], where: str) -> ReceptiveField:
    if len({f.stride for f in fields}) > 1:
        raise ValueError(f"{where} merges maps with different strides {[f.stride for f in fields]}")
    start = tuple(min(f.start[a] for f in fields) for a in (0, 1))
    end = tuple(max(f.start[a] + f.size[a] for f in fields) for a in (0, 1))
    return ReceptiveField(size=(end[0] - start[0], end[1] - start[1]), stride=fields[0].stride, start=start)  # type: ignore[arg-type]


def receptive_field(model: ModelLike, layer: str) -> ReceptiveField:
    """The exact receptive field of the units of ``layer``, from the network's own layer parameters.

    The model is traced with ``torch.fx`` and the field is propagated from the input through
    every node on the way to ``layer``: a convolution or pooling with kernel :math:`k`, stride
    :math:`s`, padding :math:`p` and dilation :math:`d` maps (size :math:`r`, stride :math:`j`,
    start :math:`a`) to

    .. math:: r' = r + d(k-1)\\,j, \\qquad j' = j s, \\qquad a' = a - p\\,j ,

    position-wise layers (ReLU, eval-mode batch norm, dropout) change nothing, and where branches
    meet (SqueezeNet's Fire concat, ResNet's residual add, Inception) the field is the union of the
    branches' fields (the bounding box; the branches must have the same stride).

    Exactness (checked in the tests against the pixels with non-zero input gradient, for a custom
    net with asymmetric kernels and dilation, ShapesNet, SqueezeNet and ResNet-18): the box is
    exact for every channel once a convolution has mixed the branches; channels that come straight
    from a narrower branch (the ``expand1x1`` half of a Fire module's output, also after the
    max-pool that follows it) see a centred sub-box, so their patches get extra margin. After a
    dilated convolution the box bounds the pixels the unit sees (a dilated kernel skips those
    between its taps). The field does not depend on the input size.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or an ``nn.Module`` (not modified).
        layer: a layer name from :func:`cnnviz_helpers.layer_names` whose output is a feature map.

    Returns:
        A :class:`ReceptiveField`; ``.box(row, col, image_size)`` gives the input box of one unit.

    Raises:
        KeyError: unknown layer (with the closest names).
        ValueError: the layer comes after global pooling / a fully connected layer (each unit sees
            the whole image), or after an operation whose geometry is unknown.

    Example:
        >>> rf = receptive_field(km.model, km.spec.last_conv)
        >>> rf.size                       # e.g. (40, 40) for ShapesNet's last conv block
    """
    model = unwrap(model)[0]
    get_layer(model, layer)  # clear KeyError with suggestions
    with Hooks(model):  # trace in eval mode; modes restored afterwards
        graph, outputs, modules = trace_model(model)
    if layer not in outputs:
        raise ValueError(f"layer {layer!r} is never called in {type(model).__name__}.forward")
    fields: dict[fx.Node, ReceptiveField | str] = {}
    for node in graph.nodes:
        inputs = [fields[n] for n in node.all_input_nodes if n in fields]
        failed = [f for f in inputs if isinstance(f, str)]
        if node.op == "placeholder":
            fields[node] = ReceptiveField((1, 1), (1, 1), (0, 0))
        elif node.op == "get_attr" or not inputs:
            continue  # constants: not derived from the image
        elif failed:
            fields[node] = failed[0]
        elif node.op == "call_module" and (op := spatial_op(modules[str(node.target)])) is not None:
            fields[node] = _compose(inputs[0], op)  # type: ignore[arg-type]
        elif is_pointwise(node, modules):
            fields[node] = _union(inputs, f"{node.name}")  # type: ignore[arg-type]
        else:
            what = type(modules[str(node.target)]).__name__ if node.op == "call_module" else str(node.target)
            fields[node] = (
                f"{node.name} ({what}) is not a convolution, pooling or position-wise operation: "
                "after it a unit's field is not a box (global pooling / flatten / linear layers see the whole image)"
            )
        if node is outputs[layer]:
            break
    result = fields.get(outputs[layer])
    if not isinstance(result, ReceptiveField):
        raise ValueError(f"no receptive field for layer {layer!r}: {result or 'it does not depend on the input'}")
    return result
