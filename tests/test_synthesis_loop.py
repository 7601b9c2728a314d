"""The synthesis contract: one callback rule in every synthesis method and in training, KitModel.wrap as the
one place a normalisation is set, default layers for any plain CNN, and the shared loop itself."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from cnnviz_helpers import IMAGENET_MEAN, IMAGENET_STD, KitModel, load_image, preprocess
from cnnviz_helpers.adversarial import fooling_image, pgd
from cnnviz_helpers.class_visualization import class_visualization
from cnnviz_helpers.core.options import Schedule
from cnnviz_helpers.core.synthesis import NormalizedGradient, Pixels, optimize, stage_layers
from cnnviz_helpers.deepdream import deepdream
from cnnviz_helpers.fast_style import train_fast_style
from cnnviz_helpers.inversion import feature_inversion
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.style_transfer import style_transfer
from cnnviz_helpers.texture_synthesis import texture_synthesis

LAYER = "features.6"
TINY_NET = dict(channels=(4, 4, 8), n_residual=1)
PREVIEW = load_image("coffee", 24)


def _x(km: KitModel) -> torch.Tensor:
    return km.preprocess(km.examples[0].image)


#: name -> run(km, schedule keywords) -> the image the method returns (for train_fast_style: its preview)
RUNS: dict[str, Callable[[KitModel, dict[str, Any]], torch.Tensor]] = {
    "class_visualization": lambda km, kw: class_visualization(km, 0, **kw),
    "class_visualization fft": lambda km, kw: class_visualization(km, 0, parameterization="fft", **kw),
    "unit visualization": lambda km, kw: class_visualization(km, Unit(LAYER, 3), **kw),
    "deepdream": lambda km, kw: deepdream(km, _x(km), LAYER, octaves=1, **kw),
    "feature_inversion": lambda km, kw: feature_inversion(km, _x(km), LAYER, **kw),
    "texture_synthesis": lambda km, kw: texture_synthesis(km, "brick", size=32, **kw).image,
    "style_transfer": lambda km, kw: style_transfer(km, "coffee", "brick", image_size=32, style_size=32, verbose=False, **kw).image,
    "fooling_image": lambda km, kw: fooling_image(km, _x(km), 3, step_size=1e-6, **kw),
    "pgd": lambda km, kw: pgd(km, _x(km), **kw),
    "train_fast_style": lambda km, kw: _preview(
        train_fast_style(km, "brick", content=["coffee"], batch_size=1, crop=16, preview=PREVIEW, **TINY_NET, **kw)[0]
    ),
}  # fmt: skip


def _preview(net: nn.Module) -> torch.Tensor:
    """What train_fast_style's callback sees: the network applied to the preview image, in [0, 1]."""
    with torch.no_grad():
        return net(preprocess(PREVIEW, mean=(0, 0, 0), std=(1, 1, 1), size=None))


@pytest.mark.parametrize("name", list(RUNS))
def test_the_callback_sees_every_kth_step_and_the_last(shapes_model, name) -> None:
    seen: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fooling_image gives up after 7 tiny steps
        RUNS[name](shapes_model, dict(steps=7, callback_every=3, callback=lambda t, img: seen.append(t), progress=False))
    assert seen == [3, 6, 7], (name, seen)


@pytest.mark.parametrize("name", list(RUNS))
def test_a_callback_returning_true_stops_there_and_that_image_is_returned(shapes_model, name) -> None:
    images: dict[int, torch.Tensor] = {}

    def stop_at_4(step: int, image: torch.Tensor) -> bool:
        images[step] = image.clone()
        return step == 4

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # stopped on request: no "gave up" warning
        out = RUNS[name](shapes_model, dict(steps=50, callback_every=2, callback=stop_at_4, progress=False))
    assert list(images) == [2, 4], name
    assert torch.allclose(out, images[4], atol=1e-6), (name, (out - images[4]).abs().max())
    assert not torch.equal(images[2], images[4]), name  # the image changed between two calls: copies, not views


def test_deepdream_counts_steps_across_octaves(shapes_model) -> None:
    x = shapes_model.preprocess(shapes_model.examples[0].image, size=96)
    seen: list[tuple[int, int]] = []
    out = deepdream(
        shapes_model, x, LAYER, steps=4, octaves=2, callback_every=3, progress=False,
        callback=lambda t, img: seen.append((t, img.shape[-1])) or t == 6,
    )  # fmt: skip
    assert seen == [(3, 69), (6, 96)]  # 96 / 1.4 for steps 1-4, 96 for steps 5-8; stopped at 6
    assert out.shape == x.shape


def test_kitmodel_wrap_is_the_one_place_a_normalisation_is_set(shapes_model) -> None:
    km, net = shapes_model, shapes_model.model
    wrapped = KitModel.wrap(net, km.mean, km.std, input_size=km.input_size)
    assert (wrapped.model, wrapped.mean, wrapped.std, wrapped.input_size) == (net, km.mean, km.std, 64)
    plain = KitModel.wrap(net)
    assert (plain.mean, plain.std, plain.input_size) == (IMAGENET_MEAN, IMAGENET_STD, 224)
    x = _x(km)
    for run in (
        lambda m: class_visualization(m, 2, steps=3, progress=False),
        lambda m: deepdream(m, x, LAYER, steps=2, octaves=1, progress=False),
        lambda m: feature_inversion(m, x, LAYER, steps=3, progress=False),
        lambda m: pgd(m, x, steps=3, progress=False),
    ):
        assert torch.equal(run(wrapped), run(km))  # the same as the KitModel with that normalisation
        assert torch.equal(run(net), run(plain))  # a plain module means ImageNet's
        assert not torch.equal(run(net), run(km))
    for method in (class_visualization, deepdream, feature_inversion, pgd, style_transfer, texture_synthesis):
        with pytest.raises(TypeError):
            method(km, x, mean=km.mean, std=km.std)  # no method takes mean= / std= any more


def _vgg16_features() -> nn.Module:
    return nn.Sequential(OrderedDict(features=make_layers(cfgs["D"]))).eval()


def test_stage_layers_are_the_ends_of_the_resolution_stages(unchanged) -> None:
    vgg = _vgg16_features()
    with unchanged(vgg):
        assert stage_layers(vgg, 64) == ["features.3", "features.8", "features.15", "features.22", "features.29"]
    with pytest.raises(ValueError, match="convolutional"):
        stage_layers(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)), 8)


def test_texture_synthesis_on_a_plain_cnn_uses_its_stage_layers(unchanged) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    )  # fmt: skip
    with unchanged(net):
        out = texture_synthesis(net, "gravel", size=32, steps=15, progress=False)
    assert set(out.losses) == {"style 1", "style 4", "style 7", "total"}
    assert out.reduction() > 5


def test_the_loop_minimises_and_applies_the_prior_after_each_step() -> None:
    target = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    param = Pixels(torch.zeros(1, 3, 8, 8))
    seen: list[int] = []
    stopped = optimize(
        param, lambda x: (x - target).pow(2).sum(), NormalizedGradient([param.variable], lr=0.5),
        Schedule(steps=40, callback=lambda t, img: seen.append(t), callback_every=15, progress=False),
        prior=lambda x, t, g: x.clamp_(-1, 1),
    )  # fmt: skip
    assert not stopped and seen == [15, 30, 40]
    assert torch.allclose(param.snapshot(), target.clamp(-1, 1), atol=0.3)
    assert param.snapshot().abs().max() <= 1


def test_a_group_comes_from_an_object_or_keywords_not_both(shapes_model) -> None:
    with pytest.raises(TypeError, match="not both"):
        class_visualization(shapes_model, 0, schedule=Schedule(steps=2), steps=3)
    with pytest.raises(TypeError, match="not both"):
        train_fast_style(shapes_model, "brick", schedule=Schedule(steps=2), callback_every=1)


def test_unit_activation_reads_each_position_kind() -> None:
    from cnnviz_helpers.models.targets import unit_activation

    a = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    assert torch.equal(unit_activation(a, Unit("l", 1)), a[:, 1].mean((1, 2)))
    assert torch.equal(unit_activation(a, Unit("l", 1, "center")), a[:, 1, 2, 2])
    assert torch.equal(unit_activation(a, Unit("l", 1, (0, 4))), a[:, 1, 0, 4])
    assert torch.equal(unit_activation(a, Unit("l", 1, "max")), a[:, 1, 4, 4])
    assert torch.equal(unit_activation(a[:, :, 0, 0], Unit("fc", 2)), a[:, 2, 0, 0])  # [N, C]: the unit itself
    with pytest.raises(ValueError, match="no spatial dimensions"):
        unit_activation(a[:, :, 0, 0], Unit("fc", 2, "center"))
    with pytest.raises(IndexError, match=r"0\.\.2"):
        unit_activation(a, Unit("l", 3))
    with pytest.raises(IndexError, match="maps are 5x5"):
        unit_activation(a, Unit("l", 0, (5, 0)))
    with pytest.raises(ValueError, match="position"):
        unit_activation(a, Unit("l", 0, "corner"))
