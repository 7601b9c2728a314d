"""Guided backpropagation (cnnviz_helpers.guided_backprop)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop, NeuronGuidedBackprop
from compare import assert_same
from torch import nn

from cnnviz_helpers.core.layers import get_layer
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import to_tensor
from cnnviz_helpers.guided_backprop import guided_backprop
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.saliency import input_gradient

pytestmark = pytest.mark.filterwarnings("ignore:(Input Tensor|Setting backward hooks):UserWarning")


@pytest.mark.parametrize("net", ["squeezenet_random", "resnet18_random"])
def test_equals_captum_with_inplace_and_reused_relus(net, request, unchanged):
    model = request.getfixturevalue(net)  # squeezenet: in-place ReLUs; resnet18: one ReLU module called twice per block
    torch.manual_seed(2)
    x = torch.randn(2, 3, 64, 64)
    target = [7, 400]
    with unchanged(model):
        ours = guided_backprop(model, x, target)
    theirs = GuidedBackprop(model).attribute(x.clone().requires_grad_(), target=target)
    assert_same(ours, theirs)
    plain = input_gradient(model, x, target)
    assert not torch.allclose(ours, plain, atol=1e-6 * float(plain.abs().max())), "the guided rule was not applied"
    if net == "squeezenet_random":
        assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))  # still the user's in-place ReLUs


def test_unit_targets_equal_captum_neuron_guided_backprop(shapes_model, unchanged):
    model = shapes_model.model
    x = to_tensor(make_shapes(2, seed=11)[0])
    layer, channel = "features.10", 5
    captum = NeuronGuidedBackprop(model, get_layer(model, layer))
    with unchanged(model):
        at = guided_backprop(model, x, Unit(layer, channel, (3, 4)))
        mean = guided_backprop(model, x, Unit(layer, channel))
        strongest = guided_backprop(model, x, Unit(layer, channel, "max"))
        center = guided_backprop(model, x, Unit(layer, channel, "center"))
    assert_same(at, captum.attribute(x.clone().requires_grad_(), neuron_selector=(channel, 3, 4)))
    assert_same(center, captum.attribute(x.clone().requires_grad_(), neuron_selector=(channel, 8, 8)))  # 16x16 map
    assert_same(mean, captum.attribute(x.clone().requires_grad_(), neuron_selector=lambda out: out[:, channel].mean((1, 2))))
    with torch.no_grad():
        maps = model.features[:11](x)[:, channel]  # features.10's output
    for i, flat in enumerate(maps.flatten(1).argmax(1).tolist()):
        row, col = divmod(flat, maps.shape[-1])
        one = captum.attribute(x[i : i + 1].clone().requires_grad_(), neuron_selector=(channel, row, col))
        assert_same(strongest[i : i + 1], one)


def test_unit_at_a_linear_layer(shapes_model):
    model = shapes_model.model
    x = to_tensor(make_shapes(1, seed=12)[0])
    unit = guided_backprop(model, x, Unit("classifier.5", 3))
    torch.testing.assert_close(unit, guided_backprop(model, x, 3))  # the logit unit is the class score
    with pytest.raises(ValueError, match="no spatial"):
        guided_backprop(model, x, Unit("classifier.5", 3, (0, 0)))


class FunctionalReLUNet(nn.Module):
    """ReLU applied as a function after the first conv: the ReLU hooks cannot see it."""

    def __init__(self, mixed: bool) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3)
        self.relu = nn.ReLU() if mixed else None
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = self.relu(self.conv2(x)) if self.relu is not None else self.conv2(x).relu()
        return self.fc(x.mean((2, 3)))


def _with_activation(act: nn.Module) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), act, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )


@pytest.mark.parametrize(
    "model, message",
    [
        (FunctionalReLUNet(mixed=False), "as a function"),
        (FunctionalReLUNet(mixed=True), "as a function"),  # some nn.ReLU modules do not make it right
        (_with_activation(nn.SiLU()), "'silu'"),
        (_with_activation(nn.GELU()), "'gelu'"),
        (_with_activation(nn.LeakyReLU()), "'leaky_relu'"),
    ],
    ids=["functional", "mixed", "silu", "gelu", "leaky_relu"],
)
def test_unsupported_activations_raise_instead_of_a_wrong_map(model, message, unchanged):
    model.eval()
    with unchanged(model), pytest.raises(ValueError, match=message):
        guided_backprop(model, torch.randn(1, 3, 16, 16), 0)


def test_torchvision_googlenet_is_refused(unchanged):
    import torchvision

    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).eval()
    with unchanged(model), pytest.raises(ValueError, match="googlenet|as a function"):
        guided_backprop(model, torch.randn(1, 3, 64, 64))


def test_model_left_as_it_was_also_on_errors(shapes_model, unchanged):
    model = shapes_model.model
    x = to_tensor(make_shapes(1, seed=13)[0])
    with unchanged(model), pytest.raises(IndexError, match=r"0\.\.127"):
        guided_backprop(model, x, Unit("features.10", 128))
    with unchanged(model), pytest.raises(KeyError, match="features"):
        guided_backprop(model, x, Unit("feature.10", 1))
    with unchanged(model), pytest.raises(IndexError, match=r"0\.\.15"):
        guided_backprop(model, x, Unit("features.10", 1, (16, 0)))
    with unchanged(model), pytest.raises(IndexError, match=r"0\.\.9"):
        guided_backprop(model, x, 10)
    with unchanged(model), pytest.raises(ValueError, match="position"):
        guided_backprop(model, x, Unit("features.10", 1, "corner"))
