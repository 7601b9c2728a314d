"""Exercise 10.2: ``my_style_loss`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import style_transfer, texture_synthesis
from ._common import _NOGRAD, _m, _randn
from .ex_10_1 import ref_gram_matrix
from .spec import Case, Exercise


def ref_style_loss(features, targets, weights):
    loss = torch.zeros((), dtype=features[0].dtype)
    for f, a, w in zip(features, targets, weights):
        loss = loss + w * (ref_gram_matrix(f) - a).pow(2).sum()
    return loss


def _style_unweighted(features, targets, weights):
    return sum((ref_gram_matrix(f) - a).pow(2).sum() for f, a in zip(features, targets))


def _style_norm(features, targets, weights):
    return sum(w * (ref_gram_matrix(f) - a).norm() for f, a, w in zip(features, targets, weights))


def _style_detached(features, targets, weights):
    return sum(w * (ref_gram_matrix(f.detach()) - a).pow(2).sum() for f, a, w in zip(features, targets, weights))


def _style_cases(g):
    f1, f2 = _randn(g, 1, 4, 6, 6), _randn(g, 1, 8, 3, 3)
    t1, t2 = ref_gram_matrix(_randn(g, 1, 4, 6, 6)), ref_gram_matrix(_randn(g, 1, 8, 3, 3))
    return [
        Case("two layers, weights 1 and 1", ([f1, f2], [t1, t2], [1.0, 1.0])),
        Case("two layers, weights 3e5 and 3", ([f1, f2], [t1, t2], [3e5, 3.0])),
        Case("one layer switched off", ([f1, f2], [t1, t2], [0.0, 2.5]), hidden=True),
        Case(
            "three layers",
            ([f1, f2, _randn(g, 2, 3, 5, 4)], [t1, t2, ref_gram_matrix(_randn(g, 2, 3, 5, 4))], [2.0, 0.5, 9.0]),
            hidden=True,
        ),
    ]


EXERCISE = Exercise(
    "10.2",
    "my_style_loss",
    "sum over layers of weight * ((my_gram_matrix(f) - target)**2).sum().",
    _style_cases,
    ref_style_loss,
    kit=(style_transfer.style_loss, texture_synthesis.gram_losses),  # style_loss = the sum of gram_losses
    provides={"my_gram_matrix": ref_gram_matrix},
    lends={"my_gram_matrix": texture_synthesis.gram_matrix},
    differentiable=True,
    mistakes=(
        _m("layer weights ignored", "Multiply each layer's term by its weight.", _style_unweighted),
        _m("Frobenius norm instead of its square", "Use the *squared* distance: (G - A).pow(2).sum().", _style_norm),
        _m(_NOGRAD, "Keep everything a tensor: no .item(), float() or .detach().", _style_detached, "nograd"),
    ),
)
