"""Exercise 04.2: ``my_occlusion_heatmap`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import occlusion
from ._common import _m, _randn, _window_starts
from .spec import Case, Exercise


def ref_occlusion_heatmap(drops, size, window, stride):
    starts = _window_starts(size, window, stride)
    cover = torch.zeros(len(starts), size, dtype=drops.dtype)
    for i, s in enumerate(starts):
        cover[i, s : s + window] = 1
    return cover.T @ drops @ cover / (cover.sum(0)[:, None] * cover.sum(0)[None, :])


def _heatmap_sum(drops, size, window, stride):
    starts = _window_starts(size, window, stride)
    cover = torch.zeros(len(starts), size, dtype=drops.dtype)
    for i, s in enumerate(starts):
        cover[i, s : s + window] = 1
    return cover.T @ drops @ cover


def _heatmap_last_wins(drops, size, window, stride):
    starts = _window_starts(size, window, stride)
    heat = torch.zeros(size, size, dtype=drops.dtype)
    for i, r in enumerate(starts):
        for j, c in enumerate(starts):
            heat[r : r + window, c : c + window] = drops[i, j]
    return heat


def _heatmap_cases(g):
    def case(label, size, window, stride, hidden=False):
        n = len(_window_starts(size, window, stride))
        return Case(label, (_randn(g, n, n), size, window, stride), hidden)

    return [
        case("12 px, 4x4 windows, stride 4 (no overlap)", 12, 4, 4),
        case("12 px, 5x5 windows, stride 3 (overlapping, cut)", 12, 5, 3),
        case("13 px, 6x6 windows, stride 2", 13, 6, 2, hidden=True),
    ]


EXERCISE = Exercise(
    "04.2",
    "my_occlusion_heatmap",
    "for each pixel, the mean of the drops of all windows that cover it.",
    _heatmap_cases,
    ref_occlusion_heatmap,
    kit=(occlusion.occlusion_map,),
    mistakes=(
        _m("sum of the covering windows instead of their mean", "Divide by how many windows cover each pixel.", _heatmap_sum),
        _m(
            "each window painted over the previous ones",
            "Accumulate the drops and the counts, then divide: overlapping windows share a pixel.",
            _heatmap_last_wins,
        ),
    ),
)
