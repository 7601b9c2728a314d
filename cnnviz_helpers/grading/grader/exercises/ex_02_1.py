"""Exercise 02.1: ``my_nearest_neighbors`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import last_layer
from ._common import _m, _randn
from .spec import Case, Exercise


def ref_nearest_neighbors(features, k):
    d = torch.cdist(features.double(), features.double())
    d.fill_diagonal_(float("inf"))
    return d.topk(k, dim=1, largest=False).indices


def _knn_self_included(features, k):
    return torch.cdist(features, features).topk(k, dim=1, largest=False).indices


def _knn_farthest(features, k):
    d = torch.cdist(features, features)
    return d.topk(k, dim=1, largest=True).indices


EXERCISE = Exercise(
    "02.1",
    "my_nearest_neighbors",
    "torch.cdist, the diagonal set to inf, then topk(k, largest=False).indices.",
    lambda g: [
        Case("40 points in 8-D, k = 4", (_randn(g, 40, 8), 4)),
        Case("25 points in 128-D, k = 3", (_randn(g, 25, 128), 3), hidden=True),
        Case("10 points in 2-D, k = 1", (_randn(g, 10, 2), 1), hidden=True),
    ],
    ref_nearest_neighbors,
    kit=(last_layer.nearest_neighbors,),
    exact=True,
    mistakes=(
        _m(
            "each point counted as its own nearest neighbour",
            "Set the distance of every point to itself to inf first.",
            _knn_self_included,
        ),
        _m("farthest instead of nearest", "topk(k, largest=False): the smallest distances.", _knn_farthest),
    ),
)
