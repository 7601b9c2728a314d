"""Exercise 09.2: ``my_inversion_loss`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import inversion
from ....core import regularizers
from ._common import _NOGRAD, _m, _rand, _randn
from .ex_09_1 import ref_tv
from .spec import Case, Exercise


def ref_inversion_loss(features, target, image, tv_weight):
    h, w = image.shape[-2:]
    return (features - target).pow(2).sum() / target.pow(2).sum() + tv_weight * ref_tv(image) / (h * w)


def _inv_item(features, target, image, tv_weight):
    h, w = image.shape[-2:]
    loss = (features - target).pow(2).sum() / target.pow(2).sum() + tv_weight * ref_tv(image) / (h * w)
    return torch.tensor(loss.item())


def _inv_unnormalised(features, target, image, tv_weight):
    h, w = image.shape[-2:]
    return (features - target).pow(2).sum() + tv_weight * ref_tv(image) / (h * w)


def _inv_tv_not_per_pixel(features, target, image, tv_weight):
    return (features - target).pow(2).sum() / target.pow(2).sum() + tv_weight * ref_tv(image)


def _inv_no_tv(features, target, image, tv_weight):
    return (features - target).pow(2).sum() / target.pow(2).sum()


def _inversion_cases(g):
    def case(label, c, h, w, size, lam, hidden=False):
        return Case(label, (_randn(g, 1, c, h, w), _randn(g, 1, c, h, w).relu(), _rand(g, 1, 3, size, size), lam), hidden)

    return [
        case("8 channels 4x4, 16-px image, λ = 0.3", 8, 4, 4, 16, 0.3),
        case("16 channels 2x2, 12-px image, λ = 2", 16, 2, 2, 12, 2.0, True),
    ]


EXERCISE = Exercise(
    "09.2",
    "my_inversion_loss",
    "||F - F0||^2 / ||F0||^2 + tv_weight * tv(image) / (H*W), as a tensor with a gradient.",
    _inversion_cases,
    ref_inversion_loss,
    kit=(inversion.feature_inversion,),
    provides={"my_tv": ref_tv},
    lends={"my_tv": regularizers.tv_loss},
    differentiable=True,
    mistakes=(
        _m(_NOGRAD, "Return the tensor itself: the optimiser needs its gradient.", _inv_item, "nograd"),
        _m(
            "feature term not normalised by ||F0||^2",
            "Divide the squared distance by target.pow(2).sum().",
            _inv_unnormalised,
        ),
        _m("TV not divided by H*W", "Divide the TV term by the image's number of pixels per channel.", _inv_tv_not_per_pixel),
        _m("TV term missing", "Add tv_weight * TV(image) / (H*W).", _inv_no_tv),
    ),
)
