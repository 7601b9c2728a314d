"""Exercise 11.2: ``my_optimisation_step`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import style_transfer, texture_synthesis
from ...harness import three_steps
from ._common import _m, _rand, _randn
from .spec import Case, Exercise


def ref_optimisation_step(img, optimizer, objective, lo, hi):
    optimizer.zero_grad()
    loss = objective(img)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        img.clamp_(lo, hi)
    return loss.item()


def _step_no_zero_grad(img, optimizer, objective, lo, hi):
    loss = objective(img)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        img.clamp_(lo, hi)
    return loss.item()


def _step_no_clamp(img, optimizer, objective, lo, hi):
    optimizer.zero_grad()
    loss = objective(img)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_ascent(img, optimizer, objective, lo, hi):
    optimizer.zero_grad()
    loss = objective(img)
    (-loss).backward()
    optimizer.step()
    with torch.no_grad():
        img.clamp_(lo, hi)
    return loss.item()


def _step_cases(g):
    def case(label, shape, lr, hidden=False):
        lo, hi = -torch.ones(1, 3, 1, 1, dtype=torch.float64), torch.ones(1, 3, 1, 1, dtype=torch.float64)
        return Case(label, (_randn(g, *shape, scale=0.5), _randn(g, *shape, scale=1.5), _rand(g, *shape), lr, lo, hi), hidden)

    return [case("1x3x6x6 image, lr 0.1", (1, 3, 6, 6), 0.1), case("1x3x4x9 image, lr 0.5", (1, 3, 4, 9), 0.5, hidden=True)]


EXERCISE = Exercise(
    "11.2",
    "my_optimisation_step",
    "optimizer.zero_grad(); loss = objective(img); loss.backward(); optimizer.step(); clamp img in place; return loss.item().",
    _step_cases,
    ref_optimisation_step,
    kit=(style_transfer.style_transfer, texture_synthesis.texture_synthesis),
    call=three_steps,
    mistakes=(
        _m("gradients never zeroed (they accumulate)", "Call optimizer.zero_grad() before backward().", _step_no_zero_grad),
        _m("no clamp", "After the step, clamp img in place to [lo, hi] inside torch.no_grad().", _step_no_clamp),
        _m(
            "gradient ascent instead of descent",
            "The optimiser minimises: call loss.backward(), not (-loss).backward().",
            _step_ascent,
        ),
    ),
)
