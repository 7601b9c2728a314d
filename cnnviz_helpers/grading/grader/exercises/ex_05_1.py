"""Exercise 05.1: ``my_saliency_map`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import saliency
from ....engines import scores
from ._common import _INPLACE, A, B, _m, _normalised, _targets
from .spec import Case, Exercise


def ref_saliency_map(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    scores = model(x).gather(1, target.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(scores, x)
    return grad.abs().amax(dim=1)


def _input_grad(model, x, target, score=lambda s: s):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(model(x)).gather(1, target.view(-1, 1)).sum(), x)
    return grad


def _sal_softmax(model, x, target):
    return _input_grad(model, x, target, lambda s: s.softmax(1)).abs().amax(dim=1)


def _sal_no_abs(model, x, target):
    return _input_grad(model, x, target).amax(dim=1)


def _sal_channel_mean(model, x, target):
    return _input_grad(model, x, target).abs().mean(dim=1)


def _sal_in_place(model, x, target):
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).gather(1, target.view(-1, 1)).sum(), x)
    return grad.abs().amax(dim=1)


def _saliency_cases(g):
    return [
        Case("model a, 3 images, one target each", (A, _normalised(g, 3, 3, 16, 16), _targets(g, 3, 5))),
        Case("model b, 2 non-square images", (B, _normalised(g, 2, 3, 20, 12), _targets(g, 2, 7)), hidden=True),
    ]


EXERCISE = Exercise(
    "05.1",
    "my_saliency_map",
    "a detached copy of x with requires_grad, gather the targets' scores, autograd.grad, abs, max over channels.",
    _saliency_cases,
    ref_saliency_map,
    kit=(
        saliency.saliency_map,
        saliency.smoothgrad,
        scores.input_gradient,
    ),
    mistakes=(
        _m(
            "softmax probability instead of the raw score",
            "Differentiate the unnormalised score s_y (the logit), not p_y.",
            _sal_softmax,
        ),
        _m(
            "missing abs",
            "Take the absolute value before the maximum: a strongly negative gradient matters too.",
            _sal_no_abs,
        ),
        _m("wrong channel reduction (mean)", "Reduce the colour channels with the maximum, amax(dim=1).", _sal_channel_mean),
        _m(
            _INPLACE,
            "Differentiate x.detach().clone().requires_grad_(True), never the caller's tensor.",
            _sal_in_place,
            "inplace",
        ),
    ),
)
