"""Exercise 09.1: ``my_tv`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ....core import regularizers
from ._common import _m, _rand
from .spec import Case, Exercise


def ref_tv(x, beta=2.0, eps=1e-8):
    dv, dh = torch.zeros_like(x), torch.zeros_like(x)
    dv[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dh[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    squared = dv**2 + dh**2
    return squared.sum() if beta == 2 else (squared + eps).pow(beta / 2).sum()


def _tv_abs(x, beta=2.0, eps=1e-8):
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., :, 1:] - x[..., :, :-1]).abs().sum()


def _tv_mean(x, beta=2.0, eps=1e-8):
    dv = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    dh = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    squared = dv**2 + dh**2
    return squared.mean() if beta == 2 else (squared + eps).pow(beta / 2).mean()


def _tv_cases(g):
    hand = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]], dtype=torch.float64)
    return [
        Case("random 2x3x9x7, β = 2", (_rand(g, 2, 3, 9, 7), 2.0)),
        Case("hand-made 2x2 image, β = 2", (hand, 2.0)),
        Case("random 2x3x9x7, β = 1.5", (_rand(g, 2, 3, 9, 7), 1.5)),
        Case("hand-made 2x2 image, β = 1", (hand, 1.0), hidden=True),
        Case("random 1x1x1x6 (one row), β = 2", (_rand(g, 1, 1, 1, 6), 2.0), hidden=True),
    ]


EXERCISE = Exercise(
    "09.1",
    "my_tv",
    "zero-padded vertical and horizontal differences, their squares summed per pixel, to the power beta/2.",
    _tv_cases,
    ref_tv,
    kit=(regularizers.tv_loss,),
    mistakes=(
        _m("TV absolute instead of squared", "With beta = 2 square the differences: (dv**2 + dh**2).sum().", _tv_abs),
        _m("mean instead of sum", "Sum over every pixel and channel (the weight sets the scale).", _tv_mean),
    ),
)
