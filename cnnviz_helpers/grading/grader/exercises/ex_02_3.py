"""Exercise 02.3: ``my_retrieve`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import last_layer
from ...tiny import TINY_LAYERS
from ._common import A, B, _activations, _m, _normalised
from .spec import Case, Exercise


def _features(model, layer, x, reduce=True):
    with torch.no_grad(), _activations(model, layer, detach=True) as acts:
        model(x)
    f = acts[layer]
    return (f.mean(dim=(2, 3)) if f.ndim == 4 and reduce else f).flatten(1)


def ref_retrieve(model, layer, queries, pool, k):
    return torch.cdist(_features(model, layer, queries), _features(model, layer, pool)).topk(k, dim=1, largest=False).indices


def _retrieve_pixels(model, layer, queries, pool, k):
    return torch.cdist(queries.flatten(1), pool.flatten(1)).topk(k, dim=1, largest=False).indices


def _retrieve_flattened(model, layer, queries, pool, k):
    fq, fp = _features(model, layer, queries, reduce=False), _features(model, layer, pool, reduce=False)
    return torch.cdist(fq, fp).topk(k, dim=1, largest=False).indices


def _retrieve_farthest(model, layer, queries, pool, k):
    return torch.cdist(_features(model, layer, queries), _features(model, layer, pool)).topk(k, dim=1).indices


def _retrieve_cosine(model, layer, queries, pool, k):
    fq = torch.nn.functional.normalize(_features(model, layer, queries), dim=1)
    fp = torch.nn.functional.normalize(_features(model, layer, pool), dim=1)
    return (fq @ fp.T).topk(k, dim=1).indices


def _retrieve_hook_left(model, layer, queries, pool, k):
    saved = []
    dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: saved.append(o.detach().mean(dim=(2, 3))))
    with torch.no_grad():
        model(queries)
        model(pool)
    return torch.cdist(saved[0], saved[1]).topk(k, dim=1, largest=False).indices


def _retrieve_cases(g):
    return [
        Case(
            "model a, 3 queries, a pool of 8, second ReLU",
            (A, TINY_LAYERS[1], _normalised(g, 3, 3, 12, 12), _normalised(g, 8, 3, 12, 12), 3),
        ),
        Case(
            "model b, 4 queries, a pool of 10, first ReLU",
            (B, TINY_LAYERS[0], _normalised(g, 4, 3, 10, 14), _normalised(g, 10, 3, 10, 14), 4),
            hidden=True,
        ),
        Case(
            "model a, 2 queries, a pool of 9, second ReLU",
            (A, TINY_LAYERS[1], _normalised(g, 2, 3, 16, 16), _normalised(g, 9, 3, 16, 16), 5),
            hidden=True,
        ),
    ]


EXERCISE = Exercise(
    "02.3",
    "my_retrieve",
    "features of queries and pool (4-D maps averaged over positions), torch.cdist, topk(k, largest=False).indices.",
    _retrieve_cases,
    ref_retrieve,
    kit=(last_layer.extract_features, last_layer.nearest_neighbors),
    exact=True,
    mistakes=(
        _m(
            "pixel distances instead of feature distances",
            "Compare the layer's features of the images, not their pixels.",
            _retrieve_pixels,
        ),
        _m(
            "the feature maps flattened instead of averaged over positions",
            "Average a 4-D output over its positions, f.mean(dim=(2, 3)): the vector then ignores where the pattern is.",
            _retrieve_flattened,
        ),
        _m("the farthest images instead of the nearest", "Nearest first: topk(k, largest=False).", _retrieve_farthest),
        _m(
            "cosine similarity instead of Euclidean distance",
            "Rank by the Euclidean distance torch.cdist(query features, pool features).",
            _retrieve_cosine,
        ),
        _m(
            "a hook left on the model",
            "Use `with capture(...)`: it removes its hook when the block ends.",
            _retrieve_hook_left,
            "model",
        ),
    ),
)
