"""Exercise 11.1: ``my_content_loss`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import style_transfer
from ._common import _NOGRAD, _m, _randn
from .spec import Case, Exercise


def ref_content_loss(current, target, weight):
    return weight * (current - target).pow(2).sum()


def _content_mean(current, target, weight):
    return weight * (current - target).pow(2).mean()


def _content_no_weight(current, target, weight):
    return (current - target).pow(2).sum()


def _content_abs(current, target, weight):
    return weight * (current - target).abs().sum()


def _content_detached(current, target, weight):
    return torch.tensor((weight * (current - target).pow(2).sum()).item())


def _content_cases(g):
    return [
        Case("1x8x5x5, weight 0.05", (_randn(g, 1, 8, 5, 5), _randn(g, 1, 8, 5, 5), 0.05)),
        Case("1x4x3x6, weight 3", (_randn(g, 1, 4, 3, 6), _randn(g, 1, 4, 3, 6), 3.0), hidden=True),
    ]


EXERCISE = Exercise(
    "11.1",
    "my_content_loss",
    "weight * ((current - target)**2).sum(), a tensor with a gradient.",
    _content_cases,
    ref_content_loss,
    kit=(style_transfer.content_loss,),
    differentiable=True,
    mistakes=(
        _m("mean instead of sum", "CS231n's content loss sums the squared differences.", _content_mean),
        _m("weight missing", "Multiply by the content weight.", _content_no_weight),
        _m("absolute instead of squared differences", "Square the differences: .pow(2).", _content_abs),
        _m(_NOGRAD, "Return the tensor itself: the optimiser needs its gradient.", _content_detached, "nograd"),
    ),
)
