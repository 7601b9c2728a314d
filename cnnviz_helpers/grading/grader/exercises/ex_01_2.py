"""Exercise 01.2: ``my_activation_maps`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

from .... import filters
from ....core import layers
from ...tiny import TINY_LAYERS
from ._common import A, B, _activations, _m, _normalised
from .spec import Case, Exercise


def ref_activation_maps(model, x, layer):
    with _activations(model, layer, detach=True) as acts:
        model(x)
    return acts[layer][0]


def _maps_with_batch(model, x, layer):
    with _activations(model, layer, detach=True) as acts:
        model(x)
    return acts[layer]


def _maps_layer_input(model, x, layer):
    saved = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: saved.update(out=i[0].detach()))
    try:
        model(x)
    finally:
        handle.remove()
    return saved["out"][0]


def _maps_hook_left(model, x, layer):
    saved = {}
    dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: saved.update(out=o))
    model(x)
    return saved["out"][0]


EXERCISE = Exercise(
    "01.2",
    "my_activation_maps",
    "register_forward_hook on the layer, keep output.detach(), run x, remove the handle (try/finally), return [C, h, w].",
    lambda g: [
        Case("model a, first ReLU", (A, _normalised(g, 1, 3, 12, 12), TINY_LAYERS[0])),
        Case("model a, second ReLU", (A, _normalised(g, 1, 3, 12, 12), TINY_LAYERS[1])),
        Case("model b, second ReLU, 10x14", (B, _normalised(g, 1, 3, 10, 14), TINY_LAYERS[1]), hidden=True),
    ],
    ref_activation_maps,
    kit=(filters.activation_maps, layers.capture),
    mistakes=(
        _m(
            "kept the batch dimension",
            "Return the maps of the single image: acts[layer][0], shape [C, h, w].",
            _maps_with_batch,
        ),
        _m(
            "the layer's input instead of its output",
            "A forward hook is called as hook(module, inputs, output): keep `output`, the layer's result.",
            _maps_layer_input,
        ),
        _m(
            "a hook left on the model",
            "Keep the handle register_forward_hook returns and call handle.remove() in a finally: block.",
            _maps_hook_left,
            "model",
        ),
    ),
)
