"""Grad-CAM, guided Grad-CAM and the section's widget (cnnviz_helpers.gradcam)."""

from __future__ import annotations

import pytest
import torch
from captum.attr import GuidedGradCam, LayerAttribution, LayerGradCam
from compare import assert_same

from cnnviz_helpers.core.layers import get_layer
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import to_tensor
from cnnviz_helpers.gradcam import grad_cam, guided_grad_cam, last_conv_layer
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.ui.sections import ATTRIBUTIONS, attribution_widget

pytestmark = pytest.mark.filterwarnings("ignore:(Input Tensor|Setting backward hooks):UserWarning")


@pytest.mark.parametrize("net, layer", [("squeezenet_random", "features.12"), ("resnet18_random", "layer4")])
def test_equals_captum_layer_gradcam(net, layer, request, unchanged):
    model = request.getfixturevalue(net)
    torch.manual_seed(3)
    x = torch.randn(2, 3, 64, 64)
    target = [11, 901]
    with unchanged(model):
        coarse = grad_cam(model, x, target, layer=layer, upsample=False)
        fine = grad_cam(model, x, target, layer=layer)
        guided = guided_grad_cam(model, x, target, layer=layer)
    theirs = LayerGradCam(model, get_layer(model, layer)).attribute(x, target=target, relu_attributions=True)
    assert coarse.amax() > 0
    assert_same(coarse, theirs[:, 0])
    assert_same(fine, LayerAttribution.interpolate(theirs, (64, 64), "bilinear")[:, 0])
    reference = GuidedGradCam(model, get_layer(model, layer)).attribute(x, target=target, interpolate_mode="bilinear")
    assert_same(guided, reference)
    signed = grad_cam(model, x, target, layer=layer, relu=False, upsample=False)
    torch.testing.assert_close(signed.clamp(min=0), coarse)


def test_layer_followed_by_inplace_relu_equals_a_hand_split_network(shapes_model, unchanged):
    model = shapes_model.model  # features.13 is a BatchNorm whose output the in-place ReLU features.14 overwrites
    x = to_tensor(make_shapes(3, seed=21)[0])
    with unchanged(model):
        ours = grad_cam(model, x, [1, 4, 8], layer="features.13", upsample=False)
    with torch.no_grad():
        acts = model.features[:14](x)
    acts.requires_grad_(True)
    logits = model.classifier(model.features[14:](acts.clone()))
    (grads,) = torch.autograd.grad(logits.gather(1, torch.tensor([[1], [4], [8]])).sum(), acts)
    naive = (grads.mean((2, 3), keepdim=True) * acts.detach()).sum(1).clamp(min=0)
    torch.testing.assert_close(ours, naive)


def test_gradcam_mass_inside_object_mask(shapes_model):
    images, labels, masks = make_shapes(20, seed=2024)
    masks = torch.as_tensor(masks).float()
    cams = grad_cam(shapes_model.model, to_tensor(images), labels.tolist())  # default layer: the last conv block
    assert cams.shape == masks.shape
    inside = ((cams * masks).flatten(1).sum(1) / cams.flatten(1).sum(1)).mean()
    area = masks.flatten(1).mean(1).mean()
    # measured (seed 2024): Grad-CAM puts 0.49 of its mass on objects covering 0.21 of the image
    assert inside > area + 0.15, (float(inside), float(area))


def test_bad_layers_give_clear_errors_and_leave_the_model(shapes_model, resnet18_random, unchanged):
    x = to_tensor(make_shapes(1, seed=22)[0])
    model = shapes_model.model
    with unchanged(model), pytest.raises(ValueError, match=r"\[N, C, h, w\]"):
        grad_cam(model, x, layer="classifier.2")
    with unchanged(model), pytest.raises(KeyError, match="features.1"):
        grad_cam(model, x, layer="feature.12")
    with unchanged(model), pytest.raises(IndexError, match=r"0\.\.9"):
        guided_grad_cam(model, x, 12, layer="features.14")
    with unchanged(resnet18_random), pytest.raises(ValueError, match="2 times"):
        grad_cam(resnet18_random, torch.randn(1, 3, 64, 64), layer="layer4.1.relu")


def test_widget_runs_every_method(shapes_model):
    widget = attribution_widget(shapes_model)
    widget.panel.threaded = False
    assert [v for _label, v in widget.method.options] == list(ATTRIBUTIONS) and "Integrated Gradients" in ATTRIBUTIONS
    for name in ATTRIBUTIONS:  # quick ones answer the change, the others wait for Run
        widget.view.value = b""
        widget.method.value = name
        if bytes(widget.view.value) == b"":
            widget.panel.click()
        assert bytes(widget.view.value).startswith(b"\x89PNG") and "⚠" not in widget.panel.status.value, name
    widget.method.value = "guided backprop"
    widget.unit.value = 3
    assert widget.panel.status.value == f"guided backprop of {widget.layer.value}[3]"
    widget.unit.value = -1
    widget.picture.value = widget.picture.options[3][1]
    assert widget.panel.status.value == f"guided backprop of {widget.target.value}"


def test_default_layer_is_the_last_conv_block_of_any_plain_cnn(shapes_model, squeezenet_random):
    assert last_conv_layer(shapes_model) == shapes_model.spec.last_conv == last_conv_layer(shapes_model.model)
    assert last_conv_layer(squeezenet_random) == "classifier.2"  # its last Conv2d (the 1x1 classifier) and its ReLU
    x = to_tensor(make_shapes(2, seed=23)[0])
    torch.testing.assert_close(grad_cam(shapes_model.model, x), grad_cam(shapes_model.model, x, layer="features.14"))


def test_unit_target_explains_a_deeper_unit_and_a_shallower_one_is_refused(shapes_model, unchanged):
    model = shapes_model.model
    x = to_tensor(make_shapes(2, seed=24)[0])
    with unchanged(model):
        cam = grad_cam(model, x, Unit("features.14", 5, (4, 4)), layer="features.10", upsample=False)
    with torch.no_grad():
        acts = model.features[:11](x)
    acts.requires_grad_(True)
    unit = model.features[11:](acts.clone())[:, 5, 4, 4]
    (grads,) = torch.autograd.grad(unit.sum(), acts)
    torch.testing.assert_close(cam, (grads.mean((2, 3), keepdim=True) * acts.detach()).sum(1).clamp(min=0))
    with unchanged(model), pytest.raises(ValueError, match="below the unit"):
        grad_cam(model, x, Unit("features.6", 0), layer="features.10")
