"""Exercise 02.2: ``my_pca_2d`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import last_layer
from ...harness import signs_fixed
from ._common import _m, _randn
from .spec import Case, Exercise


def ref_pca_2d(features):
    centred = features - features.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return centred @ vh[:2].T


def _pca_not_centred(features):
    _, _, vh = torch.linalg.svd(features, full_matrices=False)
    return features @ vh[:2].T


def _pca_smallest(features):
    centred = features - features.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return centred @ vh[-2:].flip(0).T


def _pca_cases(g):
    # features with a clear spectrum (distinct principal variances) and an offset mean
    def feats(n, d):
        return _randn(g, n, d) * torch.linspace(3, 0.2, d, dtype=torch.float64) + _randn(g, 1, d, scale=5)

    return [Case("30 points in 6-D", (feats(30, 6),)), Case("50 points in 16-D", (feats(50, 16),), hidden=True)]


EXERCISE = Exercise(
    "02.2",
    "my_pca_2d",
    "centre the features, torch.linalg.svd, project on the first two rows of Vh.",
    _pca_cases,
    ref_pca_2d,
    kit=(last_layer.embed_2d,),
    call=signs_fixed,
    mistakes=(
        _m("features not centred", "Subtract the mean feature vector before the SVD and before projecting.", _pca_not_centred),
        _m(
            "the two smallest principal directions",
            "torch.linalg.svd sorts singular values largest first: take Vh[:2].",
            _pca_smallest,
        ),
    ),
)
