"""Exercise 07.1: ``my_fgsm`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .... import adversarial
from ._common import MEAN, STD, A, B, _m, _normalised, _targets
from .spec import Case, Exercise


def _ms(x, mean, std):
    return (torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1), torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1))


def ref_fgsm(model, x, label, eps, mean, std):
    m, s = _ms(x, mean, std)
    p = (x * s + m).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model((p - m) / s), label), p)
    return ((p + eps * grad.sign()).clamp(0, 1) - m) / s


def _fgsm(model, x, label, eps, mean, std, sign=1.0, clamp=True, raw=False):
    m, s = _ms(x, mean, std)
    p = (x * s + m).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model((p - m) / s), label), p)
    p_adv = p + sign * eps * (grad if raw else grad.sign())
    return ((p_adv.clamp(0, 1) if clamp else p_adv) - m).detach() / s


def _fgsm_descent(*a):
    return _fgsm(*a, sign=-1.0)


def _fgsm_no_clamp(*a):
    return _fgsm(*a, clamp=False)


def _fgsm_raw(*a):
    return _fgsm(*a, raw=True)


def _fgsm_normalised(model, x, label, eps, mean, std):
    m, s = _ms(x, mean, std)
    xg = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(xg), label), xg)
    return ((((xg + eps * grad.sign()) * s + m).clamp(0, 1)) - m).detach() / s


def _fgsm_cases(g):
    return [
        Case("model a, ε = 8/255", (A, _normalised(g, 2, 3, 16, 16), _targets(g, 2, 5), 8 / 255, MEAN, STD)),
        Case("model a, ε = 1/255", (A, _normalised(g, 2, 3, 16, 16), _targets(g, 2, 5), 1 / 255, MEAN, STD)),
        Case("model b, ε = 4/255", (B, _normalised(g, 3, 3, 14, 10), _targets(g, 3, 7), 4 / 255, MEAN, STD), hidden=True),
    ]


EXERCISE = Exercise(
    "07.1",
    "my_fgsm",
    "pixels p = x*std+mean with requires_grad; cross-entropy; p + eps*sign(grad), clip to [0, 1], normalise back.",
    _fgsm_cases,
    ref_fgsm,
    kit=(adversarial.fgsm, adversarial.pgd),
    mistakes=(
        _m(
            "gradient descent instead of ascent",
            "FGSM *increases* the loss of the true label: p + eps * sign(grad).",
            _fgsm_descent,
        ),
        _m("no clamp", "Clip the pixels to [0, 1] before normalising back.", _fgsm_no_clamp),
        _m("raw gradient instead of its sign", "Step eps * grad.sign(): every pixel moves by exactly eps.", _fgsm_raw),
        _m(
            "step taken in normalised units",
            "Take the gradient with respect to the pixels p, not the normalised x.",
            _fgsm_normalised,
        ),
    ),
)
