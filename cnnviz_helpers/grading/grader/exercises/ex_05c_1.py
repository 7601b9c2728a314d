"""Exercise 05c.1: ``my_deletion_curve`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import attribution_metrics
from ._common import A, B, _m, _normalised, _rand
from .spec import Case, Exercise


def _deletion(model, x, importance, target, steps, score, order="most", cumulative=True):
    """The deletion curve with the choices a mistake can get wrong (which pixels go, which score is tracked)."""
    H, W = importance.shape
    ranked = importance.flatten().argsort(descending=order == "most")
    curve = torch.zeros(steps + 1, dtype=x.dtype)
    with torch.no_grad():
        for j in range(steps + 1):
            first = round((j - 1) * H * W / steps) if cumulative is False and j > 0 else 0
            gone = ranked[first : round(j * H * W / steps)]
            deleted = x.clone().flatten(2)
            deleted[:, :, gone] = 0.0
            curve[j] = score(model(deleted.view_as(x)))[0, target]
    return curve


def ref_deletion_curve(model, x, importance, target, steps):
    H, W = importance.shape
    ranked = importance.flatten().argsort(descending=True)
    curve = torch.zeros(steps + 1, dtype=x.dtype)
    with torch.no_grad():
        for j in range(steps + 1):
            deleted = x.clone().flatten(2)
            deleted[:, :, ranked[: round(j * H * W / steps)]] = 0.0
            curve[j] = model(deleted.view_as(x)).softmax(1)[0, target]
    return curve


def _least_first(model, x, importance, target, steps):
    return _deletion(model, x, importance, target, steps, lambda s: s.softmax(1), order="least")


def _raw_score(model, x, importance, target, steps):
    return _deletion(model, x, importance, target, steps, lambda s: s)


def _one_slice_at_a_time(model, x, importance, target, steps):
    return _deletion(model, x, importance, target, steps, lambda s: s.softmax(1), cumulative=False)


def _deletion_cases(g):
    def case(label, model, h, w, target, steps, hidden=False):
        return Case(label, (model, _normalised(g, 1, 3, h, w), _rand(g, h, w), target, steps), hidden)

    return [
        case("model a, 12x12, 6 steps", A, 12, 12, 1, 6),
        case("model a, 12x12, 4 steps", A, 12, 12, 3, 4, hidden=True),
        case("model b, 10x14, 5 steps", B, 10, 14, 5, 5, hidden=True),
    ]


EXERCISE = Exercise(
    "05c.1",
    "my_deletion_curve",
    "rank the pixels by importance (highest first); at step j zero the first round(j*H*W/steps) of them; softmax[target].",
    _deletion_cases,
    ref_deletion_curve,
    kit=(attribution_metrics.deletion_curve,),
    mistakes=(
        _m(
            "least important pixels removed first",
            "Sort by decreasing importance: argsort(descending=True).",
            _least_first,
        ),
        _m(
            "raw score instead of the softmax probability",
            "Track model(x).softmax(1)[0, target], a probability between 0 and 1.",
            _raw_score,
        ),
        _m(
            "only the newest slice of pixels removed at each step",
            "Deletion is cumulative: at step j all of the first round(j*H*W/steps) pixels are zero.",
            _one_slice_at_a_time,
        ),
    ),
)
