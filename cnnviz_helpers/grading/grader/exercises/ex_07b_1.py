"""Exercise 07b.1: ``my_mask_share`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from ._common import _m, _rand
from .spec import Case, Exercise


def ref_mask_share(saliency, mask):
    return (saliency * mask).flatten(1).sum(1) / saliency.flatten(1).sum(1)


def _share_of_mask_area(saliency, mask):
    return (saliency * mask).flatten(1).sum(1) / mask.flatten(1).sum(1)


def _share_whole_batch(saliency, mask):
    return (saliency * mask).sum() / saliency.sum()


def _share_cases(g):
    def case(label, n, h, w, hidden=False):
        return Case(label, (_rand(g, n, h, w) ** 3, (_rand(g, n, h, w) > 0.6).to(torch.float64)), hidden)

    return [case("3 maps 8x8", 3, 8, 8), case("2 maps 5x7", 2, 5, 7, hidden=True)]


EXERCISE = Exercise(
    "07b.1",
    "my_mask_share",
    "per image: the saliency inside the mask divided by the total saliency.",
    _share_cases,
    ref_mask_share,
    mistakes=(
        _m(
            "divided by the mask's area instead of the total saliency",
            "The share is sum(saliency * mask) / sum(saliency).",
            _share_of_mask_area,
        ),
        _m("one share for the whole batch", "Sum over each image's pixels only: flatten(1).sum(1).", _share_whole_batch),
    ),
)
