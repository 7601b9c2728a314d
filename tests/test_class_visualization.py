"""Class and unit visualization: same result as a plain CS231n loop, objectives rise, priors act, models untouched."""

from __future__ import annotations

import pytest
import torch

from cnnviz_helpers import KitModel
from cnnviz_helpers.class_visualization import class_visualization
from cnnviz_helpers.core.images import gaussian_blur
from cnnviz_helpers.core.layers import capture
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.ui.sections import class_visualization_widget, unit_visualization_widget


def _logits(km: KitModel, img: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return km.model(img)[0]


def _cs231n_loop(model, target, mean, std, size, steps, lr, l2_reg, blur_every, sigma, max_jitter, seed):
    """CS231n's create_class_visualization, with the offsets drawn like the kit (same generator)."""
    g = torch.Generator().manual_seed(seed)
    img = torch.randn(1, 3, size, size, generator=g).requires_grad_()

    def roll(x, ox, oy):  # CS231n's jitter, written with torch.cat
        if ox:
            x = torch.cat([x[:, :, :, -ox:], x[:, :, :, :-ox]], dim=3)
        if oy:
            x = torch.cat([x[:, :, -oy:], x[:, :, :-oy]], dim=2)
        return x

    for t in range(steps):
        ox, oy = (int(v) for v in torch.randint(-max_jitter, max_jitter + 1, (2,), generator=g))
        img.data.copy_(roll(img.data, ox, oy))
        loss = model(img)[0, target] - l2_reg * (img * img).sum()
        loss.backward()
        img.data += lr * img.grad / img.grad.norm()
        img.grad.zero_()
        img.data.copy_(roll(img.data, -ox, -oy))
        for c in range(3):
            img.data[:, c].clamp_(min=-mean[c] / std[c], max=(1.0 - mean[c]) / std[c])
        if t % blur_every == 0:
            img.data.copy_(gaussian_blur(img.data, sigma))
    return img.detach()


def test_equals_the_cs231n_loop_and_leaves_the_model_unchanged(shapes_model: KitModel, unchanged) -> None:
    net, mean, std = shapes_model.model, shapes_model.mean, shapes_model.std
    settings = dict(steps=12, lr=7.0, l2_reg=1e-3, blur_every=5, max_jitter=4, seed=3)
    expected = _cs231n_loop(net, 2, mean, std, 64, sigma=0.5, **settings)
    with unchanged(net):  # a plain nn.Module wrapped with its normalisation
        got = class_visualization(
            KitModel.wrap(net, mean, std), 2, size=64, steps=12, lr=7.0, l2_reg=1e-3, blur_every=5, blur_sigma=0.5,
            jitter=4, seed=3, progress=False,
        )  # fmt: skip
    assert got.shape == (1, 3, 64, 64)
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()


def test_class_visualization_raises_the_score_until_the_network_sees_the_class(shapes_model: KitModel, unchanged) -> None:
    target = shapes_model.class_names.index("stripes")
    values: list[float] = []
    images: list[torch.Tensor] = []
    with unchanged(shapes_model.model):
        img = class_visualization(
            shapes_model,
            "stripes",
            steps=40,
            progress=False,
            callback=lambda s, x: (values.append(float(_logits(shapes_model, x)[target])), images.append(x)) and None,
        )
    assert len(values) == 4 and images[-1].shape == (1, 3, 64, 64)
    assert values[-1] > values[0] + 5  # the objective rises over the run
    start = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert _logits(shapes_model, img)[target] > _logits(shapes_model, start)[target] + 10
    assert _logits(shapes_model, img).argmax() == target
    # intermediate images are copies, not views of the running variable
    assert not torch.equal(images[0], images[-1]) and torch.equal(images[-1], img)
    # the image stays inside the valid pixel range (what deprocess would not need to clip)
    pixels = img * torch.tensor(shapes_model.std).view(1, 3, 1, 1) + torch.tensor(shapes_model.mean).view(1, 3, 1, 1)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_score_beats_probability_as_objective(shapes_model: KitModel) -> None:
    for name in ("disk", "square"):
        target = shapes_model.class_index(name)
        by_score = class_visualization(shapes_model, target, steps=25, progress=False)
        by_prob = class_visualization(shapes_model, target, steps=25, progress=False, objective="probability")
        assert _logits(shapes_model, by_score)[target] > _logits(shapes_model, by_prob)[target] + 5
    with pytest.raises(ValueError, match="objective"):
        class_visualization(shapes_model, 0, steps=1, progress=False, objective="softmax")  # type: ignore[arg-type]


def test_seeded_runs_repeat_and_seeds_differ(shapes_model: KitModel) -> None:
    run = lambda seed: class_visualization(shapes_model, 1, steps=6, seed=seed, progress=False)  # noqa: E731
    assert torch.equal(run(5), run(5))
    assert not torch.allclose(run(5), run(6))


def test_priors_are_applied_in_the_loop(shapes_model: KitModel) -> None:
    clipped = class_visualization(shapes_model, 0, steps=5, clip_norm=40, progress=False)
    zero = (clipped == 0).all(dim=1)  # pixels set to the mean colour
    assert zero.float().mean() >= 0.39
    clipped = class_visualization(shapes_model, 0, steps=5, clip_contribution=60, progress=False)
    assert (clipped == 0).all(dim=1).float().mean() >= 0.59
    plain = class_visualization(shapes_model, 0, steps=5, blur_every=0, jitter=0, progress=False)
    decayed = class_visualization(shapes_model, 0, steps=5, blur_every=0, jitter=0, decay=0.2, progress=False)
    assert decayed.norm() < 0.7 * plain.norm()
    with pytest.raises(ValueError, match="init"):
        class_visualization(shapes_model, 0, steps=1, init=torch.zeros(1, 3, 8, 8), progress=False)
    with pytest.raises(KeyError, match="Did you mean"):
        class_visualization(shapes_model, "disc", steps=1, progress=False)


def test_fft_parameterization_raises_the_score(shapes_model: KitModel) -> None:
    target = shapes_model.class_index("checkerboard")
    values: list[float] = []
    img = class_visualization(
        shapes_model,
        target,
        parameterization="fft",
        steps=30,
        progress=False,
        callback=lambda s, x: values.append(float(_logits(shapes_model, x)[target])),
    )
    assert values[-1] > values[0] + 5
    assert _logits(shapes_model, img).argmax() == target
    pixels = img * 0.25 + 0.5  # ShapesNet's normalisation: the sigmoid keeps pixels in (0, 1)
    assert pixels.min() > 0 and pixels.max() < 1
    with pytest.raises(ValueError, match="spectrum"):
        class_visualization(shapes_model, 0, parameterization="fft", blur_every=4, steps=1, progress=False)


def _unit_value(km: KitModel, img: torch.Tensor, layer: str, channel: int, center: bool = False) -> float:
    with capture(km.model, layer, detach=True) as acts:
        acts.run(img)
    a = acts[layer][0, channel]
    return float(a[a.shape[0] // 2, a.shape[1] // 2] if center else a.mean())


@pytest.mark.parametrize(
    ("layer", "channel", "neuron"), [("features.6", 3, "mean"), ("features.9", 7, "center"), ("classifier.3", 5, "mean")]
)
def test_a_unit_target_raises_the_unit(shapes_model: KitModel, unchanged, layer: str, channel: int, neuron: str) -> None:
    start = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    values: list[float] = []
    with unchanged(shapes_model.model):
        img = class_visualization(
            shapes_model,
            Unit(layer, channel, "center" if neuron == "center" else None),
            steps=20,
            progress=False,
            callback=lambda s, x: values.append(_unit_value(shapes_model, x, layer, channel, neuron == "center")),
        )  # type: ignore[arg-type]
    center = neuron == "center"
    assert _unit_value(shapes_model, img, layer, channel, center) > _unit_value(shapes_model, start, layer, channel, center) + 0.5
    assert values[-1] > values[0]


def test_a_unit_target_stops_at_the_layer_and_cleans_up_on_errors(shapes_model: KitModel, unchanged) -> None:
    net = shapes_model.model
    calls = []
    handle = net.classifier.register_forward_hook(lambda *a: calls.append(1))
    try:
        class_visualization(shapes_model, Unit("features.6", 0), steps=3, progress=False)
    finally:
        handle.remove()
    assert calls == []  # nothing deeper than features.6 was computed
    with unchanged(net):
        with pytest.raises(IndexError, match=r"0\.\.63"):
            class_visualization(shapes_model, Unit("features.6", 64), steps=2, progress=False)
        with pytest.raises(KeyError, match="features"):
            class_visualization(shapes_model, Unit("feature.6", 0), steps=2, progress=False)


def test_widgets_run_and_show_intermediate_images(shapes_model: KitModel) -> None:
    for make, method in ((class_visualization_widget, "class visualization"), (unit_visualization_widget, "unit visualization")):
        widget = make(shapes_model)
        assert set(widget.params[method]) >= {"steps", "blur every", "blur σ", "L2 decay", "clip norm %", "clip contrib. %"}
        widget.params[method]["steps"].value = 2
        previews = []
        widget.view.observe(lambda change, seen=previews: seen.append(change["new"]), "value")
        widget.panel.click()
        widget.panel.wait()
        assert len(previews) >= 2 and method in widget.panel.status.value and "⚠" not in widget.panel.status.value
