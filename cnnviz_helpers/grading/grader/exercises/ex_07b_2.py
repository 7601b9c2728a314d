"""Exercise 07b.2: ``my_adversarial_training_step`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .... import adversarial
from ...harness import two_training_steps
from ._common import MEAN, STD, A, B, _m, _normalised, _targets
from .spec import Case, Exercise


def _step(model, optimizer, x, y, eps, steps, mean, std, *, attack=True, project=True, sign=1.0, attack_mode="eval",
          zero_after_attack=True):  # fmt: skip
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    p0 = (x * s + m).detach()
    p = p0.clone()
    optimizer.zero_grad()
    model.train(attack_mode == "train")
    for _ in range(steps if attack else 0):
        p.requires_grad_(True)
        loss = F.cross_entropy(model((p - m) / s), y)
        if zero_after_attack:
            (g,) = torch.autograd.grad(loss, p)
        else:  # backward() also fills the weights' .grad
            loss.backward()
            g = p.grad
        p = p.detach() + sign * 2.5 * eps / steps * g.sign()
        if project:
            p = torch.minimum(torch.maximum(p, p0 - eps), p0 + eps)
        p = p.clamp(0, 1)
    model.train()
    if zero_after_attack:
        optimizer.zero_grad()
    loss = F.cross_entropy(model((p.detach() - m) / s), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def ref_adversarial_training_step(model, optimizer, x, y, eps, steps, mean, std):
    return _step(model, optimizer, x, y, eps, steps, mean, std)


def _clean(*a):
    return _step(*a, attack=False)


def _no_projection(*a):
    return _step(*a, project=False)


def _descent(*a):
    return _step(*a, sign=-1.0)


def _attack_in_train_mode(*a):
    return _step(*a, attack_mode="train")


def _attack_gradients_kept(*a):
    return _step(*a, zero_after_attack=False)


def _cases(g):
    return [
        Case("model a, ε = 8/255, 3 PGD steps", (A, _normalised(g, 4, 3, 12, 12), _targets(g, 4, 5), 8 / 255, 3, MEAN, STD)),
        Case("model a, ε = 16/255, 4 PGD steps", (A, _normalised(g, 4, 3, 10, 10), _targets(g, 4, 5), 16 / 255, 4, MEAN, STD)),
        Case(
            "model b, ε = 8/255, 2 PGD steps",
            (B, _normalised(g, 3, 3, 12, 8), _targets(g, 3, 7), 8 / 255, 2, MEAN, STD),
            hidden=True,
        ),
    ]


EXERCISE = Exercise(
    "07b.2",
    "my_adversarial_training_step",
    "eval mode: `steps` PGD steps of size 2.5*eps/steps from the clean pixels, projected into the ε-ball and [0, 1]; "
    "train mode: zero_grad, cross-entropy on the attacked batch, backward, step; return the loss.",
    _cases,
    ref_adversarial_training_step,
    kit=(adversarial.pgd, adversarial.fgsm),
    call=two_training_steps,
    mistakes=(
        _m("trained on the clean batch (no attack)", "Attack the batch first; train on the attacked images.", _clean),
        _m(
            "PGD without projection onto the ε-ball",
            "After each step, clip p into [p0 - eps, p0 + eps] (then [0, 1]): otherwise the attack leaves the ball.",
            _no_projection,
        ),
        _m("the attack lowers the loss", "The inner problem is a max: step *up* the gradient, + alpha * sign(g).", _descent),
        _m(
            "attack run in train mode",
            "Attack in eval mode (batch norm uses its running statistics), switch to train mode for the update.",
            _attack_in_train_mode,
        ),
        _m(
            "the attack's gradients reach the weights",
            "Use torch.autograd.grad(loss, p) in the attack, or call optimizer.zero_grad() after it.",
            _attack_gradients_kept,
        ),
    ),
)
