"""Exercise 06.2: ``my_clip_small_norm`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from ....core import regularizers
from ._common import _INPLACE, _m, _randn
from .spec import Case, Exercise


def ref_clip_small_norm(x, percentile):
    norms = x.norm(dim=1).flatten(1)
    threshold = torch.quantile(norms, percentile / 100, dim=1, keepdim=True)
    keep = (norms >= threshold).view(x.shape[0], 1, *x.shape[2:])
    return x * keep


def _clip_in_place(x, percentile):
    norms = x.norm(dim=1).flatten(1)
    threshold = torch.quantile(norms, percentile / 100, dim=1, keepdim=True)
    x[(norms < threshold).view(x.shape[0], *x.shape[2:]).unsqueeze(1).expand_as(x)] = 0
    return x


def _clip_channel_mean(x, percentile):
    score = x.mean(dim=1).flatten(1)
    threshold = torch.quantile(score, percentile / 100, dim=1, keepdim=True)
    return x * (score >= threshold).view(x.shape[0], 1, *x.shape[2:])


def _clip_one_threshold(x, percentile):
    norms = x.norm(dim=1)
    threshold = torch.quantile(norms.flatten(), percentile / 100)
    return x * (norms >= threshold).unsqueeze(1)


def _clip_cases(g):
    x = _randn(g, 2, 3, 16, 16) * torch.tensor([1.0, 3.0], dtype=torch.float64).view(2, 1, 1, 1)
    return [Case(f"2 images, percentile {p}", (x, p)) for p in (10, 50, 90)] + [
        Case("1 image 9x11, percentile 30", (_randn(g, 1, 3, 9, 11), 30), hidden=True)
    ]


EXERCISE = Exercise(
    "06.2",
    "my_clip_small_norm",
    "per-pixel colour norms, torch.quantile per image at percentile/100, zero the pixels below.",
    _clip_cases,
    ref_clip_small_norm,
    kit=(regularizers.clip_small_norm,),
    mistakes=(
        _m(_INPLACE, "Return x * keep (a new tensor); never write into x.", _clip_in_place, "inplace"),
        _m(
            "wrong channel reduction (mean instead of the norm)",
            "The colour vector's length: x.norm(dim=1).",
            _clip_channel_mean,
        ),
        _m("one threshold for the whole batch", "torch.quantile(..., dim=1): one percentile per image.", _clip_one_threshold),
    ),
)
