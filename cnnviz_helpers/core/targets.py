"""What every method takes: a model (a :class:`KitModel` or a plain ``nn.Module``), class targets, callbacks.

Resolved here once, so every method of the kit accepts the same things:

- ``model``: a :class:`~cnnviz_helpers.core.models.KitModel` (from ``load_model``) or any ``nn.Module``
  (:func:`unwrap` gives the module and its input normalisation);
- ``target``: a class index, a class name (looked up in the KitModel, with close-name suggestions),
  one per image (list / tensor), or ``None`` for each image's predicted class (:func:`class_targets`);
- ``callback``: :data:`Callback`, called ``callback(step, image)`` after each optimisation step;
  returning ``True`` stops the run early (the image so far is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Union

import torch
from torch import nn

from . import images as im
from .images import conv_layout
from .models import KitModel

#: A step callback ``callback(step, image) -> stop?``: ``step`` counts from 0, ``image`` is the current
#: normalised ``[N, 3, H, W]`` tensor (do not modify it). Return ``True`` to stop early.
Callback = Callable[[int, torch.Tensor], Union[bool, None]]

#: An attribution method ``fn(model, x, target) -> map`` (what SmoothGrad averages, what sanity checks test).
Attribution = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def model_device(model: ModelLike) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    net = model.model if isinstance(model, KitModel) else model
    p = next(net.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


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
    if isinstance(target, str) or (isinstance(target, (list, tuple)) and any(isinstance(v, str) for v in target)):
        if not isinstance(model, KitModel):
            raise TypeError(f"class names need a KitModel (load_model(...)); with a plain nn.Module pass {what} as indices")
        target = [model.class_index(v) for v in ([target] if isinstance(target, str) else target)]
    device = logits.device if isinstance(logits, torch.Tensor) else None
    idx = torch.as_tensor(target, dtype=torch.long, device=device).reshape(-1)
    if idx.numel() == 1:
        idx = idx.expand(n)
    if idx.numel() != n:
        raise ValueError(f"{what} must be one class index or one per image ({n} images), got {idx.numel()}")
    if idx.min() < 0 or idx.max() >= k:
        raise IndexError(f"the model has {k} classes: {what} must be in 0..{k - 1}, got {idx.tolist()}")
    return idx
