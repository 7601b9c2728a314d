"""Option objects shared by the synthesis methods: the image priors and the optimisation schedule.

The methods that synthesize an image by gradient steps (class and unit visualization, DeepDream,
feature inversion, texture synthesis, Gatys and fast style transfer) share two groups of settings.
Each group is one small dataclass, so a long list of settings can be kept, compared and passed
on as one value — while the simple keyword call a student writes keeps working:

    >>> class_visualization(km, "disk", steps=50, l2_reg=1e-3)                 # keywords
    >>> yosinski = ImagePriors(decay=1e-4, blur_every=4, blur_sigma=1.0, clip_norm=10)
    >>> class_visualization(km, "disk", priors=yosinski, schedule=Schedule(steps=50))
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar, Union

import torch

#: A step callback ``callback(step, image) -> stop?``: ``step`` is the number of steps done so far (from 1),
#: ``image`` the current normalised ``[N, 3, H, W]`` tensor (a copy). Return ``True`` to stop early: the
#: method then returns the image so far (what a Stop button needs).
Callback = Callable[[int, torch.Tensor], Union[bool, None]]

T = TypeVar("T", bound="OptionGroup")


class OptionGroup:
    """Keyword updates with a clear error for a misspelt name."""

    def updated(self: T, **options: Any) -> T:
        """A copy with ``options`` changed; an unknown name raises ``TypeError`` with the close names."""
        names = [f.name for f in fields(self)]  # type: ignore[arg-type]
        for name in options:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise TypeError(f"unknown option {name!r}{hint}; {type(self).__name__} has {', '.join(names)}")
        return replace(self, **options)  # type: ignore[type-var]


@dataclass(frozen=True)
class ImagePriors(OptionGroup):
    r"""Image priors of gradient-ascent synthesis (CS231n; Yosinski et al. 2015); ``None`` = the method's default.

    Attributes:
        l2_reg: λ of the :math:`-\lambda\lVert I\rVert^2` term added to the objective.
        jitter: maximum random roll in pixels before each step (0 = off).
        blur_every, blur_sigma: Gaussian blur of ``blur_sigma`` pixels every ``blur_every`` steps (0 = off).
        decay: Yosinski's L2 decay, :math:`I \leftarrow (1-\text{decay})\,I` after each step.
        clip_norm: percentile (0–100) of pixels with the smallest colour norm set to the mean colour.
        clip_contribution: percentile of pixels with the smallest :math:`|\sum_c I\,\nabla I|` set to the mean colour.
    """

    l2_reg: float | None = None
    jitter: int | None = None
    blur_every: int | None = None
    blur_sigma: float = 0.5
    decay: float = 0.0
    clip_norm: float = 0.0
    clip_contribution: float = 0.0


@dataclass(frozen=True)
class Schedule(OptionGroup):
    """How an optimisation runs: how long, how fast, from which seed, and what it reports.

    Attributes:
        steps: number of optimisation steps.
        lr: learning rate / step length (``None``: the method's default).
        seed: seed of the start image and of the random jitter (``None``: not repeatable).
        callback: :data:`Callback` ``callback(step, image) -> stop?``,
            called every ``callback_every`` steps and after the last one; returning ``True`` stops
            the run early (the image so far is returned).
        callback_every: steps between two callback calls.
        progress: show a tqdm progress bar.
    """

    steps: int = 100
    lr: float | None = None
    seed: int | None = 0
    callback: Callback | None = None
    callback_every: int = 10
    progress: bool = True

    def report(self, step: int) -> bool:
        """Whether step ``step`` (counted from 1) is one the callback sees."""
        return self.callback is not None and (step % max(self.callback_every, 1) == 0 or step == self.steps)


def split_options(options: dict[str, Any], *groups: type[OptionGroup]) -> list[dict[str, Any]]:
    """Split keyword ``options`` into one dict per option class; a name no class has raises ``TypeError``."""
    out: list[dict[str, Any]] = [{} for _ in groups]
    for name, value in options.items():
        for i, group in enumerate(groups):
            if name in {f.name for f in fields(group)}:  # type: ignore[arg-type]
                out[i][name] = value
                break
        else:
            names = [f.name for g in groups for f in fields(g)]  # type: ignore[arg-type]
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise TypeError(f"unexpected keyword argument {name!r}{hint}; the options are {', '.join(names)}")
    return out
