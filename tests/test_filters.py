"""First-layer filters and activation maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnviz_helpers.filters import activation_maps, filter_images, first_layer_filters, zero_maps


def test_filter_images_normalise_each_filter_on_its_own():
    w = torch.randn(5, 3, 4, 4) * torch.tensor([1.0, 10.0, 0.1, 3.0, 100.0]).view(5, 1, 1, 1)
    imgs = filter_images(w)
    assert imgs.shape == (5, 4, 4, 3)
    for i in range(5):
        wi = w[i].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(imgs[i], (wi - wi.min()) / (wi.max() - wi.min()), rtol=1e-5, atol=1e-6)
    grey = filter_images(torch.randn(2, 4, 3, 3))  # not RGB: channels averaged
    assert grey.shape == (2, 3, 3) and grey.min() == 0 and grey.max() == 1


def test_first_layer_filters_finds_the_first_conv(shapes_model, resnet18_random, unchanged):
    for model, conv in ((shapes_model.model, shapes_model.model.features[0]), (resnet18_random, resnet18_random.conv1)):
        with unchanged(model):
            grid = first_layer_filters(model, ncols=8)
        n, _, k, _ = conv.weight.shape
        tiles = filter_images(conv.weight)
        rows = -(-n // 8)
        assert grid.shape == (rows * (k + 1) + 1, 8 * (k + 1) + 1, 3)
        np.testing.assert_allclose(grid[1 : 1 + k, 1 : 1 + k], tiles[0])  # first tile = first filter
        r, c = divmod(n - 1, 8)
        np.testing.assert_allclose(grid[1 + r * (k + 1) : 1 + r * (k + 1) + k, 1 + c * (k + 1) : 1 + c * (k + 1) + k], tiles[-1])


def test_activation_maps_equal_the_network_prefix(shapes_model, unchanged):
    model = shapes_model.model
    x = shapes_model.preprocess(shapes_model.examples[3].image)
    with unchanged(model):
        maps = activation_maps(model, x, "features.6", channels=range(4, 12))
    with torch.no_grad():
        expected = model.features[:7](x)[0, 4:12]
    torch.testing.assert_close(maps, expected)
    assert torch.equal(zero_maps(maps), expected.flatten(1).amax(1) == 0)


def test_zero_maps():
    maps = torch.rand(4, 5, 5)
    maps[1] = 0
    maps[3, 2, 2] = 0
    assert zero_maps(maps).tolist() == [False, True, False, False]


def test_activation_errors_are_clear(shapes_model, unchanged):
    model = shapes_model.model
    x = shapes_model.preprocess(shapes_model.examples[0].image)
    with unchanged(model):
        with pytest.raises(KeyError, match="features.6"):
            activation_maps(model, x, "features.66")
        with pytest.raises(IndexError, match="0..63"):
            activation_maps(model, x, "features.6", channels=[0, 64])
        with pytest.raises(ValueError, match="not feature maps"):
            activation_maps(model, x, "classifier.3")


def test_first_conv_not_first_module():
    model = nn.Sequential(nn.Identity(), nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 6, 5)))
    grid = first_layer_filters(model, ncols=3)
    assert grid.shape == (2 * 6 + 1, 3 * 6 + 1)  # greyscale filters of the single-channel conv


def test_layer_kernels_draws_each_input_channel_of_each_filter(shapes_model):
    from cnnviz_helpers.filters import layer_kernels

    w = shapes_model.model.features[4].weight.detach()  # conv3x3 32 → 64
    grid = layer_kernels(shapes_model.model, "features.4", filters=[0, 5], in_channels=[1, 2, 7])
    assert grid.shape == (2 * 4 + 1, 3 * 4 + 1)
    for i, f in enumerate([0, 5]):
        scale = w[f, [1, 2, 7]].abs().max()
        for j, c in enumerate([1, 2, 7]):
            tile = grid[1 + 4 * i : 4 * i + 4, 1 + 4 * j : 4 * j + 4]
            np.testing.assert_allclose(tile, 0.5 + w[f, c].numpy() / (2 * scale.item()), atol=1e-6)  # 0.5 = zero weight
    assert np.isnan(grid[0]).all()  # borders are blank
    with pytest.raises(TypeError, match="Conv2d"):
        layer_kernels(shapes_model.model, "features.5")
    with pytest.raises(IndexError, match="0..63"):
        layer_kernels(shapes_model.model, "features.4", filters=[64])
