"""Exercise 00.1: ``activation_shapes`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

from ...tiny import TINY_LAYERS
from ._common import A, B, _activations, _m, _normalised
from .spec import Case, Exercise


def ref_activation_shapes(model, layers, x):
    with _activations(model, layers, detach=True) as acts:
        model(x)
    return {name: tuple(acts[name].shape) for name in layers}


def _shapes_without_batch(model, layers, x):
    with _activations(model, layers, detach=True) as acts:
        model(x)
    return {name: tuple(acts[name].shape[1:]) for name in layers}


def _shapes_hook_left(model, layers, x):
    saved = {}
    for name in layers:
        dict(model.named_modules())[name].register_forward_hook(lambda m, i, o, name=name: saved.update({name: tuple(o.shape)}))
    model(x)
    return {name: saved[name] for name in layers}


EXERCISE = Exercise(
    "00.1",
    "activation_shapes",
    "one `with capture(...)` block, run x, return {name: tuple(shape)}.",
    lambda g: [
        Case("model a, batch of 2", (A, [*TINY_LAYERS, "classifier"], _normalised(g, 2, 3, 12, 12))),
        Case("model b, batch of 3, 16x10", (B, [TINY_LAYERS[1], "pool"], _normalised(g, 3, 3, 16, 10)), hidden=True),
    ],
    ref_activation_shapes,
    exact=True,
    mistakes=(
        _m(
            "dropped the batch dimension",
            "Keep the whole shape, batch first: tuple(acts[name].shape).",
            _shapes_without_batch,
        ),
        _m(
            "a hook left on the model",
            "Use `with capture(...)`: it removes its hooks when the block ends.",
            _shapes_hook_left,
            "model",
        ),
    ),
)
