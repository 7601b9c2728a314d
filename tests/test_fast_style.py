"""Fast style transfer: TransformerNet shapes, (conditional) instance norm, training, shipped weights, CLI."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz_helpers.core.images import load_image, preprocess
from cnnviz_helpers.fast_style import (
    CARD_PATH,
    WEIGHTS_PATH,
    ConditionalInstanceNorm2d,
    PerceptualLoss,
    TransformerNet,
    load_fast_style,
    random_crops,
    save_fast_style,
    style_weights,
    stylize,
    train_fast_style,
)
from cnnviz_helpers.training.train_fast_style_net import SHIPPED_STYLES
from cnnviz_helpers.training.train_fast_style_net import main as train_cli
from cnnviz_helpers.ui.sections import fast_style_training_widget, style_blend_widget
from cnnviz_helpers.ui.widgets import find_controls, find_images

TINY = {"channels": (4, 8, 8), "n_residual": 1}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are tiny: one thread is as fast, and does not stall when other jobs share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tables(cin: ConditionalInstanceNorm2d) -> None:
    with torch.no_grad():
        cin.weight.normal_(1.0, 0.5)
        cin.bias.normal_(0.0, 0.5)


# --------------------------------------------------------------------------- architecture


@pytest.mark.parametrize("norm", ["instance", "batch", "conditional"])
def test_transformer_net_keeps_any_spatial_size(norm):
    torch.manual_seed(0)
    net = TransformerNet(**TINY, norm=norm, num_styles=3 if norm == "conditional" else 1).eval()
    style = 1 if norm == "conditional" else None
    for h, w in [(8, 8), (37, 53), (50, 71), (64, 64), (9, 30)]:
        y = net(torch.rand(2, 3, h, w), style=style)
        assert y.shape == (2, 3, h, w)
        assert 0 <= y.min() and y.max() <= 1  # sigmoid output: an image in [0, 1]
    with pytest.raises(ValueError, match="at least 8x8"):
        net(torch.rand(1, 3, 7, 40), style=style)
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        net(torch.rand(3, 32, 32), style=style)


def test_transformer_net_uses_reflection_padding_and_upsample_then_conv():
    net = TransformerNet(**TINY)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.padding == (0, 0) for c in convs)  # padding is done by ReflectionPad2d, not zeros
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in net.modules()) == len(convs)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in net.modules())


def test_instance_norm_net_ignores_brightness_and_contrast_batch_norm_net_does_not():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 40)
    dim = 0.5 * x + 0.1  # conv(a·x + b) = a·conv(x) + const, which instance norm removes (reflection padding too)
    change = {}
    for norm in ("instance", "batch"):
        net = TransformerNet(**TINY, norm=norm).eval()
        y = net(x)
        change[norm] = ((net(dim) - y).abs().max() / y.std()).item()  # relative to how much the output varies
    assert change["instance"] < 2e-3 and change["batch"] > 5e-2, change


# --------------------------------------------------------------------------- conditional instance norm


def test_cin_with_one_hot_style_equals_that_styles_instance_norm():
    torch.manual_seed(0)
    cin = ConditionalInstanceNorm2d(6, num_styles=3)
    _tables(cin)
    x = torch.randn(2, 6, 9, 11) * 3 + 1
    for s in range(3):
        inorm = nn.InstanceNorm2d(6, affine=True)
        with torch.no_grad():
            inorm.weight.copy_(cin.weight[s])
            inorm.bias.copy_(cin.bias[s])
        one_hot = [float(i == s) for i in range(3)]
        torch.testing.assert_close(cin(x, s), inorm(x))
        torch.testing.assert_close(cin(x, one_hot), inorm(x))


def test_cin_blends_interpolate_gamma_and_beta():
    torch.manual_seed(1)
    cin = ConditionalInstanceNorm2d(5, num_styles=3)
    _tables(cin)
    x = torch.randn(1, 5, 8, 8)
    w = torch.tensor([0.2, 0.0, 0.8])
    gamma, beta = cin.affine(w)
    torch.testing.assert_close(gamma[0], 0.2 * cin.weight[0] + 0.8 * cin.weight[2])
    torch.testing.assert_close(beta[0], 0.2 * cin.bias[0] + 0.8 * cin.bias[2])
    # one layer is affine in (γ, β): the output of a blend is the blend of the outputs
    torch.testing.assert_close(cin(x, w), 0.2 * cin(x, 0) + 0.8 * cin(x, 2))
    # weights are normalised to a convex combination; one blend per image of a batch
    torch.testing.assert_close(cin(x, [1.0, 0.0, 4.0]), cin(x, w))
    xb = torch.randn(2, 5, 8, 8)
    per_image = cin(xb, torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]))
    torch.testing.assert_close(per_image[1:], cin(xb[1:], [0, 1, 1]))
    torch.testing.assert_close(per_image[:1], cin(xb[:1], 0))


def test_style_weights_errors_say_what_to_do():
    assert style_weights(1, 3).tolist() == [[0.0, 1.0, 0.0]]
    with pytest.raises(IndexError, match="0..2"):
        style_weights(3, 3)
    with pytest.raises(ValueError, match="3 entries"):
        style_weights([0.5, 0.5], 3)
    with pytest.raises(ValueError, match="non-negative"):
        style_weights([1.0, -0.5, 0.5], 3)
    with pytest.raises(ValueError, match="not all zero"):
        style_weights([0.0, 0.0, 0.0], 3)


def test_conditional_net_with_one_hot_equals_an_instance_norm_net_with_that_styles_tables():
    torch.manual_seed(2)
    cond = TransformerNet(**TINY, norm="conditional", num_styles=3, style_names=["a", "b", "c"]).eval()
    for m in cond.modules():
        if isinstance(m, ConditionalInstanceNorm2d):
            _tables(m)
    x = torch.rand(2, 3, 21, 34)
    for s, name in enumerate(cond.style_names):
        single = TransformerNet(**TINY, norm="instance").eval()
        state = {k: (v[s] if k.endswith(("norm.weight", "norm.bias")) else v) for k, v in cond.state_dict().items()}
        single.load_state_dict(state)
        torch.testing.assert_close(cond(x, style=s), single(x))
        torch.testing.assert_close(cond(x, style=name), single(x))
    blend = cond(x, style={"a": 0.5, "c": 0.5})
    torch.testing.assert_close(blend, cond(x, style=[1, 0, 1]))
    assert not torch.allclose(blend, cond(x, style="a"), atol=1e-4)


def test_style_argument_errors():
    cond = TransformerNet(**TINY, norm="conditional", num_styles=2, style_names=["brick", "gravel"])
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="choose a style"):
        cond(x)
    with pytest.raises(KeyError, match="brick, gravel"):
        cond(x, style="grass")
    with pytest.raises(ValueError, match="only for norm='conditional'"):
        TransformerNet(**TINY)(x, style=0)
    with pytest.raises(ValueError, match="norm='conditional'"):
        TransformerNet(**TINY, norm="batch", num_styles=2)
    with pytest.raises(ValueError, match="'instance', 'batch' or 'conditional'"):
        TransformerNet(**TINY, norm="layer")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- training


def test_training_reduces_the_perceptual_loss_and_leaves_the_loss_network_as_it_was(shapes_model, unchanged):
    km = shapes_model
    torch.manual_seed(0)
    net = TransformerNet(channels=(8, 16, 16), n_residual=1)
    photo = load_image("chelsea", 40)
    x = preprocess(photo, mean=(0, 0, 0), std=(1, 1, 1), size=None)
    loss = PerceptualLoss(km, ["brick"], style_size=80)
    with torch.no_grad():
        before = loss(net(x), x)["total"].item()
    with unchanged(km.model):  # no hooks left, modes / requires_grad / BN statistics of the loss network as they were
        net, history = train_fast_style(
            km,
            "brick",
            content=[photo],
            net=net,
            steps=25,
            batch_size=1,
            crop=40,
            content_size=40,
            style_size=80,
            lr=2e-3,
            progress=False,
        )
    with torch.no_grad():
        after = loss(net(x), x)["total"].item()
    assert after < 0.6 * before, (before, after)
    assert len(history["total"]) == 25 and set(history) == {"content", "style", "tv", "total"}
    assert not net.training


def test_random_crops_are_plain_or_mirrored_windows_of_the_photos():
    img = torch.arange(3 * 10 * 12, dtype=torch.float32).view(3, 10, 12)
    crops = random_crops([img], 8, 4, torch.Generator().manual_seed(0))
    windows = [img[:, t : t + 4, left : left + 4] for t in range(7) for left in range(9)]
    assert crops.shape == (8, 3, 4, 4)
    for c in crops:
        assert any(torch.equal(c, w) or torch.equal(c.flip(-1), w) for w in windows)
    assert len({c.sum().item() for c in crops}) > 1  # not the same window every time
    with pytest.raises(ValueError, match="larger than a content image"):
        random_crops([img], 1, 11, torch.Generator())


def test_training_restores_the_loss_network_when_interrupted(shapes_model, unchanged):
    def stop(step, net, losses):
        raise KeyboardInterrupt

    with unchanged(shapes_model.model), pytest.raises(KeyboardInterrupt):
        train_fast_style(
            shapes_model,
            ["brick", "gravel"],
            steps=3,
            batch_size=1,
            crop=32,
            progress=False,
            callback=stop,
            callback_every=1,
            **TINY,
        )


def test_stylize_runs_batch_norm_in_eval_mode_and_restores_the_network(unchanged):
    torch.manual_seed(0)
    net = TransformerNet(**TINY, norm="batch")
    net(torch.rand(4, 3, 32, 32))  # give the running statistics something other than their defaults
    net.train()
    with unchanged(net):
        out = stylize(net, "coffee", size=(24, 40))
    assert out.shape == (24, 40, 3)
    x = preprocess("coffee", mean=(0, 0, 0), std=(1, 1, 1), size=(24, 40))
    with torch.no_grad():
        expected = net.eval()(x)[0].permute(1, 2, 0).numpy()
    assert abs(out - expected).max() < 1e-5


# --------------------------------------------------------------------------- weights: saving, loading, shipped


def test_save_and_load_round_trip(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = TransformerNet(**TINY, norm="conditional", num_styles=2, style_names=["x", "y"]).eval()
    path = save_fast_style(net, tmp_path / "net.pt", loss_network="test")
    flags = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: flags.append(k.get("weights_only")) or real_load(*a, **k))
    loaded = load_fast_style(path, device="cpu")
    assert flags == [True]
    assert loaded.style_names == ["x", "y"] and loaded.info == {"loss_network": "test"}
    x = torch.rand(1, 3, 20, 20)
    torch.testing.assert_close(loaded(x, style=[0.3, 0.7]), net(x, style=[0.3, 0.7]))
    with pytest.raises(FileNotFoundError, match="train_fast_style"):
        load_fast_style(tmp_path / "missing.pt")


def test_shipped_network_learned_distinct_styles(shapes_model):
    assert WEIGHTS_PATH.stat().st_size < 3e6 and CARD_PATH.exists()
    net = load_fast_style(device="cpu")
    assert net.conditional and net.style_names == list(SHIPPED_STYLES)
    assert net.info["loss_network"] in CARD_PATH.read_text()
    x = preprocess("chelsea", mean=(0, 0, 0), std=(1, 1, 1), size=96)
    loss = PerceptualLoss(shapes_model, net.style_names, style_size=192)
    with torch.no_grad():
        for s in range(net.num_styles):
            y = net(x, style=s)
            own = loss(y, x, s)["style"].item()
            others = [loss(y, x, t)["style"].item() for t in range(net.num_styles) if t != s]
            assert own < min(others), (net.style_names[s], own, others)  # each output matches its own style best


def test_widgets_construct_and_the_blend_slider_redraws(shapes_model):
    torch.manual_seed(0)
    net = TransformerNet(**TINY, norm="conditional", num_styles=2, style_names=["a", "b"]).eval()
    for m in net.modules():
        if isinstance(m, ConditionalInstanceNorm2d):
            _tables(m)
    widget = style_blend_widget(net, "chelsea", size=32)
    controls, image = widget.children
    before = bytes(image.value)
    controls.children[2].value = 1.0  # slider of style "b": now a 50/50 blend
    assert bytes(image.value) != before and "0.50·a + 0.50·b" in controls.children[-1].value
    panel = fast_style_training_widget(shapes_model, size=32)
    controls, (preview,) = find_controls(panel), find_images(panel)
    controls["style(s)"].value, controls["steps"].value, controls["crop"].value = ("brick", "gravel"), 2, 32
    before = bytes(preview.value)
    controls["Train"].click()
    panel.wait()
    trained = panel.result["net"]
    assert trained.conditional and trained.style_names == ["brick", "gravel"] and len(panel.result["history"]["total"]) == 2
    assert bytes(preview.value) != before  # the preview was updated during training
    with pytest.raises(ValueError, match="conditional"):
        style_blend_widget(TransformerNet(**TINY))


def test_cli_trains_and_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    train_cli(
        [
            "--styles",
            "brick",
            "gravel",
            "--content",
            "coffee",
            "--steps",
            "2",
            "--batch-size",
            "1",
            "--crop",
            "32",
            "--channels",
            "4",
            "8",
            "8",
            "--n-residual",
            "1",
            "--out",
            str(out),
        ]
    )
    assert "perceptual loss" in capsys.readouterr().out
    net = load_fast_style(out, device="cpu")
    assert net.style_names == ["brick", "gravel"] and net.info["steps"] == 2 and net.info["loss_network"] == "shapesnet"
