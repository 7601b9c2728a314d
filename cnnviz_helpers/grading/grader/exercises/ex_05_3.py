"""Exercise 05.3: ``my_smoothgrad`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import saliency
from ....engines import scores
from ._common import _INPLACE, A, B, _m, _normalised, _randn, _targets
from .spec import Case, Exercise


def _gradient(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).gather(1, target.view(-1, 1)).sum(), x)
    return grad


def _sigma(x):
    return (x.flatten(1).amax(1) - x.flatten(1).amin(1)).view(-1, 1, 1, 1)


def ref_smoothgrad(model, x, target, noise, noise_level):
    sigma = noise_level * _sigma(x)
    total = torch.zeros(x.shape[0], *x.shape[2:], dtype=x.dtype)
    for eps in noise:
        total += _gradient(model, x + sigma * eps, target).abs().amax(dim=1)
    return total / len(noise)


def _sg_unscaled(model, x, target, noise, noise_level):
    return sum(_gradient(model, x + noise_level * eps, target).abs().amax(dim=1) for eps in noise) / len(noise)


def _sg_abs_after_mean(model, x, target, noise, noise_level):
    sigma = noise_level * _sigma(x)
    return (sum(_gradient(model, x + sigma * eps, target) for eps in noise) / len(noise)).abs().amax(dim=1)


def _sg_batch_range(model, x, target, noise, noise_level):
    sigma = noise_level * (x.max() - x.min())
    return sum(_gradient(model, x + sigma * eps, target).abs().amax(dim=1) for eps in noise) / len(noise)


def _sg_summed(model, x, target, noise, noise_level):
    return ref_smoothgrad(model, x, target, noise, noise_level) * len(noise)


def _sg_accumulating(model, x, target, noise, noise_level):
    sigma = noise_level * _sigma(x)
    total = torch.zeros(x.shape[0], *x.shape[2:], dtype=x.dtype)
    for eps in noise:
        x.add_(sigma * eps)  # the noise piles up in the caller's image
        total += _gradient(model, x, target).abs().amax(dim=1)
    return total / len(noise)


def _smoothgrad_cases(g):
    return [
        Case(
            "model a, 2 images, 4 noisy copies, 15 %",
            (A, _normalised(g, 2, 3, 14, 14), _targets(g, 2, 5), _randn(g, 4, 2, 3, 14, 14), 0.15),
        ),
        Case(
            "model a, 1 image, 3 copies, 30 %",
            (A, _normalised(g, 1, 3, 12, 12), _targets(g, 1, 5), _randn(g, 3, 1, 3, 12, 12), 0.3),
        ),
        Case(
            "model b, 3 non-square images, 5 copies, 10 %",
            (B, _normalised(g, 3, 3, 16, 10), _targets(g, 3, 7), _randn(g, 5, 3, 3, 16, 10), 0.1),
            hidden=True,
        ),
    ]


EXERCISE = Exercise(
    "05.3",
    "my_smoothgrad",
    "sigma = noise_level * (max - min) of each image; for each eps in noise: saliency of x + sigma*eps; the mean of the maps.",
    _smoothgrad_cases,
    ref_smoothgrad,
    kit=(saliency.saliency_map, saliency.smoothgrad, scores.input_gradient),
    mistakes=(
        _m(
            "noise not scaled by the image's range",
            "sigma = noise_level * (x_i.max() - x_i.min()) for each image i, then add sigma * eps.",
            _sg_unscaled,
        ),
        _m(
            "abs and max taken after averaging the gradients",
            "Average the saliency maps |grad| (max over channels) of the copies, not the signed gradients: they cancel.",
            _sg_abs_after_mean,
        ),
        _m(
            "one range for the whole batch",
            "Each image gets its own sigma from its own range: x.flatten(1).amax(1) - x.flatten(1).amin(1).",
            _sg_batch_range,
        ),
        _m("maps summed, not averaged", "Divide the sum of the maps by the number of noisy copies.", _sg_summed),
        _m(
            _INPLACE,
            "Build each noisy copy as a new tensor, x + sigma * eps: adding in place piles the noise up in the caller's image.",
            _sg_accumulating,
            "inplace",
        ),
    ),
)
