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


def _occlusion(model, x, target, window, stride, score, sign=1.0, eval_mode=True):
    H, W = x.shape[-2:]
    rows, cols = _window_starts(H, window, stride), _window_starts(W, window, stride)
    drops = torch.zeros(len(rows), len(cols), dtype=x.dtype)
    was_training = model.training
    with torch.no_grad():
        model.train(not eval_mode and was_training)
        clean = score(model(x))[0, target]
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                hidden = x.clone()
                hidden[..., r : r + window, c : c + window] = 0.0
                drops[i, j] = sign * (clean - score(model(hidden))[0, target])
    model.train(was_training)
    return drops


def _occ_softmax(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s.softmax(1))


def _occ_flipped(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s, sign=-1.0)


def _occ_train_mode(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s, eval_mode=False)


def _occlusion_cases(g):
    return [
        Case("model a, 4x4 windows, stride 4", (A, _normalised(g, 1, 3, 12, 12), 2, 4, 4)),
        Case("model a, 5x5 windows, stride 3 (cut by the border)", (A, _normalised(g, 1, 3, 12, 12), 0, 5, 3), hidden=True),
        Case("model b, 3x3 windows, stride 2", (B, _normalised(g, 1, 3, 10, 14), 6, 3, 2), hidden=True),
    ]


EXERCISE = Exercise(
    "04.1",
    "my_occlusion_drops",
    "model.eval(); the clean score; for every window a zeroed copy and clean - occluded score.",
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
    ),
)
