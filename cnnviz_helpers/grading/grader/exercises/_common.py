"""What every exercise file shares: the tiny models' names, seeded random inputs, and the mistake shorthand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from .spec import Mistake

A, B = "<model:a>", "<model:b>"

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=g, dtype=torch.float64)


def _rand(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=g, dtype=torch.float64)


def _normalised(g: torch.Generator, *shape: int) -> torch.Tensor:
    """Random pixels in [0, 1] normalised with ImageNet's mean and std (what a model receives)."""
    m, s = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1), torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    return (_rand(g, *shape) - m) / s


def _targets(g: torch.Generator, n: int, classes: int) -> torch.Tensor:
    return torch.randint(classes, (n,), generator=g)


_INPLACE = "input modified in place"

_NOGRAD = ".item() / detached loss (no gradient)"


def _m(name: str, hint: str, answer: Callable[..., Any], detector: str = "value") -> Mistake:
    return Mistake(name, hint, answer, detector)  # type: ignore[arg-type]


# The kit's helpers an answer uses, written out here so that no expected output depends on the kit.


@contextmanager
def _activations(model: torch.nn.Module, layers: str | list[str], detach: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """The outputs of ``layers`` on the next forward passes (the kit's ``capture``); the hooks go when the block ends."""
    modules = dict(model.named_modules())
    out: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Callable[..., None]:
        return lambda module, inputs, output: out.__setitem__(name, output.detach() if detach else output)

    handles = [modules[name].register_forward_hook(keep(name)) for name in ([layers] if isinstance(layers, str) else layers)]
    try:
        yield out
    finally:
        for handle in handles:
            handle.remove()


def _pixel_range(mean: Any, std: Any, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per channel, the normalised values of pixels 0 and 1 (the kit's ``pixel_range``)."""
    m = torch.as_tensor(mean, dtype=like.dtype).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=like.dtype).view(1, -1, 1, 1)
    return -m / s, (1 - m) / s


def _window_starts(size: int, window: int, stride: int) -> list[int]:
    """Start of each occlusion window along one axis, until the axis is covered (the kit's ``window_starts``)."""
    return [i * stride for i in range(-(-(size - window) // stride) + 1)]
