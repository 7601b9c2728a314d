"""Exercise 07.3: ``my_pgd`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .... import adversarial
from ... import harness
from ._common import MEAN, STD, A, B, _m, _normalised, _targets
from .ex_07_2 import ref_project_linf
from .spec import Case, Exercise


def _pgd(model, x, label, eps, step_size, steps, mean, std, *, project=True, sign=1.0, use_sign=True):
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    p0 = (x * s + m).detach()
    p = p0.clone()
    for _ in range(steps):
        p.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model((p - m) / s), label), p)
        step = g.sign() if use_sign else g
        q = p.detach() + sign * step_size * step
        p = ref_project_linf(q, p0, eps) if project else q.clamp(0, 1)
    return ((p - m) / s).detach()


def ref_pgd(model, x, label, eps, step_size, steps, mean, std):
    return _pgd(model, x, label, eps, step_size, steps, mean, std)


def _pgd_no_projection(*a):
    return _pgd(*a, project=False)


def _pgd_descent(*a):
    return _pgd(*a, sign=-1.0)


def _pgd_raw_gradient(*a):
    return _pgd(*a, use_sign=False)


def _pgd_cases(g):
    return [
        Case(
            "model a, ε = 4/255, 5 steps of 2/255",
            (A, _normalised(g, 2, 3, 16, 16), _targets(g, 2, 5), 4 / 255, 2 / 255, 5, MEAN, STD),
        ),
        Case(
            "model a, ε = 2/255, 3 steps of 2/255",
            (A, _normalised(g, 2, 3, 12, 12), _targets(g, 2, 5), 2 / 255, 2 / 255, 3, MEAN, STD),
        ),
        Case(
            "model b, ε = 8/255, 4 steps of 4/255",
            (B, _normalised(g, 3, 3, 10, 14), _targets(g, 3, 7), 8 / 255, 4 / 255, 4, MEAN, STD),
            hidden=True,
        ),
    ]


EXERCISE = Exercise(
    "07.3",
    "my_pgd",
    "from the clean pixels p0: `steps` times p = project_linf(p + step_size * sign(grad of the cross-entropy), p0, eps); "
    "return the normalised result.",
    _pgd_cases,
    ref_pgd,
    kit=(adversarial.pgd, adversarial.fgsm),
    provides={"project_linf": ref_project_linf},
    lends={"project_linf": harness.project_linf},
    mistakes=(
        _m(
            "PGD without projection onto the ε-ball",
            "After each step, project: project_linf(p, p0, eps) — the clamp to [0, 1] alone lets the change grow past ε.",
            _pgd_no_projection,
        ),
        _m(
            "descent instead of ascent",
            "An untargeted attack *raises* the loss of the true label: + step_size * sign(g).",
            _pgd_descent,
        ),
        _m("raw gradient instead of its sign", "Step along g.sign(): each pixel moves by exactly step_size.", _pgd_raw_gradient),
    ),
)
