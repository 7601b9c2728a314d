"""Exercise 07.2: ``project_linf`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import adversarial
from ._common import _m, _rand, _randn
from .spec import Case, Exercise


def ref_project_linf(p, p0, eps):
    return torch.minimum(torch.maximum(p, p0 - eps), p0 + eps).clamp(0, 1)


def _project_no_box(p, p0, eps):
    return torch.minimum(torch.maximum(p, p0 - eps), p0 + eps)


def _project_wrong_centre(p, p0, eps):
    return p.clamp(-eps, eps).clamp(0, 1)


def _project_cases(g):
    p0 = _rand(g, 2, 3, 8, 8)
    q0 = _rand(g, 5, 7)
    return [
        Case("2 images, ε = 0.1", (p0 + _randn(g, 2, 3, 8, 8, scale=0.5), p0, 0.1)),
        Case("any shape, ε = 0.03", (q0 + _randn(g, 5, 7, scale=0.2), q0, 0.03), hidden=True),
    ]


EXERCISE = Exercise(
    "07.2",
    "project_linf",
    "clip p into [p0 - eps, p0 + eps], then into [0, 1].",
    _project_cases,
    ref_project_linf,
    kit=(adversarial.pgd,),
    mistakes=(
        _m("no clamp to [0, 1]", "The allowed set is the eps-ball *and* valid pixels.", _project_no_box),
        _m(
            "clipped p instead of the change p - p0",
            "The ball is centred on p0: clamp p - p0 (or p within p0 ± eps).",
            _project_wrong_centre,
        ),
    ),
)
