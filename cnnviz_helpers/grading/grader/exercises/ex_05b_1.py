"""Exercise 05b.1: ``my_grad_cam`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch.nn.functional as F

from .... import gradcam
from ._common import _m, _randn
from .spec import Case, Exercise


def ref_grad_cam(acts, grads):
    weights = grads.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * acts).sum(dim=1))


def _cam_no_relu(acts, grads):
    return (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1)


def _cam_sum_weights(acts, grads):
    return F.relu((grads.sum(dim=(2, 3), keepdim=True) * acts).sum(dim=1))


def _cam_no_pooling(acts, grads):
    return F.relu((grads * acts).sum(dim=1))


def _cam_cases(g):
    return [
        Case("2 images, 6 channels, 5x5", (_randn(g, 2, 6, 5, 5).relu(), _randn(g, 2, 6, 5, 5))),
        Case("1 image, 4 channels, 3x7", (_randn(g, 1, 4, 3, 7).relu(), _randn(g, 1, 4, 3, 7)), hidden=True),
    ]


EXERCISE = Exercise(
    "05b.1",
    "my_grad_cam",
    "alpha = grads averaged over h, w; ReLU of the alpha-weighted sum of the activation maps.",
    _cam_cases,
    ref_grad_cam,
    kit=(gradcam.grad_cam, gradcam.guided_grad_cam),
    mistakes=(
        _m("no ReLU", "Keep only the positive part: F.relu(...).", _cam_no_relu),
        _m("channel weights summed instead of averaged", "alpha_k is the *mean* gradient over positions.", _cam_sum_weights),
        _m(
            "gradient x activation without pooling the weights",
            "First average the gradient per channel, then weight the maps.",
            _cam_no_pooling,
        ),
    ),
)
