"""Exercise 03b.1: ``my_unit_thresholds`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import math

import torch

from .... import dissection
from ._common import _m, _randn
from .spec import Case, Exercise


def ref_unit_thresholds(acts, quantile):
    per_unit = acts.transpose(0, 1).reshape(acts.shape[1], -1)  # [U, N*h*w]
    order = per_unit.sort(dim=1, descending=True).values
    return order[:, math.floor((1 - quantile) * per_unit.shape[1])]


def _per_image_then_mean(acts, quantile):
    per_image = acts.flatten(2).sort(dim=2, descending=True).values  # [N, U, h*w]
    return per_image[:, :, math.floor((1 - quantile) * per_image.shape[2])].mean(0)


def _one_threshold_for_the_layer(acts, quantile):
    values = acts.flatten().sort(descending=True).values
    return values[math.floor((1 - quantile) * len(values))].expand(acts.shape[1])


def _bottom_quantile(acts, quantile):
    per_unit = acts.transpose(0, 1).reshape(acts.shape[1], -1)
    return per_unit.sort(dim=1).values[:, math.floor((1 - quantile) * per_unit.shape[1])]


def _threshold_cases(g):
    def case(label, n, u, h, w, q, hidden=False):
        scale = torch.linspace(0.5, 2.0, u, dtype=torch.float64).view(1, u, 1, 1)  # units of different strength
        return Case(label, ((_randn(g, n, u, h, w) * scale).relu(), q), hidden)

    return [
        case("6 images, 3 units 5x5, q = 0.95", 6, 3, 5, 5, 0.95),
        case("4 images, 5 units 4x6, q = 0.9", 4, 5, 4, 6, 0.9, True),
    ]


EXERCISE = Exercise(
    "03b.1",
    "my_unit_thresholds",
    "per unit: all its activations (every image, every position) sorted descending, the one at floor((1 - q) M).",
    _threshold_cases,
    ref_unit_thresholds,
    kit=(dissection.dissect,),
    mistakes=(
        _m(
            "a threshold per image, then averaged",
            "T_k is one quantile over the whole dataset: pool every image's positions of the unit before sorting.",
            _per_image_then_mean,
        ),
        _m(
            "one threshold for the whole layer",
            "Each unit gets its own threshold: keep the unit dimension (transpose(0, 1)) when you flatten.",
            _one_threshold_for_the_layer,
        ),
        _m(
            "the bottom quantile instead of the top",
            "Sort in descending order: only the top 1 - q of the activations may exceed T_k.",
            _bottom_quantile,
        ),
    ),
)
