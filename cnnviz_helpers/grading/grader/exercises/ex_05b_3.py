"""Exercise 05b.3: ``my_cascading_randomization`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import copy

import torch

from .... import sanity
from ._common import A, B, _m, _normalised, _targets
from .spec import Case, Exercise


def reinitialise(module, seed):
    """The notebook's given helper: normal weights (std 1/sqrt(fan-in)), zero biases, drawn in float32."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5 if p.ndim > 1 else torch.zeros(p.shape))


def _saliency(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).gather(1, target.view(-1, 1)).sum(), x)
    return grad.abs().amax(dim=1)


def _ranks(v):
    _, inverse, counts = torch.unique(v, return_inverse=True, return_counts=True)
    counts = counts.to(torch.float64)
    return (counts.cumsum(0) - (counts - 1) / 2)[inverse]


def _rho(a, b):
    ra = torch.stack([_ranks(v) for v in a.detach().flatten(1)])
    rb = torch.stack([_ranks(v) for v in b.detach().flatten(1)])
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    denom = ra.norm(dim=1) * rb.norm(dim=1)
    return torch.where(denom > 0, (ra * rb).sum(1) / denom.clamp_min(1e-300), torch.zeros_like(denom))


def _cascade(model, x, target, layers, seed, order=lambda ls: ls, cascading=True, step_seed=True):
    randomized = copy.deepcopy(model)
    first = _saliency(randomized, x, target)
    rho = [_rho(first, first)]
    for k, name in enumerate(order(list(layers))):
        if not cascading:
            randomized = copy.deepcopy(model)
        reinitialise(dict(randomized.named_modules())[name], seed + k if step_seed else seed)
        rho.append(_rho(first, _saliency(randomized, x, target)))
    return torch.stack(rho)


def ref_cascading_randomization(model, x, target, layers, seed):
    return _cascade(model, x, target, layers, seed)


def _cascade_independent(model, x, target, layers, seed):
    return _cascade(model, x, target, layers, seed, cascading=False)


def _cascade_reversed(model, x, target, layers, seed):
    return _cascade(model, x, target, layers, seed, order=lambda ls: ls[::-1])


def _cascade_one_seed(model, x, target, layers, seed):
    return _cascade(model, x, target, layers, seed, step_seed=False)


def _cascade_no_first_row(model, x, target, layers, seed):
    return _cascade(model, x, target, layers, seed)[1:]


OUTPUT_TO_INPUT = ["classifier", "features.4", "features.0"]


def _cascade_cases(g):
    return [
        Case(
            "model a, 2 images, classifier -> first conv",
            (A, _normalised(g, 2, 3, 12, 12), _targets(g, 2, 5), OUTPUT_TO_INPUT, 0),
        ),
        Case("model b, 3 images, seed 5", (B, _normalised(g, 3, 3, 14, 10), _targets(g, 3, 7), OUTPUT_TO_INPUT, 5), hidden=True),
        Case(
            "model a, the two convolutions only",
            (A, _normalised(g, 2, 3, 10, 10), _targets(g, 2, 5), OUTPUT_TO_INPUT[1:], 3),
            hidden=True,
        ),
    ]


EXERCISE = Exercise(
    "05b.3",
    "my_cascading_randomization",
    "a deep copy; the trained map; for k, layer in order: reinitialise(layer, seed + k), then rho(trained map, new map).",
    _cascade_cases,
    ref_cascading_randomization,
    kit=(sanity.cascading_randomization,),
    mistakes=(
        _m(
            "each layer randomized alone (not cascading)",
            "Keep randomizing the same copy: after step k, every layer up to layers[k] is random.",
            _cascade_independent,
        ),
        _m(
            "layers randomized from the input up",
            "Go through `layers` in the order given (output towards input), as Adebayo et al. do.",
            _cascade_reversed,
        ),
        _m("the same seed at every step", "Step k re-initialises with seed + k.", _cascade_one_seed),
        _m(
            "the trained model's row left out",
            "Row 0 compares the trained map with itself (1 for every image); then one row per randomized layer.",
            _cascade_no_first_row,
        ),
    ),
)
