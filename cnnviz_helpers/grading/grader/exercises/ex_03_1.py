"""Exercise 03.1: ``my_receptive_field`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from ....engines import receptive_field
from ._common import _m
from .spec import Case, Exercise


def ref_receptive_field(layers):
    size, stride, start = 1, 1, 0
    for k, s, p, d in layers:
        size += d * (k - 1) * stride
        start -= p * stride
        stride *= s
    return size, stride, start


def _rf_stride_first(layers):
    size, stride, start = 1, 1, 0
    for k, s, p, d in layers:
        stride *= s
        size += d * (k - 1) * stride
        start -= p * stride
    return size, stride, start


def _rf_no_dilation(layers):
    size, stride, start = 1, 1, 0
    for k, s, p, _ in layers:
        size += (k - 1) * stride
        start -= p * stride
        stride *= s
    return size, stride, start


def _rf_cases(g):
    def stack():
        n = int(torch.randint(2, 6, (1,), generator=g))
        out = []
        for _ in range(n):
            k = [1, 3, 5][int(torch.randint(3, (1,), generator=g))]
            s = int(torch.randint(1, 3, (1,), generator=g))
            d = [1, 1, 2][int(torch.randint(3, (1,), generator=g))]
            out.append((k, s, int(torch.randint(0, k // 2 + 1, (1,), generator=g)), d))
        return out

    fixed = [(3, 1, 1, 1), (3, 2, 1, 1), (3, 1, 1, 2), (3, 2, 0, 1)]
    return [Case("conv3 / conv3 s2 / dilated conv3 / conv3 s2", (fixed,))] + [
        Case(f"random stack {i}", (stack(),), hidden=i >= 4) for i in range(12)
    ]


EXERCISE = Exercise(
    "03.1",
    "my_receptive_field",
    "for each (k, s, p, d): size += d*(k-1)*stride; start -= p*stride; stride *= s.",
    _rf_cases,
    ref_receptive_field,
    kit=(receptive_field.receptive_field,),
    exact=True,
    mistakes=(
        _m(
            "stride updated before the size",
            "Grow size and start with the jump of the layers *before* this one, then multiply the stride.",
            _rf_stride_first,
        ),
        _m("dilation ignored", "A dilated kernel spans d*(k-1)+1 input pixels.", _rf_no_dilation),
    ),
)
