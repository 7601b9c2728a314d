"""Sanity checks by cascading model randomization (cnnviz_helpers.sanity)."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from cnnviz_helpers.core.layers import layer_names
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import to_tensor
from cnnviz_helpers.methods import attribution_methods
from cnnviz_helpers.sanity import DEFAULT_METHODS, cascading_randomization, rank_correlation


def test_rank_correlation_equals_scipy_with_ties():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 6, (3, 8, 8), generator=g).float()  # many ties, like Grad-CAM's zeros
    b = a + torch.randint(-3, 4, (3, 8, 8), generator=g).float()
    ours = rank_correlation(a, b)
    expected = torch.tensor([spearmanr(a[i].flatten(), b[i].flatten()).statistic for i in range(3)], dtype=torch.float64)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(rank_correlation(a, a), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(rank_correlation(a, -a), -torch.ones(3, dtype=torch.float64))
    assert rank_correlation(a, torch.zeros_like(a)).eq(0).all()  # a constant map has no ranking


def test_cascade_changes_saliency_and_gradcam_but_barely_guided_backprop(shapes_model, unchanged):
    model = shapes_model.model
    x = to_tensor(make_shapes(6, seed=31)[0])
    weights = layer_names(model, (nn.Conv2d, nn.Linear))[::-1]
    with unchanged(model):  # the user's model: same parameters, buffers, modes, no hooks
        res = cascading_randomization(model, x, layers=weights[:3], progress=False)
    assert res.steps == ["original", "classifier.5", "classifier.2", "features.12"]
    assert res.maps.keys() == attribution_methods().keys()  # the registry's quick attribution methods
    assert torch.equal(res.target, model(x).argmax(1))
    for method, sim in res.similarity.items():
        assert sim.shape == (4, 6) and res.maps[method].shape == (4, 6, 64, 64)
        torch.testing.assert_close(sim[0], torch.ones(6, dtype=torch.float64))
    final = {m: float(s[-1].mean()) for m, s in res.similarity.items()}
    # Adebayo et al.'s finding, measured here (6 images): guided backprop ≈ 0.85, saliency ≈ 0.45,
    # Grad-CAM ≈ 0 after the top three layers are re-initialised.
    assert final["guided backprop"] > 0.7, final
    assert final["saliency"] < final["guided backprop"] - 0.2, final
    assert final["Grad-CAM"] < 0.3, final


def test_custom_methods_and_bad_layers(shapes_model, unchanged):
    model = shapes_model.model
    x = to_tensor(make_shapes(2, seed=32)[0])
    calls = []

    def input_times_weight_norm(m, xs, t):
        calls.append(t.clone())
        return xs * float(sum(p.norm() for p in m.parameters()))

    res = cascading_randomization(
        model, x, [3, 5], methods={"scaled input": input_times_weight_norm}, layers=["classifier.5"], progress=False
    )
    assert list(res.maps) == ["scaled input"] and len(calls) == 2
    assert all(torch.equal(t, torch.tensor([3, 5])) for t in calls)
    torch.testing.assert_close(res.similarity["scaled input"][1], torch.ones(2, dtype=torch.float64))  # rank-invariant to scale
    with unchanged(model), pytest.raises(KeyError, match="classifier"):
        cascading_randomization(model, x, layers=["classifer.5"], progress=False)


def test_the_default_methods_are_the_registrys_quick_attribution_methods():
    assert DEFAULT_METHODS == attribution_methods()
