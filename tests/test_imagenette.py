"""Imagenette on the ImageNet path: torchvision's real loader on a generated tree, and the offline fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torchvision.datasets import Imagenette

from cnnviz_helpers import load_image, load_model
from cnnviz_helpers.core.images import sample_names
from cnnviz_helpers.datasets.imagenette import (
    FOLDER,
    WNID_TO_IMAGENET,
    ImagenetteUnavailable,
    download_imagenette,
    imagenette_samples,
    make_imagenette_tree,
)
from cnnviz_helpers.models.image_sets import image_set


@pytest.fixture(scope="module")
def squeezenet_km():
    return load_model("squeezenet1_1", weights="random", device="cpu")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path))
    return tmp_path / "imagenette"


def test_wnids_map_to_the_imagenet_classes_torchvision_names():
    categories = torchvision.models.SqueezeNet1_1_Weights.DEFAULT.meta["categories"]
    for wnid, index in WNID_TO_IMAGENET.items():
        assert categories[index] == Imagenette._WNID_TO_CLASS[wnid][0], wnid


def test_a_tree_in_torchvisions_layout_gives_an_imagenet_labelled_set(cache, squeezenet_km, capsys):
    make_imagenette_tree(cache, per_class=3)
    samples = imagenette_samples()
    assert len(samples) == 30 and {c for _, c in samples} == set(WNID_TO_IMAGENET.values())
    assert all(p.parent.name in WNID_TO_IMAGENET and WNID_TO_IMAGENET[p.parent.name] == c for p, c in samples)

    data = image_set(squeezenet_km, n=20, seed=1)
    assert capsys.readouterr().out == ""  # no fallback line
    assert len(data) == 20 and "Imagenette" in data.source
    assert np.bincount(data.labels).tolist() == [2] * 10  # classes balanced
    assert data.label_names == [squeezenet_km.class_names[c] for c in sorted(WNID_TO_IMAGENET.values())]
    assert data.targets.tolist() == [data.class_indices[lab] for lab in data.labels]
    assert all(im.size == (224, 224) and im.mode == "RGB" for im in data.images)
    # each picture is one of the files in its own class's folder
    wnid_of = {c: w for w, c in WNID_TO_IMAGENET.items()}
    for im, cls in zip(data.images, data.targets):
        files = (cache / FOLDER / "val" / wnid_of[cls]).glob("*.JPEG")
        assert any(np.array_equal(np.asarray(im), np.asarray(load_image(f, 224))) for f in files)
    assert data.per_class(1).labels.tolist() == list(range(10))


def test_load_model_picks_one_imagenette_example_per_class(cache, capsys):
    make_imagenette_tree(cache, per_class=2)
    km = load_model("squeezenet1_1", weights="random", device="cpu")
    tagged = [e for e in km.examples if "Imagenette" in e.name]
    assert sorted(e.label for e in tagged) == sorted(WNID_TO_IMAGENET.values())  # one per class
    x = km.preprocess([e.image for e in tagged])
    probs = km.model(x).softmax(-1)[range(len(tagged)), [e.label for e in tagged]]
    right = (km.model(x).argmax(1) == torch.tensor([e.label for e in tagged])).tolist()
    keys = list(zip(right, probs.tolist()))  # clear-cut first: correct before wrong, then by confidence
    assert all(a[0] > b[0] or (a[0] == b[0] and a[1] >= b[1] - 1e-6) for a, b in zip(keys, keys[1:])), keys
    assert all(km.class_names[e.label] in e.name for e in tagged)
    assert len(km.examples) == 10 + 3  # then the kit's photos


def test_examples_are_picked_on_first_access_not_by_load_model(cache, monkeypatch):
    from cnnviz_helpers.models import loading

    make_imagenette_tree(cache, per_class=1)
    picks = []
    real = loading.imagenette_examples
    monkeypatch.setattr(loading, "imagenette_examples", lambda *a, **k: picks.append(1) or real(*a, **k))
    km = load_model("squeezenet1_1", weights="random", device="cpu")
    assert picks == []  # load_model ran no network on Imagenette
    forwards = []
    km.model.register_forward_hook(lambda *_: forwards.append(1))
    km.model.train()  # the picking runs in eval mode and gives the model back as it was
    assert len(km.examples) == 10 + 3 and picks == [1] and forwards == [1]  # one batched forward pass
    assert km.model.training
    assert km.examples is km.examples and picks == [1] and forwards == [1]  # picked once
    assert load_model("shapesnet").examples[0].mask is not None  # ShapesNet: generated shapes with masks


def _fallback_line(capsys, km, expected: str) -> None:
    data = image_set(km, n=20, views=2)
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "make download" in lines[0], out.out
    assert "Traceback" not in out.err
    assert data.label_names == sample_names() and len(data) == 2 * len(sample_names())  # the kit's photos


def test_missing_imagenette_gives_one_line_and_the_photos(cache, squeezenet_km, capsys):
    _fallback_line(capsys, squeezenet_km, "Imagenette is not in")
    assert [e.label for e in load_model("squeezenet1_1", weights="random", device="cpu").examples] == [281, 967, 652]


def test_partial_trees_give_one_line_and_the_photos(cache, squeezenet_km, capsys):
    (cache / FOLDER).mkdir(parents=True)  # extraction began, no split folder yet
    _fallback_line(capsys, squeezenet_km, "incomplete")
    make_imagenette_tree(cache, per_class=2, wnids=list(WNID_TO_IMAGENET)[:4])
    _fallback_line(capsys, squeezenet_km, "4 of 10 classes")
    make_imagenette_tree(cache, per_class=2)
    (cache / f"{FOLDER}.unfinished").touch()  # download_imagenette was interrupted
    _fallback_line(capsys, squeezenet_km, "did not finish")
    (cache / f"{FOLDER}.unfinished").unlink()
    bad = next((cache / FOLDER / "val").rglob("*.JPEG"))
    bad.write_bytes(bad.read_bytes()[:200])  # a truncated photo
    with pytest.raises(ImagenetteUnavailable, match="does not decode"):
        from cnnviz_helpers.datasets.image_sets import load_imagenette

        load_imagenette(squeezenet_km.class_names, n=20, size=32)


def test_download_keeps_a_complete_copy(cache, monkeypatch):
    make_imagenette_tree(cache, per_class=1)

    def no_network(*args, **kwargs):
        raise AssertionError("a complete copy must not be downloaded again")

    monkeypatch.setattr("torchvision.datasets.imagenette.download_and_extract_archive", no_network)
    assert download_imagenette() == cache / FOLDER


def test_download_replaces_a_partial_copy(cache, monkeypatch):
    make_imagenette_tree(cache, per_class=1, wnids=list(WNID_TO_IMAGENET)[:4])  # an interrupted extraction
    calls = []

    def fake_download(url, download_root, md5=None):  # what torchvision's download does, minus the network
        calls.append((url, md5, (cache / FOLDER).exists(), (cache / f"{FOLDER}.unfinished").exists()))
        make_imagenette_tree(cache, per_class=1)

    monkeypatch.setattr("torchvision.datasets.imagenette.download_and_extract_archive", fake_download)
    assert download_imagenette() == cache / FOLDER
    ((url, md5, partial_left, marked),) = calls
    assert url.endswith("imagenette2-160.tgz") and md5  # torchvision's checksummed 160 px archive
    assert not partial_left and marked  # the partial copy was removed; the run is marked unfinished until done
    assert not (cache / f"{FOLDER}.unfinished").exists() and len(imagenette_samples()) == 10


def test_class_set_labels_images_with_the_models_classes(cache, squeezenet_km, shapes_model, capsys):
    from cnnviz_helpers.models.image_sets import class_set

    fallback = class_set(squeezenet_km, n=100)  # no Imagenette: the model's example photos, one line
    assert fallback.targets.tolist() == [e.label for e in squeezenet_km.examples]
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
    make_imagenette_tree(cache, per_class=11)
    data = class_set(squeezenet_km, n=100)
    assert len(data) == 100 and set(data.targets) == set(WNID_TO_IMAGENET.values())
    shapes = class_set(shapes_model, n=20)
    assert shapes.targets.tolist() == shapes.labels.tolist() and capsys.readouterr().out == ""
