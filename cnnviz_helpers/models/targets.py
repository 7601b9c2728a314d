"""What every method takes: a model (a :class:`KitModel` or a plain ``nn.Module``), class targets, callbacks.

Resolved here once, so every method of the kit accepts the same things:

- ``model``: a :class:`~cnnviz_helpers.models.loading.KitModel` (from ``load_model``) or any ``nn.Module``
  (:func:`unwrap` gives the module and its input normalisation);
- ``target``: a class index, a class name (looked up in the KitModel, with close-name suggestions),
  one per image (list / tensor), or ``None`` for each image's predicted class (:func:`class_targets`);
- ``callback``: :data:`~cnnviz_helpers.core.options.Callback`, called ``callback(step, image)`` as an optimisation runs (every
  ``callback_every`` steps, or as each method documents); returning ``True`` stops the run early
  (the image so far is kept).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Union, overload

import torch
from torch import nn

from ..core import images as im
from ..core.images import conv_layout
from ..core.layers import module_device
from ..core.options import Callback
from .loading import KitModel, ModelSpec

#: An attribution method ``fn(model, x, target=None, *, options) -> map``: ``target`` a class target or a
#: :class:`Unit` (what SmoothGrad averages, what sanity checks test, the registry's "attribution" kind).
Attribution = Callable[[nn.Module, torch.Tensor, Any], torch.Tensor]


def model_device(model: ModelLike) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    return module_device(model.model if isinstance(model, KitModel) else model)


def model_input(model: ModelLike, x: torch.Tensor) -> torch.Tensor:
    """``x`` detached, on the model's device, in the fastest convolution layout (:func:`~cnnviz_helpers.core.images.conv_layout`)."""
    return conv_layout(x.detach().to(model_device(model)))


ModelLike = Union[KitModel, nn.Module]


def unwrap(
    model: ModelLike, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> tuple[nn.Module, tuple[float, ...], tuple[float, ...]]:
    """The ``nn.Module`` behind ``model`` and its input normalisation.

    Every method accepts a :class:`KitModel` or a plain ``nn.Module``; explicit ``mean`` / ``std``
    win, then the KitModel's, then ImageNet's.
    """
    if isinstance(model, KitModel):
        net, m, s = model.model, model.mean, model.std
    else:
        net, m, s = model, im.IMAGENET_MEAN, im.IMAGENET_STD
    return net, tuple(m if mean is None else mean), tuple(s if std is None else std)


@dataclasses.dataclass(frozen=True)
class Unit:
    """One unit of a layer, accepted wherever a class target is: ``Unit("features.6", 3)``.

    Attributes:
        layer: the layer's name (``get_layer`` syntax, e.g. ``"features.6"``).
        channel: the channel (feature map) of that layer.
        position: ``(row, col)`` of one neuron of the map, ``"center"`` for the map's centre neuron,
            ``"max"`` for each image's most active position, or ``None`` for the mean over the whole map.

    A method given a ``Unit`` explains or maximises that unit's activation instead of a class score.
    """

    layer: str
    channel: int
    position: tuple[int, int] | str | None = None


Target = Union[int, str, Sequence[Union[int, str]], torch.Tensor, None]
"""A class for the whole batch or one per image: indices, names (with a KitModel), or ``None`` (top-1)."""


def class_targets(
    logits: torch.Tensor | tuple[int, int], target: Target = None, model: ModelLike | None = None, what: str = "target"
) -> torch.Tensor:
    """One class index per image (``[N]`` long tensor) from ``target`` and the model's ``[N, K]`` logits.

    ``None`` picks each image's predicted (top-1) class; class names are looked up in ``model``
    (a :class:`KitModel`, with close-name suggestions). When ``target`` is given, the logits'
    shape ``(N, K)`` is enough (the result is then on the CPU).

    Raises:
        IndexError: a class index outside ``0..K-1``.
        ValueError: a list whose length is neither 1 nor the batch size.
        TypeError: class names without a KitModel.
    """
    n, k = logits.shape if isinstance(logits, torch.Tensor) else logits
    if target is None:
        if not isinstance(logits, torch.Tensor):
            raise ValueError("target=None (the predicted class) needs the logits, not just their shape")
        return logits.detach().argmax(1)
    target = resolve_target(model, target, what)
    device = logits.device if isinstance(logits, torch.Tensor) else None
    idx = torch.as_tensor(target, dtype=torch.long, device=device).reshape(-1)
    if idx.numel() == 1:
        idx = idx.expand(n)
    if idx.numel() != n:
        raise ValueError(f"{what} must be one class index or one per image ({n} images), got {idx.numel()}")
    if idx.min() < 0 or idx.max() >= k:
        raise IndexError(f"the model has {k} classes: {what} must be in 0..{k - 1}, got {idx.tolist()}")
    return idx


@overload
def resolve_target(model: ModelLike | None, target: Target, what: str = "target") -> Target: ...
@overload
def resolve_target(model: ModelLike | None, target: Target | Unit, what: str = "target") -> Target | Unit: ...
def resolve_target(model: ModelLike | None, target: Target | Unit, what: str = "target") -> Target | Unit:
    """``target`` with every class name replaced by its index — the one place names are looked up.

    Every method calls this with the model *as the user gave it*, before :func:`unwrap` (a plain
    ``nn.Module`` has no class names). Indices, tensors, ``None`` and a :class:`Unit` pass through unchanged.

    Raises:
        TypeError: class names with a plain ``nn.Module`` (pass indices instead).
        KeyError: an unknown class name (with close names).

    Example:
        >>> resolve_target(km, ["disk", 3])        # [index of "disk", 3]
    """
    names = [target] if isinstance(target, str) else target if isinstance(target, (list, tuple)) else ()
    if not any(isinstance(v, str) for v in names):
        return target
    if not isinstance(model, KitModel):
        raise TypeError(
            f"class names need a KitModel (load_model(...)) that knows them; with a plain nn.Module pass {what} as indices"
        )
    indices = [model.class_index(v) for v in names]
    return indices[0] if isinstance(target, str) else indices


def single_class(model: ModelLike, target: Target, what: str = "target") -> int:
    """One class index from an index, a name or a one-element list / tensor (for one-image methods)."""
    idx = torch.as_tensor(resolve_target(model, target, what), dtype=torch.long).reshape(-1)
    if idx.numel() != 1:
        raise ValueError(f"{what} must be one class (an index or a name), got {idx.numel()} classes")
    return int(idx[0])


def stop_requested(callback: Callback | None, step: int, image: torch.Tensor) -> bool:
    """Call ``callback(step, image)`` (if any); ``True`` when it asks the run to stop."""
    return callback is not None and bool(callback(step, image))


def as_kit_model(model: ModelLike, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> KitModel:
    """``model`` as a :class:`KitModel`, for methods that need its preprocessing (style transfer).

    A KitModel is returned as it is (with ``mean`` / ``std`` replaced when given); a plain
    ``nn.Module`` gets the normalisation of :func:`unwrap` (ImageNet's unless given), a 224-px
    input, no class names and no listed layers (pass layer names to the method).
    """
    net, m, s = unwrap(model, mean, std)
    if isinstance(model, KitModel):
        return model if (m, s) == (tuple(model.mean), tuple(model.std)) else dataclasses.replace(model, mean=m, std=s)
    return KitModel(
        model=net,
        name=type(net).__name__,
        class_names=[],
        mean=m,
        std=s,
        input_size=224,
        spec=ModelSpec(layers=(), last_conv="", penultimate=""),
        offline=False,
        description=f"a plain {type(net).__name__} (normalisation {m}, {s})",
    )
