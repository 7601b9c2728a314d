"""Exercise 06.1: ``class_visualization_step`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import class_visualization
from ._common import _INPLACE, MEAN, STD, A, B, _m, _pixel_range, _randn
from .spec import Case, Exercise


def ref_class_visualization_step(model, img, target, l2_reg, lr, mean, std):
    img = img.detach().clone().requires_grad_(True)
    objective = model(img)[0, target] - l2_reg * img.pow(2).sum()
    (grad,) = torch.autograd.grad(objective, img)
    lo, hi = _pixel_range(mean, std, img)
    return (img + lr * grad / grad.norm()).detach().clamp(lo, hi)


def _cv_step(model, img, target, l2_reg, lr, mean, std, sign=1.0, l2_sign=-1.0, clamp=True, normalise=True, clone=True):
    img = img.detach().clone().requires_grad_(True) if clone else img.requires_grad_(True)
    objective = model(img)[0, target] + l2_sign * l2_reg * img.pow(2).sum()
    (grad,) = torch.autograd.grad(objective, img)
    step = lr * grad / (grad.norm() if normalise else 1.0)
    out = (img + sign * step).detach()
    return out.clamp(*_pixel_range(mean, std, img)) if clamp else out


def _cv_descent(*a):
    return _cv_step(*a, sign=-1.0)


def _cv_no_l2(*a):
    return _cv_step(*a, l2_sign=0.0)


def _cv_l2_sign(*a):
    return _cv_step(*a, l2_sign=1.0)


def _cv_no_clamp(*a):
    return _cv_step(*a, clamp=False)


def _cv_unnormalised(*a):
    return _cv_step(*a, normalise=False)


def _cv_in_place(*a):
    return _cv_step(*a, clone=False)


def _cv_cases(g):
    return [
        Case("model a, class 1", (A, _randn(g, 1, 3, 16, 16, scale=1.5), 1, 0.05, 3.0, MEAN, STD)),
        Case("model a, class 4, weak L2", (A, _randn(g, 1, 3, 16, 16, scale=1.5), 4, 0.01, 5.0, MEAN, STD)),
        Case("model b, class 6", (B, _randn(g, 1, 3, 12, 18, scale=1.5), 6, 0.05, 2.0, MEAN, STD), hidden=True),
    ]


EXERCISE = Exercise(
    "06.1",
    "class_visualization_step",
    "gradient of s_y - l2_reg*||img||^2, step lr*grad/grad.norm() UP, clamp with pixel_range.",
    _cv_cases,
    ref_class_visualization_step,
    kit=(class_visualization.class_visualization,),
    mistakes=(
        _m("gradient descent instead of ascent", "We maximise the score: add the step (img + lr * g / |g|).", _cv_descent),
        _m("L2 term missing", "The objective is s_y(I) - l2_reg * ||I||^2.", _cv_no_l2),
        _m("L2 term with the wrong sign", "Subtract the penalty: - l2_reg * img.pow(2).sum().", _cv_l2_sign),
        _m("no clamp", "Clamp to pixel_range(mean, std, img) after the step.", _cv_no_clamp),
        _m("gradient not normalised", "Step along grad / grad.norm(): the step length is lr.", _cv_unnormalised),
        _m(_INPLACE, "Start from img.detach().clone().requires_grad_(True).", _cv_in_place, "inplace"),
    ),
)
