"""Receptive fields (checked against the support of input gradients) and maximally activating patches."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz_helpers import capture
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import to_tensor
from cnnviz_helpers.patches import max_activating_patches, receptive_field


def _linearized(model: nn.Module) -> nn.Module:
    """A float64 copy whose ReLUs are identities and max-pools average-pools (same geometry).

    Then the gradient of one unit reaches *every* input pixel its field covers (a ReLU or a max
    would zero some of it), so the set of pixels with non-zero gradient is exactly the receptive
    field clipped to the image — a wrong field in either direction makes the test fail.
    """
    net = copy.deepcopy(model).double().eval()
    for parent in list(net.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode))
    return net


def _gradient_support(model: nn.Module, layer: str, size: int, channel: int, row: int, col: int) -> torch.Tensor:
    x = torch.randn(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    with capture(model, layer) as acts:
        acts.run(x)
        acts[layer][0, channel, row, col].backward()
    return x.grad[0].abs().sum(0) > 0


def _box_mask(box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[box[0] : box[2], box[1] : box[3]] = True
    return mask


def _bounding_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    rows, cols = mask.any(1).nonzero()[:, 0], mask.any(0).nonzero()[:, 0]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _check_field(model: nn.Module, layer: str, size: int, channel: int = 0, dilated: bool = False) -> None:
    """The gradient support equals the clipped field; with dilation (a kernel with holes) its bounding box does."""
    rf = receptive_field(model, layer)
    net = _linearized(model)
    with torch.no_grad(), capture(net, layer, detach=True) as acts:
        acts.run(torch.zeros(1, 3, size, size, dtype=torch.float64))
        h, w = acts[layer].shape[-2:]
    for row, col in sorted({(0, 0), (h - 1, w - 1), (h // 2, w // 2), (1 % h, (w - 2) % w)}):
        support = _gradient_support(net, layer, size, channel, row, col)
        box = rf.box(row, col, (size, size))
        if not dilated:
            assert torch.equal(support, _box_mask(box, size)), (
                f"{layer} unit ({row}, {col}): field {rf} disagrees with the gradient"
            )
        else:  # taps with holes: inside the box, and spanning it where the border does not cut it
            assert not (support & ~_box_mask(box, size)).any(), f"{layer} unit ({row}, {col}): gradient outside {rf}"
            if box == rf.box(row, col):
                assert _bounding_box(support) == box, f"{layer} unit ({row}, {col}): field {rf} too large"


class _Odd(nn.Sequential):
    """Asymmetric kernels, strides, padding and dilation in one small net."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(
            nn.Conv2d(3, 4, (3, 5), stride=(1, 2), padding=(1, 2), dilation=(2, 1)),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Conv2d(4, 4, 3, stride=2, dilation=2),
            nn.AvgPool2d(2),
            nn.Conv2d(4, 4, (1, 3), padding="same"),
        )


@pytest.mark.parametrize("layer", ["0", "2", "3", "5"])
def test_receptive_field_arithmetic_matches_gradient_support(layer):
    _check_field(_Odd().eval(), layer, size=41, dilated=True)


def test_receptive_field_shapesnet(shapes_model):
    for layer in ("features.6", "features.12"):
        _check_field(shapes_model.model, layer, size=64)


def test_receptive_field_squeezenet_fire_modules(squeezenet_random):
    # a channel of the expand3x3 branch: the Fire output's field is the union of its branches
    # (also after the per-channel max-pool that follows a Fire module)
    fire = squeezenet_random.features[7]
    _check_field(squeezenet_random, "features.7", size=71, channel=fire.expand1x1.out_channels + 2)
    _check_field(squeezenet_random, "features.5", size=71, channel=squeezenet_random.features[4].expand1x1.out_channels)
    # an expand1x1 channel of that Fire module sees a sub-box of the union (documented)
    rf = receptive_field(squeezenet_random, "features.7")
    support = _gradient_support(_linearized(squeezenet_random), "features.7", 71, 0, 3, 3)
    assert (support & ~_box_mask(rf.box(3, 3, (71, 71)), 71)).sum() == 0


def test_receptive_field_resnet_residual_adds(resnet18_random):
    _check_field(resnet18_random, "layer1", size=64)
    _check_field(resnet18_random, "layer2.0", size=64)


def test_receptive_field_errors_and_growth(shapes_model, unchanged):
    model = shapes_model.model
    with unchanged(model):
        with pytest.raises(KeyError, match="features.1"):
            receptive_field(model, "features.1O")
        with pytest.raises(ValueError, match="whole image"):
            receptive_field(model, shapes_model.spec.penultimate)
        sizes = [receptive_field(model, layer).size[0] for layer in shapes_model.spec.layers]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), sizes  # deeper layers see more


@pytest.fixture(scope="module")
def shapes_batch():
    images, _, _ = make_shapes(30, seed=7)
    return to_tensor(images)


def _all_activations(model, x, layer, channel):
    with torch.no_grad(), capture(model, layer, detach=True) as acts:
        acts.run(x)
        return acts[layer][:, channel]


@pytest.mark.parametrize("per_image,k", [(True, 9), (False, 9), (False, 4000)])
def test_top_k_equals_full_sort(shapes_model, shapes_batch, unchanged, per_image, k):
    model, layer, channel = shapes_model.model, "features.6", 5
    with unchanged(model):
        top = max_activating_patches(model, shapes_batch, layer, channel, k=k, batch_size=7, per_image=per_image, progress=False)
    a = _all_activations(model, shapes_batch, layer, channel)
    n, h, w = a.shape
    if per_image:
        values, flat = a.flatten(1).max(1)
        order = values.sort(descending=True, stable=True).indices[:k]
        expected = torch.stack([order, flat[order] // w, flat[order] % w], 1)
        values = values[order]
    else:  # many ties at zero after the ReLU: the stable order must match too
        values, order = a.flatten().sort(descending=True, stable=True)
        values, order = values[:k], order[:k]
        expected = torch.stack([order // (h * w), order % (h * w) // w, order % w], 1)
    assert torch.equal(top.values, values)
    assert torch.equal(torch.cat([top.image_index[:, None], top.position], 1), expected)
    # each patch is the image under the unit's receptive field (zero where it hangs over the border)
    rf = top.field
    padded = F.pad(shapes_batch, (rf.size[1],) * 2 + (rf.size[0],) * 2)
    for i in range(min(len(values), 12)):
        img, (r, c) = int(top.image_index[i]), top.position[i].tolist()
        top_, left, _, _ = rf.box(r, c)
        crop = padded[img, :, top_ + rf.size[0] : top_ + 2 * rf.size[0], left + rf.size[1] : left + 2 * rf.size[1]]
        assert torch.equal(top.patches[i], crop)
        assert top.boxes[i].tolist() == list(rf.box(r, c, (64, 64)))


def test_streaming_from_a_generator_matches_tensor(shapes_model, shapes_batch):
    model = shapes_model.model
    a = max_activating_patches(model, shapes_batch, "features.10", 3, k=5, batch_size=8, progress=False)
    b = max_activating_patches(model, (shapes_batch[i : i + 11] for i in range(0, 30, 11)), "features.10", 3, k=5, progress=False)
    assert torch.equal(a.values, b.values) and torch.equal(a.image_index, b.image_index) and torch.equal(a.patches, b.patches)


def test_patches_errors_leave_model_unchanged(shapes_model, shapes_batch, unchanged):
    model = shapes_model.model
    model.train()  # a user's model in train mode must come back in train mode
    try:
        with unchanged(model):
            with pytest.raises(IndexError, match="0..63"):
                max_activating_patches(model, shapes_batch, "features.6", 64, progress=False)
            with pytest.raises(KeyError, match="Did you mean"):
                max_activating_patches(model, shapes_batch, "feature.6", 0, progress=False)
            max_activating_patches(model, shapes_batch[:4], "features.2", 0, k=2, progress=False)
    finally:
        model.eval()
