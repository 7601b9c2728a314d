"""Exercise 12.2: ``conditional_instance_norm`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ... import harness
from ._common import _m, _randn
from .ex_12_1 import ref_instance_norm
from .spec import Case, Exercise


def ref_conditional_instance_norm(x, gamma_table, beta_table, style):
    gamma, beta = style @ gamma_table, style @ beta_table
    return ref_instance_norm(x) * gamma[None, :, None, None] + beta[None, :, None, None]


def _cin_no_beta(x, gamma_table, beta_table, style):
    return ref_instance_norm(x) * (style @ gamma_table)[None, :, None, None]


def _cin_mean_style(x, gamma_table, beta_table, style):
    return ref_instance_norm(x) * gamma_table.mean(0)[None, :, None, None] + beta_table.mean(0)[None, :, None, None]


def _cin_cases(g):
    def case(label, style, c=8, hidden=False):
        return Case(
            label,
            (
                _randn(g, 2, c, 6, 10, scale=2),
                1 + _randn(g, 3, c, scale=0.5),
                _randn(g, 3, c, scale=0.5),
                torch.tensor(style, dtype=torch.float64),
            ),
            hidden,
        )

    return [
        case("one-hot style 0", [1.0, 0.0, 0.0]),
        case("blend 0.2 / 0.5 / 0.3", [0.2, 0.5, 0.3]),
        case("blend 0.7 / 0.3 / 0, 5 channels", [0.7, 0.3, 0.0], c=5, hidden=True),
    ]


EXERCISE = Exercise(
    "12.2",
    "conditional_instance_norm",
    "gamma = style @ gamma_table, beta = style @ beta_table; instance_norm(x) * gamma + beta per channel.",
    _cin_cases,
    ref_conditional_instance_norm,
    kit=(F.instance_norm,),
    provides={"instance_norm": ref_instance_norm},
    lends={"instance_norm": harness.instance_norm},
    mistakes=(
        _m("shift beta missing", "Add beta = style @ beta_table after scaling.", _cin_no_beta),
        _m("style weights not applied", "Mix the table rows with the style vector: style @ gamma_table.", _cin_mean_style),
    ),
)
