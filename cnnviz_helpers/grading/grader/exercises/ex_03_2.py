"""Exercise 03.2: ``my_top_images`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import patches
from ...tiny import TINY_LAYERS
from ._common import A, B, _activations, _m, _normalised
from .spec import Case, Exercise


def ref_top_images(model, x, layer, channel, k):
    with torch.no_grad(), _activations(model, layer, detach=True) as acts:
        model(x)
        a = acts[layer][:, channel].flatten(1).amax(1).cpu()
    order = a.sort(descending=True, stable=True).indices[:k]
    return a[order], order


def _top_mean(model, x, layer, channel, k):
    with torch.no_grad(), _activations(model, layer, detach=True) as acts:
        model(x)
        a = acts[layer][:, channel].flatten(1).mean(1).cpu()
    order = a.sort(descending=True, stable=True).indices[:k]
    return a[order], order


def _top_weakest(model, x, layer, channel, k):
    with torch.no_grad(), _activations(model, layer, detach=True) as acts:
        model(x)
        a = acts[layer][:, channel].flatten(1).amax(1).cpu()
    order = a.sort(stable=True).indices[:k]
    return a[order], order


EXERCISE = Exercise(
    "03.2",
    "my_top_images",
    "capture the layer, per-image max of the channel, a stable descending sort, the first k.",
    lambda g: [
        Case("model a, deep layer, channel 1, k = 4", (A, _normalised(g, 12, 3, 12, 12), TINY_LAYERS[1], 1, 4)),
        Case("model b, shallow layer, channel 0, k = 5", (B, _normalised(g, 9, 3, 10, 10), TINY_LAYERS[0], 0, 5), hidden=True),
    ],
    ref_top_images,
    kit=(patches.max_activating_patches,),
    mistakes=(
        _m(
            "mean activation instead of the maximum",
            "Rank images by their strongest response: amax over positions.",
            _top_mean,
        ),
        _m("weakest first", "Sort descending (descending=True), strongest first.", _top_weakest),
    ),
)
