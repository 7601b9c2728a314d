"""Gram matrices, content / style / TV losses, texture synthesis and Gatys style transfer (sections 10–11)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from cnnviz_helpers import get_layer, load_image, model_state
from cnnviz_helpers.core.regularizers import tv_loss
from cnnviz_helpers.style import (
    PRESETS,
    content_loss,
    gram_matrix,
    layer_features,
    preset_layers,
    style_images,
    style_loss,
    style_targets,
    style_transfer,
    texture_synthesis,
)

# ----------------------------------------------------------------------------------- formulas


def _gram_loop(f: torch.Tensor) -> torch.Tensor:
    """G[n, c, d] = sum over positions of F[n, c] * F[n, d], written out."""
    n, c, h, w = f.shape
    g = torch.zeros(n, c, c, dtype=f.dtype)
    for b in range(n):
        for i in range(c):
            for j in range(c):
                g[b, i, j] = sum(f[b, i, y, x] * f[b, j, y, x] for y in range(h) for x in range(w))
    return g


def test_gram_matrix_equals_the_explicit_formula_for_each_normalisation():
    torch.manual_seed(0)
    f = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    raw = _gram_loop(f)
    torch.testing.assert_close(gram_matrix(f), raw / (3 * 4 * 5))  # CS231n: divide by C·H·W
    torch.testing.assert_close(gram_matrix(f, normalize="chw"), raw / (3 * 4 * 5))
    torch.testing.assert_close(gram_matrix(f, normalize="hw"), raw / (4 * 5))
    torch.testing.assert_close(gram_matrix(f, normalize=False), raw)
    torch.testing.assert_close(gram_matrix(f[1]), raw[1] / 60)  # [C, H, W] → [C, C]
    assert torch.allclose(gram_matrix(f), gram_matrix(f).transpose(-1, -2))
    with pytest.raises(ValueError, match="normalize"):
        gram_matrix(f, normalize="c")
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        gram_matrix(f[0, 0])


def test_content_loss_equals_hand_computation():
    cur = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    tgt = torch.tensor([[[[0.0, 2.0], [5.0, 3.0]]]])
    # differences 1, 0, -2, 1 → squares sum to 6
    assert content_loss(cur, tgt, weight=0.5).item() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="same layer"):
        content_loss(cur, torch.zeros(1, 2, 2, 2))


def test_style_loss_equals_hand_computation_and_finite_differences():
    torch.manual_seed(1)
    feats = [torch.randn(1, 2, 3, 3, dtype=torch.float64), torch.randn(1, 3, 2, 2, dtype=torch.float64)]
    targets = [torch.randn(1, 2, 2, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)]
    weights = [10.0, 0.5]
    expected = sum(w * ((_gram_loop(f) / f[0].numel()) - a).pow(2).sum() for f, a, w in zip(feats, targets, weights))
    torch.testing.assert_close(style_loss(feats, targets, weights), expected)
    # a single number weights every layer
    torch.testing.assert_close(style_loss(feats, targets, 2.0), style_loss(feats, targets, [2.0, 2.0]))
    # gradients: autograd agrees with finite differences
    x = feats[0].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: style_loss([f], targets[:1], [3.0]), (x,))
    with pytest.raises(ValueError, match="one target and one weight"):
        style_loss(feats, targets[:1], weights)


def test_tv_loss_equals_hand_computation():
    x = torch.tensor([[[[1.0, 2.0, 4.0], [0.0, 1.0, 1.0]]]])
    # horizontal: (2-1)², (4-2)², (1-0)², (1-1)² = 1+4+1+0; vertical: (0-1)², (1-2)², (1-4)² = 1+1+9
    assert tv_loss(x).item() == pytest.approx(17.0)


# ----------------------------------------------------------------------------------- features


def test_layer_features_matches_running_the_layers_and_stops_early(squeezenet_random, unchanged):
    model = squeezenet_random
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected, h = {}, x
        for i, m in enumerate(model.features[:8]):
            h = m(h)
            expected[i] = h.clone()
    deeper_calls = []
    with unchanged(model):
        handle = get_layer(model, "features.12").register_forward_hook(lambda *a: deeper_calls.append(1))
        try:
            feats = layer_features(model, x, [7, "features.3", 1])  # ints index model.features (CS231n)
        finally:
            handle.remove()
    for f, i in zip(feats, (7, 3, 1)):
        torch.testing.assert_close(f, expected[i])
    assert deeper_calls == [], "layers after the deepest requested one were computed"
    with pytest.raises(KeyError, match="features.1"):
        layer_features(model, x, ["features.1x"])


def test_layer_features_keeps_the_graph_to_the_input(shapes_model):
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    (f,) = layer_features(shapes_model, x, ["features.6"])
    f.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_style_targets_blend(shapes_model):
    km = shapes_model
    a, b = km.preprocess("gravel", size=48), km.preprocess("brick", size=40)  # sizes may differ
    layers = ["features.2", "features.10"]
    ga, gb = style_targets(km, a, layers), style_targets(km, b, layers)
    for t, s in zip(style_targets(km, [a, b], layers, blend=[1, 0]), ga):
        torch.testing.assert_close(t, s)
    for t, s1, s2 in zip(style_targets(km, [a, b], layers, blend=[3, 1]), ga, gb):
        torch.testing.assert_close(t, 0.75 * s1 + 0.25 * s2)
    with pytest.raises(ValueError, match="non-negative"):
        style_targets(km, [a, b], layers, blend=[1, -1])


# ----------------------------------------------------------------------------------- presets


def test_preset_layers_map_to_relus_at_the_same_depth(shapes_model):
    from torchvision.models.vgg import cfgs, make_layers  # just the convolutional part: cheap to build

    shapes_layers = ["features.2", "features.6", "features.10", "features.14"]
    assert preset_layers(shapes_model, "starry_night") == ("features.6", shapes_layers)
    for name, cfg in (("vgg16", "D"), ("vgg19", "E")):
        vgg = make_layers(cfgs[cfg])
        content, styles = preset_layers(SimpleNamespace(name=name), "scream")  # type: ignore[arg-type]
        relus = [i for i, m in enumerate(vgg) if isinstance(m, nn.ReLU)]
        pools = [i for i, m in enumerate(vgg) if isinstance(m, nn.MaxPool2d)]
        idx = [int(n.split(".")[1]) for n in [content, *styles]]
        assert all(i in relus for i in idx)
        assert [sum(i > p for p in pools) for i in idx] == [1, 0, 1, 2, 2]  # block of each, as in SqueezeNet
    assert set(PRESETS) == {"composition_vii", "scream", "starry_night"}


# ----------------------------------------------------------------------------------- methods


def test_texture_synthesis_reduces_the_gram_loss_and_leaves_the_model_unchanged(shapes_model, unchanged):
    km = shapes_model
    with unchanged(km.model):
        out = texture_synthesis(km, "gravel", size=32, steps=20, progress=False)
    assert out.image.shape == (1, 3, 32, 32) and out.picture.shape == (32, 32, 3)
    for layer in ("features.2", "features.6", "features.10", "features.14"):
        assert out.reduction(f"style {layer}") > 10, layer
    assert out.reduction() > 20


@pytest.mark.parametrize("optimizer, init, steps", [("adam", "noise", 60), ("lbfgs", "content", 15)])
def test_style_transfer_reduces_its_loss(shapes_model, unchanged, optimizer, init, steps):
    km = shapes_model
    with unchanged(km.model):
        out = style_transfer(
            km,
            "coffee",
            "brick",
            preset="composition_vii",
            image_size=32,
            style_size=48,
            init=init,
            steps=steps,
            optimizer=optimizer,
            progress=False,
            verbose=False,
        )
    assert out.image.shape[-2:] == (32, 48)  # shorter side to image_size, aspect ratio kept
    styles = {f"style features.{i}" for i in (2, 6, 10, 14)}
    assert set(out.losses) == {"content", "tv", "total"} | styles
    assert out.reduction() > 5
    assert all(len(v) == steps + 1 for v in out.losses.values())


def test_snapshots_and_callback(shapes_model):
    seen = []
    out = style_transfer(
        shapes_model,
        "coffee",
        "brick",
        image_size=32,
        style_size=32,
        steps=5,
        snapshot_every=2,
        callback_every=2,
        callback=lambda t, img: seen.append((t, tuple(img.shape))),
        progress=False,
        verbose=False,
    )
    assert seen == [(2, (1, 3, 32, 48)), (4, (1, 3, 32, 48)), (5, (1, 3, 32, 48))]  # steps done, normalised image
    assert [t for t, _ in out.snapshots] == [0, 2, 4]
    assert 0 <= out.snapshots[-1][1].min() and out.snapshots[-1][1].max() <= 1


def test_blend_one_zero_reproduces_the_single_style_loss(shapes_model):
    kw = dict(image_size=32, style_size=32, steps=3, progress=False, verbose=False)
    single = style_transfer(shapes_model, "chelsea", "gravel", **kw)
    blended = style_transfer(shapes_model, "chelsea", ["gravel", "brick"], blend=[1, 0], **kw)
    mixed = style_transfer(shapes_model, "chelsea", ["gravel", "brick"], blend=[0.5, 0.5], **kw)
    assert single.losses == blended.losses
    assert mixed.losses["total"][0] != single.losses["total"][0]


def test_style_transfer_prints_the_per_layer_magnitudes(shapes_model, capsys):
    style_transfer(shapes_model, "chelsea", "gravel", image_size=32, style_size=32, steps=1, progress=False)
    text = capsys.readouterr().out
    assert "unweighted" in text and "style features.14" in text and "content" in text


def test_model_restored_after_an_error_inside_the_optimisation(shapes_model):
    model = shapes_model.model
    model.train()
    before = model_state(model)

    def boom(_t, _p):
        raise RuntimeError("stop")

    try:
        with pytest.raises(RuntimeError, match="stop"):
            style_transfer(
                shapes_model,
                "chelsea",
                "gravel",
                image_size=32,
                style_size=32,
                steps=2,
                snapshot_every=1,
                callback=boom,
                progress=False,
                verbose=False,
            )
        assert model_state(model) == before
    finally:
        model.eval()


def test_bad_arguments_say_what_to_do(shapes_model):
    with pytest.raises(ValueError, match="style weights"):
        style_transfer(shapes_model, "chelsea", "gravel", style_weights=[1, 2], steps=1, progress=False)
    with pytest.raises(KeyError, match="choose from"):
        style_transfer(shapes_model, "chelsea", "gravel", preset="monet", steps=1)
    with pytest.raises(KeyError, match="Did you mean"):
        style_transfer(shapes_model, "chelsea", "gravel", content_layer="features.66", steps=1)
    with pytest.raises(ValueError, match="init"):
        style_transfer(shapes_model, "chelsea", "gravel", init="zeros", image_size=32, style_size=32, steps=1)


def test_style_images_are_loadable():
    styles = style_images()
    assert {"brick", "grass", "gravel", "hubble_deep_field"} <= set(styles)
    for src in styles.values():
        assert load_image(src, 16).size == (16, 16)


def test_widget_runs_a_blended_transfer_and_shows_it(shapes_model, unchanged):
    from cnnviz_helpers.ui.sections import style_transfer_widget
    from cnnviz_helpers.ui.widgets import find_controls, find_images

    with unchanged(shapes_model.model):
        panel = style_transfer_widget(shapes_model, steps=2, image_size=32)
        controls = find_controls(panel)
        controls["style B"].value = "brick"
        controls["style size"].value = 32
        (preview,) = find_images(panel)
        before = bytes(preview.value)
        controls["Transfer style"].click()
        panel.wait()
    assert bytes(preview.value) != before and "⚠" not in panel.status.value, panel.status.value


def test_downloaded_paintings_become_styles(tmp_path, monkeypatch, capsys):
    import cnnviz_helpers.training.download as dl
    from cnnviz_helpers.core.images import sample_path

    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path))
    assert "starry_night" not in style_images()
    assert {"starry_night.jpg", "the_scream.jpg", "composition_vii.jpg"} <= {a.name for a in dl.ASSETS}
    src = sample_path("gravel").as_uri()  # a local file stands in for Wikimedia
    path = dl.fetch_asset(dl.Asset("starry_night.jpg", src, None, "test"))
    assert "not verified" in capsys.readouterr().out  # no checksum on record: said so, file kept
    assert style_images()["starry_night"] == path
    with pytest.raises(OSError, match="checksum mismatch"):
        dl.fetch_asset(dl.Asset("the_scream.jpg", src, "0" * 64, "test"))


def test_a_download_that_is_not_an_image_is_rejected_and_deleted(tmp_path, monkeypatch):
    import cnnviz_helpers.training.download as dl

    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path / "cache"))
    page = tmp_path / "error.html"
    page.write_text("<html>429 Too Many Requests</html>")  # what a rate-limited server sends instead of a painting
    with pytest.raises(OSError, match="not an image"):
        dl.fetch_asset(dl.Asset("the_scream.jpg", page.as_uri(), None, "test"))
    assert not any((tmp_path / "cache").rglob("*the_scream*"))  # neither the file nor its .part is left
    assert "the_scream" not in style_images()
