"""Exercise 10.1: ``my_gram_matrix`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

from .... import texture_synthesis
from ._common import _m, _randn
from .spec import Case, Exercise


def ref_gram_matrix(features):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def _gram(features, divide):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / divide(c, h, w)


def _gram_hw(features):
    return _gram(features, lambda c, h, w: h * w)


def _gram_raw(features):
    return _gram(features, lambda c, h, w: 1)


def _gram_positions(features):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f.transpose(1, 2) @ f / (c * h * w)


def _gram_cases(g):
    return [
        Case("1x3x4x5", (_randn(g, 1, 3, 4, 5),)),
        Case("2x8x7x3", (_randn(g, 2, 8, 7, 3),)),
        Case("3x16x1x9", (_randn(g, 3, 16, 1, 9),), hidden=True),
        Case("2x5x6x6, scaled by 7", (_randn(g, 2, 5, 6, 6, scale=7),), hidden=True),
    ]


EXERCISE = Exercise(
    "10.1",
    "my_gram_matrix",
    "reshape to [N, C, H*W], f @ f.transpose(1, 2), divide by C*H*W.",
    _gram_cases,
    ref_gram_matrix,
    kit=(texture_synthesis.gram_matrix,),
    mistakes=(
        _m("Gram ÷HW instead of ÷CHW", "Divide by C*H*W (CS231n's normalisation).", _gram_hw),
        _m("Gram unnormalised", "Divide the raw sum by C*H*W.", _gram_raw),
        _m(
            "positions x positions instead of channels x channels",
            "The Gram matrix is [N, C, C]: f @ f.transpose(1, 2).",
            _gram_positions,
        ),
    ),
)
