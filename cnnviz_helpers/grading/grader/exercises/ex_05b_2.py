"""Exercise 05b.2: ``my_rank_correlation`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

from .... import sanity
from ._common import _m, _rand
from .spec import Case, Exercise


def ref_rank_correlation(a, b):
    ra = a.flatten(1).argsort(dim=1).argsort(dim=1).double()
    rb = b.flatten(1).argsort(dim=1).argsort(dim=1).double()
    ra, rb = ra - ra.mean(dim=1, keepdim=True), rb - rb.mean(dim=1, keepdim=True)
    return (ra * rb).sum(dim=1) / (ra.norm(dim=1) * rb.norm(dim=1))


def _pearson_values(a, b):
    va, vb = a.flatten(1).double(), b.flatten(1).double()
    va, vb = va - va.mean(1, keepdim=True), vb - vb.mean(1, keepdim=True)
    return (va * vb).sum(1) / (va.norm(dim=1) * vb.norm(dim=1))


def _rank_cases(g):
    a = _rand(g, 3, 16, 16)
    c = _rand(g, 2, 9, 7)
    return [
        Case("3 maps and noisy copies", (a, a + 0.5 * _rand(g, 3, 16, 16))),
        Case("3 maps and their exponential", (a, (4 * a).exp())),
        Case("2 maps against a cubed, reversed copy", (c, -(c**3) + 0.1 * _rand(g, 2, 9, 7)), hidden=True),
    ]


EXERCISE = Exercise(
    "05b.2",
    "my_rank_correlation",
    "ranks with argsort().argsort(), centred, then their Pearson correlation per image.",
    _rank_cases,
    ref_rank_correlation,
    kit=(sanity.rank_correlation,),
    mistakes=(
        _m(
            "correlation of the values, not of their ranks",
            "Spearman correlates ranks: argsort().argsort() first.",
            _pearson_values,
        ),
    ),
)
