"""How some exercises are called, and the correct helpers a self-check lends (shipped: none of it is an answer).

Each function here is self-contained (it imports what it uses): the grader's child process runs its
source around a student's answer, exactly as the self-check runs it in the notebook.
"""

from __future__ import annotations

from typing import Any


def three_steps(answer: Any, img0: Any, target: Any, weights: Any, lr: float, lo: Any, hi: Any) -> Any:
    """Run ``answer(img, optimizer, objective, lo, hi)`` three times with Adam: ``(losses, image)``.

    The objective is a smooth non-quadratic loss of the image, standing in for Gatys' (which needs a
    network).
    """
    import torch

    target, weights = target.to(img0.dtype), weights.to(img0.dtype)

    def objective(img: torch.Tensor) -> torch.Tensor:
        return (weights * (img - target).pow(2)).sum() + 0.1 * torch.cos(3 * img).sum()

    img = img0.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=lr)
    losses = [float(answer(img, opt, objective, lo.to(img.dtype), hi.to(img.dtype))) for _ in range(3)]
    return torch.tensor(losses, dtype=torch.float64), img.detach()


def signs_fixed(answer: Any, features: Any) -> Any:
    """``answer(features)`` with each column's sign fixed (its largest-magnitude entry positive):
    principal directions have no sign."""
    import torch

    out = torch.as_tensor(answer(features))
    if out.ndim != 2:
        return out
    idx = out.abs().argmax(0)
    return out * torch.sign(out[idx, torch.arange(out.shape[1])])


def instance_norm(x: Any, eps: float = 1e-5) -> Any:
    """A correct instance normalisation for the conditional one's self-check (``F.instance_norm`` is
    the exercise's blocked kit function): layer norm over each channel's ``H, W``."""
    import torch.nn.functional as F

    return F.layer_norm(x, x.shape[-2:], eps=eps)


def two_training_steps(answer: Any, model: Any, x: Any, y: Any, eps: float, steps: int, mean: Any, std: Any) -> Any:
    """Run ``answer(net, optimizer, x, y, eps, steps, mean, std)`` twice on a trainable copy of ``model``
    with SGD: ``(losses, parameters after the two steps)``. The model handed in is left as it was."""
    import copy

    import torch

    net = copy.deepcopy(model).train()
    for p in net.parameters():
        p.requires_grad_(True)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    losses = [float(answer(net, opt, x, y, eps, steps, mean, std)) for _ in range(2)]
    return torch.tensor(losses, dtype=torch.float64), [p.detach() for p in net.parameters()]


def project_linf(p: Any, p0: Any, eps: float) -> Any:
    """A correct L∞ projection (exercise 07.2) lent to PGD's self-check: ``p`` clipped into ``p0 ± eps``, then ``[0, 1]``."""
    import torch

    return torch.minimum(torch.maximum(p, p0 - eps), p0 + eps).clamp(0, 1)
