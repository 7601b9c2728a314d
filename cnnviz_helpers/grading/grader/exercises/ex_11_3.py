"""Exercise 11.3: ``my_style_objective`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import style_transfer, texture_synthesis
from ...tiny import TINY_LAYERS
from ._common import _NOGRAD, A, B, _activations, _m, _normalised, _randn
from .ex_09_1 import ref_tv
from .ex_10_1 import ref_gram_matrix
from .ex_11_1 import ref_content_loss
from .spec import Case, Exercise


def _terms(model, img, content_layer, content_target, style_layers, style_targets, weights, *, gram=ref_gram_matrix,
           tv=ref_tv, style_weighted=True):  # fmt: skip
    content_weight, style_weights, tv_weight = weights
    with _activations(model, [content_layer, *style_layers]) as acts:
        model(img)
        content = acts[content_layer]
        feats = [acts[name] for name in style_layers]
    style = torch.zeros((), dtype=img.dtype)
    for f, a, w in zip(feats, style_targets, style_weights):
        style = style + (w if style_weighted else 1.0) * (gram(f) - a).pow(2).sum()
    return {"content": ref_content_loss(content, content_target, content_weight), "style": style, "tv": tv_weight * tv(img)}


def ref_style_objective(model, img, content_layer, content_target, style_layers, style_targets, weights):
    return _terms(model, img, content_layer, content_target, style_layers, style_targets, weights)


def _tv_one_axis(x):
    return (x[..., :, 1:] - x[..., :, :-1]).pow(2).sum()


def _objective_tv_one_axis(*args):
    return _terms(*args, tv=_tv_one_axis)


def _gram_raw(features):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2)


def _objective_gram_raw(*args):
    return _terms(*args, gram=_gram_raw)


def _objective_style_unweighted(*args):
    return _terms(*args, style_weighted=False)


def _objective_tv_of_features(model, img, content_layer, content_target, style_layers, style_targets, weights):
    terms = _terms(model, img, content_layer, content_target, style_layers, style_targets, weights)
    with _activations(model, content_layer) as acts:
        model(img)
        terms["tv"] = weights[2] * ref_tv(acts[content_layer])
    return terms


def _objective_detached(*args):
    return {k: v.detach() for k, v in _terms(*args).items()}


def _objective_cases(g):
    def case(label, model, size, content_layer, style_layers, weights, hidden=False):
        from ...tiny import MODEL_ARCHS

        c = MODEL_ARCHS[model[-2]][0]
        channels = {TINY_LAYERS[0]: c, TINY_LAYERS[1]: 2 * c}
        scale = {TINY_LAYERS[0]: 1, TINY_LAYERS[1]: 2}
        h, w = size
        target = _randn(g, 1, channels[content_layer], h // scale[content_layer], w // scale[content_layer]).relu()
        grams = [ref_gram_matrix(_randn(g, 1, channels[s], 4, 4).relu()) for s in style_layers]
        return Case(label, (model, _normalised(g, 1, 3, h, w), content_layer, target, list(style_layers), grams, weights), hidden)

    deep, shallow = TINY_LAYERS[1], TINY_LAYERS[0]
    return [
        case("model a, content deep, style both layers", A, (12, 12), deep, (shallow, deep), (0.5, [300.0, 3.0], 0.2)),
        case("model a, content shallow, style deep only", A, (8, 10), shallow, (deep,), (2.0, [50.0], 0.05)),
        case("model b, both style layers, no TV", B, (10, 8), deep, (shallow, deep), (1.0, [10.0, 1000.0], 0.0), hidden=True),
    ]


EXERCISE = Exercise(
    "11.3",
    "my_style_objective",
    "features at [content_layer, *style_layers] in one pass; {'content': my_content_loss(...), "
    "'style': sum of w * ((gram_matrix(f) - A)**2).sum(), 'tv': tv_weight * tv_loss(img)}.",
    _objective_cases,
    ref_style_objective,
    # not style_transfer itself: the kit's layer_features runs a list comprehension identical to one of its lines
    kit=(style_transfer.style_loss, texture_synthesis.gram_losses, style_transfer._style_objective),
    provides={"my_content_loss": ref_content_loss},
    lends={"my_content_loss": style_transfer.content_loss},
    differentiable=True,
    mistakes=(
        _m(
            "total variation along one axis only",
            "TV sums the squared differences between vertical *and* horizontal neighbours: tv_loss(img).",
            _objective_tv_one_axis,
        ),
        _m(
            "Gram matrix not normalised",
            "Use gram_matrix(f) (divided by C·H·W, as the style targets are), not f @ f.T.",
            _objective_gram_raw,
        ),
        _m("style layer weights ignored", "Multiply each layer's Gram term by its own weight.", _objective_style_unweighted),
        _m(
            "total variation of the features instead of the image",
            "The TV term smooths the *image*: tv_weight * tv_loss(img).",
            _objective_tv_of_features,
        ),
        _m(_NOGRAD, "Keep every term a tensor: no .item(), float() or .detach().", _objective_detached, "nograd"),
    ),
)
