"""Exercise 12.1: ``instance_norm`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._common import _m, _randn
from .spec import Case, Exercise


def ref_instance_norm(x, eps=1e-5):
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


def _in_unbiased(x, eps=1e-5):
    return (x - x.mean(dim=(2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(2, 3), keepdim=True) + eps)


def _in_layer_norm(x, eps=1e-5):
    return (x - x.mean(dim=(1, 2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(1, 2, 3), keepdim=True, unbiased=False) + eps)


def _in_eps_outside(x, eps=1e-5):
    return (x - x.mean(dim=(2, 3), keepdim=True)) / (x.std(dim=(2, 3), keepdim=True, unbiased=False) + eps)


def _in_cases(g):
    return [
        Case("2x3x5x7", (_randn(g, 2, 3, 5, 7, scale=3) + 2, 1e-5)),
        Case("1x16x3x3, eps = 1", (_randn(g, 1, 16, 3, 3, scale=0.5), 1.0)),
        Case("4x8x2x12", (_randn(g, 4, 8, 2, 12, scale=5) - 7, 1e-5), hidden=True),
    ]


EXERCISE = Exercise(
    "12.1",
    "instance_norm",
    "mean and biased variance over (H, W) per image and channel; (x - mean) / sqrt(var + eps).",
    _in_cases,
    ref_instance_norm,
    kit=(F.instance_norm,),
    mistakes=(
        _m("unbiased variance", "PyTorch's normalisation layers use the biased variance: unbiased=False.", _in_unbiased),
        _m(
            "normalised over the channels too (layer norm)",
            "Reduce over dim=(2, 3) only: one mean per image *and* channel.",
            _in_layer_norm,
        ),
        _m("eps outside the square root", "Divide by sqrt(var + eps).", _in_eps_outside),
    ),
)
