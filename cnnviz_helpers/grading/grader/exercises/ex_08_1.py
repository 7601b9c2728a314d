"""Exercise 08.1: ``deepdream_step`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import deepdream
from ...tiny import TINY_LAYERS
from ._common import MEAN, STD, A, B, _activations, _m, _normalised, _pixel_range
from .spec import Case, Exercise


def ref_deepdream_step(model, x, layer, lr, mean, std):
    x = x.detach().clone().requires_grad_(True)
    with _activations(model, layer) as acts:
        model(x)
        a = acts[layer]
        (g,) = torch.autograd.grad(a, x, grad_outputs=a.detach())
    step = lr / torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    lo, hi = _pixel_range(mean, std, x)
    return (x + step * g / g.abs().mean()).detach().clamp(lo, hi)


def _dream(model, x, layer, lr, mean, std, sign=1.0, clamp=True, per_channel=True):
    x = x.detach().clone().requires_grad_(True)
    with _activations(model, layer) as acts:
        model(x)
        a = acts[layer]
        (g,) = torch.autograd.grad(a, x, grad_outputs=a.detach())
    step = lr / torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1) if per_channel else lr
    out = (x + sign * step * g / g.abs().mean()).detach()
    return out.clamp(*_pixel_range(mean, std, x)) if clamp else out


def _dream_descent(*a):
    return _dream(*a, sign=-1.0)


def _dream_no_clamp(*a):
    return _dream(*a, clamp=False)


def _dream_no_std(*a):
    return _dream(*a, per_channel=False)


def _dream_cases(g):
    return [
        Case("model a, deep layer", (A, _normalised(g, 1, 3, 16, 16), TINY_LAYERS[1], 0.3, MEAN, STD)),
        Case("model a, shallow layer", (A, _normalised(g, 1, 3, 16, 16), TINY_LAYERS[0], 0.3, MEAN, STD)),
        Case("model b, deep layer", (B, _normalised(g, 1, 3, 12, 20), TINY_LAYERS[1], 0.5, MEAN, STD), hidden=True),
    ]


EXERCISE = Exercise(
    "08.1",
    "deepdream_step",
    "capture the layer, gradient with grad_outputs = the activations, step lr/std * g/mean|g|, clamp.",
    _dream_cases,
    ref_deepdream_step,
    kit=(deepdream.deepdream,),
    mistakes=(
        _m("gradient descent instead of ascent", "DeepDream amplifies the activations: add the step.", _dream_descent),
        _m("no clamp", "Clamp to pixel_range(mean, std, x) after the step.", _dream_no_clamp),
        _m(
            "step not divided by std",
            "lr is in pixel units: divide by std per channel to move in normalised units.",
            _dream_no_std,
        ),
    ),
)
