"""The shared core: model loading (online cache path and offline fallback), images, layers and hooks, fast mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

import cnnviz_helpers as cv
from cnnviz_helpers.datasets.shapes import CLASS_NAMES, make_shapes
from cnnviz_helpers.datasets.shapesnet import ShapesNet, accuracy
from cnnviz_helpers.models import loading

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- models


def test_offline_fallback_is_announced_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty cache: the download must be tried and fail
    monkeypatch.delenv("CNNVIZ_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    km = cv.load_model("squeezenet1_1", device="cpu")
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("cnnviz:")]
    assert km.offline and km.name == "shapesnet"
    assert len(lines) == 1 and "squeezenet1_1" in lines[0] and "not an ImageNet model" in lines[0]
    assert "NOT an ImageNet model" in km.description
    assert km.class_names == list(CLASS_NAMES)


def test_no_network_prints_exactly_one_line_in_all(monkeypatch, tmp_path, capsys):
    """Notebook 00 promises one line: nothing from torch.hub ("Downloading: …") when the server cannot be reached."""
    import urllib.error
    import urllib.request

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("CNNVIZ_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    km = cv.load_model("squeezenet1_1", device="cpu")
    out = capsys.readouterr()
    assert km.offline and len((out.out + out.err).strip().splitlines()) == 1, out


def test_offline_env_skips_download(monkeypatch, capsys):
    monkeypatch.setenv("CNNVIZ_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("must not download"))
    km = cv.load_model("vgg16", device="cpu")
    assert km.offline and "CNNVIZ_OFFLINE" in capsys.readouterr().out


def test_imagenet_weights_load_from_prepopulated_cache(monkeypatch, tmp_path):
    """The real torchvision path: a state_dict under the expected file name is read with no network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("CNNVIZ_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("must read the cache"))
    loads = []
    real_load = torch.load

    def spy_load(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy_load)
    weights = torchvision.models.SqueezeNet1_1_Weights.DEFAULT
    torch.manual_seed(3)
    reference = torchvision.models.squeezenet1_1()
    ckpt = tmp_path / "hub" / "checkpoints" / Path(weights.url).name
    ckpt.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), ckpt)

    km = cv.load_model("squeezenet1_1", device="cpu")
    assert not km.offline and km.name == "squeezenet1_1"
    assert loads == [True], "weights must be loaded with weights_only=True"
    # random weights under the real name do not match the hash in it: never described as pretrained
    assert "pretrained" not in km.description.replace("not torchvision's pretrained", "")
    assert "UNVERIFIED" in km.description
    monkeypatch.setattr(loading, "_unverified", lambda *stamp: False)  # as if the file were torchvision's own
    assert "ImageNet-pretrained" in cv.load_model("squeezenet1_1", device="cpu").description
    for (n, p), q in zip(km.model.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(p, q), n
    assert len(km.class_names) == 1000 and km.input_size == 224
    assert not km.model.training and not any(p.requires_grad for p in km.model.parameters())
    # examples are looked up by class name, not hard-coded indices
    assert [km.class_names[e.label] for e in km.examples] == [c for _, c in loading.SPECS["squeezenet1_1"].examples]


@pytest.mark.parametrize("name", loading.IMAGENET_MODELS)
def test_every_model_builds_and_its_layers_exist(name):
    km = cv.load_model(name, weights="random", device="cpu")
    assert "RANDOM" in km.description and not km.offline
    for layer in (*km.spec.layers, km.spec.last_conv, km.spec.penultimate):
        cv.get_layer(km.model, layer)
    if name == "googlenet":
        assert km.model.aux1 is None and km.model.transform_input


def test_unknown_model_and_class_errors_suggest(shapes_model):
    with pytest.raises(ValueError, match="vgg16"):
        cv.load_model("vgg61")
    with pytest.raises(KeyError, match="star"):
        shapes_model.class_index("stars")
    with pytest.raises(IndexError, match=r"0\.\.9"):
        shapes_model.class_index(10)
    assert shapes_model.class_index("Polka Dots") == CLASS_NAMES.index("polka dots")


def test_shapesnet_reaches_stated_accuracy_on_fresh_images(shapes_model):
    """The model card promises >= 95% held-out accuracy; check it on images it never saw (seed 77)."""
    acc = accuracy(shapes_model.model, n=500, seed=77)
    assert acc >= 0.95, acc
    card = (ROOT / "data" / "shapesnet.md").read_text()
    assert "held-out test accuracy" in card
    assert (ROOT / "data" / "shapesnet.pt").stat().st_size < 5e6


def test_shapes_dataset_is_deterministic_with_masks():
    a, la, ma = make_shapes(6, seed=5)
    b, lb, mb = make_shapes(6, seed=5)
    c, _, _ = make_shapes(6, seed=6)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and np.array_equal(ma, mb)
    assert not np.array_equal(a, c)
    area = ma.reshape(6, -1).mean(1)
    assert ((area > 0.03) & (area < 0.6)).all()  # every image has an object, never the whole frame
    with pytest.raises(ValueError):
        make_shapes(2, labels=np.array([0, 10]))


def test_predict_and_examples(shapes_model):
    x = shapes_model.preprocess([e.image for e in shapes_model.examples])
    assert x.shape == (10, 3, 64, 64)
    top = shapes_model.predict(x, k=3)
    assert len(top) == 10 and all(len(t) == 3 for t in top)
    correct = sum(t[0][0] == shapes_model.class_names[e.label] for t, e in zip(top, shapes_model.examples))
    assert correct >= 9
    assert all(e.mask is not None and e.mask.shape == (64, 64) for e in shapes_model.examples)


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize("mode", ["L", "LA", "P", "PA", "RGBA", "CMYK", "I;16", "I", "F", "1", "YCbCr", "HSV"])
def test_every_image_mode_converts_to_rgb(mode):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray(np.full((20, 30), 65535, dtype=np.uint16))
    elif mode == "PA":
        img = rgb.convert("P").convert("PA")
    else:
        img = rgb.convert(mode)
    out = cv.load_image(img)
    assert out.mode == "RGB" and out.size == (30, 20)
    if mode == "I;16":  # full-scale 16-bit white must become white, not clipped garbage
        assert np.asarray(out).min() == 255


def test_transparent_pixels_become_background():
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert np.asarray(cv.to_rgb(img))[0, 0].tolist() == [255, 255, 255]


def test_load_image_sources(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "x.png")
    assert np.array_equal(np.asarray(cv.load_image(tmp_path / "x.png")), arr)
    assert np.array_equal(np.asarray(cv.load_image(arr)), arr)
    assert np.array_equal(np.asarray(cv.load_image(arr / 255.0)), arr)
    assert np.array_equal(np.asarray(cv.load_image(torch.from_numpy(arr).permute(2, 0, 1) / 255.0)), arr)
    assert cv.load_image("chelsea", size=64).size == (64, 64)
    assert set(cv.sample_names()) >= {"chelsea", "coffee", "grace_hopper", "brick"}
    with pytest.raises(FileNotFoundError, match="available"):
        cv.load_image("not_a_sample")
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        cv.load_image(np.full((4, 4, 3), 2.0))


def test_preprocess_deprocess_roundtrip():
    arr = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    x = cv.preprocess(arr, size=None)
    assert x.shape == (1, 3, 16, 16)
    assert abs(float(x.mean())) < 3
    assert np.allclose(cv.deprocess(x)[0], arr / 255.0, atol=1e-6)


def test_jitter_is_undone_exactly():
    x = torch.randn(1, 3, 9, 11)
    assert torch.equal(cv.jitter(cv.jitter(x, 3, -4), -3, 4), x)
    assert torch.equal(cv.jitter(x, 1, 0)[..., 1:], x[..., :-1])


def test_gaussian_blur_matches_explicit_convolution_and_smooths():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 15, 17)
    sigma = 1.0
    y = cv.gaussian_blur(x, sigma)
    # explicit 2-D reference: reflect-pad then correlate with the outer product kernel
    r = 4
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k1 = torch.exp(-0.5 * (t / sigma) ** 2)
    k1 /= k1.sum()
    k2 = torch.outer(k1, k1)
    xp = torch.nn.functional.pad(x, (r, r, r, r), mode="reflect")
    ref = torch.nn.functional.conv2d(xp, k2.expand(2, 1, -1, -1), groups=2)
    assert torch.allclose(y, ref, atol=1e-5)
    assert y.diff(dim=-1).pow(2).sum() < 0.2 * x.diff(dim=-1).pow(2).sum()
    assert torch.equal(cv.gaussian_blur(x, 0), x)


# --------------------------------------------------------------------------- layers and hooks


def test_unknown_layer_suggests_close_names(squeezenet_random):
    with pytest.raises(KeyError, match="features.12"):
        cv.get_layer(squeezenet_random, "feature.12")
    with pytest.raises(KeyError):
        cv.capture(squeezenet_random, ["features.3", "nope"])


def test_capture_matches_manual_forward_and_stops_early(squeezenet_random, unchanged):
    x = torch.randn(2, 3, 64, 64)
    with unchanged(squeezenet_random):
        with cv.capture(squeezenet_random, ["features.3", "features.1"]) as acts:
            out = acts.run(x)
        assert out is None  # stopped after features.3: the rest never ran
        manual = squeezenet_random.features[:4](x)
        assert torch.allclose(acts["features.3"], manual, atol=1e-6)
        # features.0 is followed by an in-place ReLU: the recorded conv output keeps its negatives
        with cv.capture(squeezenet_random, "features.0") as acts0:
            acts0.run(x)
        assert (acts0["features.0"] < 0).any()
        with cv.capture(squeezenet_random, "features.3", stop=False) as full:
            logits = full.run(x)
        assert logits is not None and torch.allclose(logits, squeezenet_random(x), atol=1e-6)


def test_capture_gradient_flows_to_input_through_inplace_relu(unchanged):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Conv2d(2, 1, 1))
    x = torch.randn(1, 1, 6, 6, requires_grad=True)
    with unchanged(net):
        with cv.capture(net, "0") as acts:
            acts.run(x)
            acts["0"].sum().backward()
    ref_x = x.detach().clone().requires_grad_(True)
    net[0](ref_x).sum().backward()
    assert torch.allclose(x.grad, ref_x.grad)


def test_layer_input_stops_before_the_layer(squeezenet_random, unchanged):
    from cnnviz_helpers.core.layers import layer_input

    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    deeper = []
    handle = squeezenet_random.classifier.register_forward_hook(lambda *a: deeper.append(1))
    try:
        with unchanged(squeezenet_random):
            got = layer_input(squeezenet_random, "classifier.1", x)
    finally:
        handle.remove()
    assert not deeper, "the classifier ran"
    assert torch.allclose(got, squeezenet_random.features(x), atol=1e-6)  # classifier.0 is Dropout (eval: identity)
    got.sum().backward()  # part of the graph
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="never calls"):
        layer_input(squeezenet_random, nn.ReLU(), x)
    with pytest.raises(KeyError, match="Did you mean"):
        layer_input(squeezenet_random, "classifer.1", x)


def test_hooks_removed_and_state_restored_after_exception(resnet18_random):
    model = resnet18_random
    model.train()
    model.layer1.eval()  # a mixed state must come back exactly
    model.fc.weight.requires_grad_(False)
    before = cv.model_state(model)
    with pytest.raises(RuntimeError, match="boom"):
        with cv.capture(model, ["layer2", "layer1.0.relu"]) as acts:
            acts.run(torch.randn(1, 3, 32, 32))
            assert not model.training and not any(p.requires_grad for p in model.parameters())
            raise RuntimeError("boom")
    assert cv.model_state(model) == before
    assert before[2] == 0
    model.eval()
    model.fc.weight.requires_grad_(True)


def test_hooks_output_grad_modifies_gradient_and_is_removed():
    net = nn.Sequential(nn.Linear(3, 3), nn.ReLU(inplace=True), nn.Linear(3, 1))
    x = torch.randn(4, 3, requires_grad=True)
    with cv.Hooks(net) as hooks:
        hooks.output_grad("1", lambda g: g * 0)
        net(x).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    x.grad = None
    net(x).sum().backward()
    assert x.grad.abs().sum() > 0
    assert cv.model_state(net)[2] == 0


def test_check_channel_and_first_conv(resnet18_random):
    with pytest.raises(IndexError, match=r"0\.\.63"):
        cv.check_channel(torch.zeros(1, 64, 2, 2), 64, "layer1")
    assert cv.first_conv(resnet18_random)[0] == "conv1"
    assert cv.first_conv(ShapesNet())[0] == "features.0"


# --------------------------------------------------------------------------- config and tooling


def test_budget_and_device(monkeypatch):
    monkeypatch.setenv("CNNVIZ_FAST", "1")
    assert cv.budget(100, 5) == 5
    monkeypatch.setenv("CNNVIZ_FAST", "0")
    assert cv.budget(100, 5) == 100
    monkeypatch.setenv("CNNVIZ_DEVICE", "cpu")
    assert cv.default_device() == torch.device("cpu")


def test_plotting_helpers():
    from cnnviz_helpers.ui.plotting import overlay

    grid = cv.image_grid(np.random.rand(5, 4, 4, 3), ncols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    over = overlay(np.zeros((8, 8, 3)), np.eye(4), alpha=0.5)
    assert over.shape == (8, 8, 3) and 0 <= over.min() and over.max() <= 1


def test_student_notebooks_are_up_to_date():
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "build_notebooks.py"), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_build_replaces_solutions_and_drops_hidden_tests():
    import nbformat

    from tools import build_notebooks as bn

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"),
        nbformat.v4.new_code_cell(
            "# Self-check\nassert f(2) == 4\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS\n"
        ),
        nbformat.v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION\n"),
    ]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x")]
    bn.normalise(nb, "t")
    student = bn.student_version(nb)
    assert student.cells[0].source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert "f(3)" not in student.cells[1].source and "f(2)" in student.cells[1].source
    assert "Because" not in student.cells[2].source and "YOUR ANSWER HERE" in student.cells[2].source
    assert nb.cells[0].outputs == []
    assert nb.cells[0].metadata.nbgrader["solution"] and nb.cells[1].metadata.nbgrader["points"] == 1
