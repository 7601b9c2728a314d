"""Unit visualization of fully connected units and multifaceted visualization (notebook 06)."""

from __future__ import annotations

import pytest
import torch

from cnnviz_helpers import capture
from cnnviz_helpers.class_visualization import class_visualization, facet_starts, kmeans, multifaceted_visualization
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import to_tensor
from cnnviz_helpers.models.targets import Unit


def _unit(model, layer, channel, x):
    with capture(model, layer) as acts:
        acts.run(x)
        return float(acts[layer][0, channel])


@pytest.mark.parametrize(("layer", "channel"), [("classifier.2", 7), ("classifier.5", 3)])
def test_fc_unit_visualization_raises_the_chosen_unit(shapes_model, unchanged, layer, channel):
    start = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # the init="noise", seed=0 start
    with unchanged(shapes_model.model):
        img = class_visualization(shapes_model, Unit(layer, channel), steps=25, progress=False)
    before, after = _unit(shapes_model.model, layer, channel, start), _unit(shapes_model.model, layer, channel, img)
    others = [_unit(shapes_model.model, layer, c, img) for c in range(8) if c != channel]
    assert after > before + 1.0, (before, after)
    assert after > max(others), "the chosen unit should be the most active of its neighbours"


def test_kmeans_is_a_fixed_point_of_lloyds_algorithm():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [5.0, 5.0], [0.0, 8.0]])
    points = torch.cat([c + 0.5 * torch.randn(20, 2, generator=g) for c in centres])
    labels, centroids = kmeans(points, 3)
    assert torch.equal(torch.cdist(points, centroids).argmin(1), labels)  # each point with its nearest centroid
    assert all(torch.allclose(points[labels == c].mean(0), centroids[c]) for c in range(3))  # centroids are means
    assert sorted(torch.bincount(labels).tolist()) == [20, 20, 20]  # the three blobs are found
    with pytest.raises(ValueError, match="k must be"):
        kmeans(points, 0)


def test_facet_starts_are_cluster_means_of_the_top_activating_images(shapes_model, unchanged):
    images, _, _ = make_shapes(48, seed=11)
    x = to_tensor(images)
    target = "star"
    with unchanged(shapes_model.model):
        fs = facet_starts(shapes_model, x, target, n_facets=3, n_top=12)
    with torch.no_grad():
        scores = shapes_model.model(x)[:, shapes_model.class_index(target)]
    assert set(fs.top.tolist()) == set(scores.topk(12).indices.tolist())  # the 12 highest-scoring images
    with capture(shapes_model.model, "classifier.3") as acts:
        acts.run(x[fs.top])
        feats = acts["classifier.3"]
    assert torch.allclose(fs.features, feats, atol=1e-5)  # clustered at the penultimate layer
    for c in range(3):
        members = fs.cluster == c
        assert members.any()
        assert torch.allclose(fs.starts[c], x[fs.top][members].mean(0), atol=1e-6)
    centroids = torch.stack([feats[fs.cluster == c].mean(0) for c in range(3)])
    assert torch.equal(torch.cdist(feats, centroids).argmin(1), fs.cluster)  # a k-means partition


def test_multifaceted_visualization_grows_one_image_per_start(shapes_model):
    images, _, _ = make_shapes(30, seed=12)
    facets = multifaceted_visualization(shapes_model, to_tensor(images), 0, n_facets=2, n_top=8, steps=5, progress=False)
    assert facets.images.shape == (2, 3, 64, 64)
    assert not torch.equal(facets.images[0], facets.images[1])
    with pytest.raises(TypeError, match="init"):
        multifaceted_visualization(shapes_model, to_tensor(images), 0, init="noise")
