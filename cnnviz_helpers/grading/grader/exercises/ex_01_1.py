"""Exercise 01.1: ``my_filter_images`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import filters
from ._common import _m, _randn
from .spec import Case, Exercise


def ref_filter_images(weight):
    w = weight.detach().cpu()
    w = w.permute(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(1)
    flat = w.flatten(1)
    shape = (-1,) + (1,) * (w.ndim - 1)
    lo, hi = flat.min(1).values.view(shape), flat.max(1).values.view(shape)
    return ((w - lo) / (hi - lo).clamp_min(1e-12)).numpy()


def _filters_global_minmax(weight):
    w = weight.detach().cpu()
    w = w.permute(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(1)
    return ((w - w.min()) / (w.max() - w.min())).numpy()


def _filters_channels_first(weight):
    w = weight.detach().cpu()
    w = w if w.shape[1] == 3 else w.mean(1)
    flat = w.flatten(1)
    shape = (-1,) + (1,) * (w.ndim - 1)
    lo, hi = flat.min(1).values.view(shape), flat.max(1).values.view(shape)
    return ((w - lo) / (hi - lo)).numpy()


def _filter_cases(g):
    ramp = lambda n: torch.linspace(0.1, 10, n, dtype=torch.float64).view(-1, 1, 1, 1)  # noqa: E731
    return [
        Case("8 RGB filters 5x5", (_randn(g, 8, 3, 5, 5) * ramp(8),)),
        Case("4 RGB filters 3x3", (_randn(g, 4, 3, 3, 3) * ramp(4),)),
        Case("6 filters on 2 input channels", (_randn(g, 6, 2, 4, 4) * ramp(6),), hidden=True),
        Case("5 RGB filters 7x7", (_randn(g, 5, 3, 7, 7) + 3,), hidden=True),
    ]


EXERCISE = Exercise(
    "01.1",
    "my_filter_images",
    "min-max scale each filter on its own; RGB channels last, else average the input channels.",
    _filter_cases,
    ref_filter_images,
    kit=(filters.filter_images, filters.first_layer_filters),
    mistakes=(
        _m(
            "one min-max for all filters together",
            "Take min and max over each filter separately (flatten(1).min(1)).",
            _filters_global_minmax,
        ),
        _m("channels first", "imshow wants [out, kh, kw, 3]: permute(0, 2, 3, 1).", _filters_channels_first),
    ),
)
