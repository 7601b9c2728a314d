"""Exercise 04.1: ``my_occlusion_drops`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import occlusion
from ._common import A, B, _m, _normalised, _window_starts
from .spec import Case, Exercise


def ref_occlusion_drops(model, x, target, window, stride):
    H, W = x.shape[-2:]
    rows, cols = _window_starts(H, window, stride), _window_starts(W, window, stride)
    drops = torch.zeros(len(rows), len(cols), dtype=x.dtype)
    was_training = model.training
    with torch.no_grad():
        model.eval()
        clean = model(x)[0, target]
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                hidden = x.clone()
                hidden[..., r : r + window, c : c + window] = 0.0
                drops[i, j] = clean - model(hidden)[0, target]
    model.train(was_training)
    return drops


def _occlusion(
    model, x, target, window, stride, score=lambda s: s, sign=1.0, eval_mode=True, fill=0.0, starts=_window_starts, extent=0
):
    H, W = x.shape[-2:]
    rows, cols = starts(H, window, stride), starts(W, window, stride)
    drops = torch.zeros(len(rows), len(cols), dtype=x.dtype)
    was_training = model.training
    with torch.no_grad():
        model.train(not eval_mode and was_training)
        clean = score(model(x))[0, target]
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                hidden = x.clone()
                hidden[..., r : r + window + extent, c : c + window + extent] = fill
                drops[i, j] = sign * (clean - score(model(hidden))[0, target])
    model.train(was_training)
    return drops


def _occ_softmax(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s.softmax(1))


def _occ_flipped(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s, sign=-1.0)


def _occ_train_mode(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s, eval_mode=False)


def _occ_inside_only(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, starts=lambda n, w, s: list(range(0, n - w + 1, s)))


def _occ_wide_window(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, extent=1)


def _occ_grey_fill(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, fill=0.5)


def _occlusion_cases(g):
    return [
        Case("model a, 5x5 windows, stride 4 (the last cut by the border)", (A, _normalised(g, 1, 3, 12, 12), 2, 5, 4)),
        Case("model a, 5x5 windows, stride 3 (cut by the border)", (A, _normalised(g, 1, 3, 12, 12), 0, 5, 3), hidden=True),
        Case("model b, 3x3 windows, stride 2", (B, _normalised(g, 1, 3, 10, 14), 6, 3, 2), hidden=True),
    ]


EXERCISE = Exercise(
    "04.1",
    "my_occlusion_drops",
    "window starts until the image is covered; model.eval(); the clean score; per window a zeroed copy, clean - occluded.",
    _occlusion_cases,
    ref_occlusion_drops,
    kit=(occlusion.occlusion_map,),
    train_mode=True,
    mistakes=(
        _m(
            "softmax probability instead of the raw score",
            "Use the logit model(x)[0, target], not a softmax of it.",
            _occ_softmax,
        ),
        _m(
            "occluded minus clean (sign flipped)",
            "A drop is score(x) - score(occluded): positive where hiding hurts.",
            _occ_flipped,
        ),
        _m(
            "forgetting eval mode",
            "Call model.eval() first: in train mode batch norm uses each batch's own statistics.",
            _occ_train_mode,
        ),
        _m(
            "the last window, cut by the border, left out",
            "Start windows at 0, stride, 2*stride, ... until the image is covered (window_starts): the last one may stick out.",
            _occ_inside_only,
        ),
        _m(
            "off by one: windows one pixel too large",
            "Python slices exclude the end: x[..., r : r + window, c : c + window] is exactly window pixels.",
            _occ_wide_window,
        ),
        _m(
            "wrong fill: 0.5 (grey in pixel units)",
            "The input is normalised: 0 is the dataset's mean colour, 0.5 is not grey there.",
            _occ_grey_fill,
        ),
    ),
)
