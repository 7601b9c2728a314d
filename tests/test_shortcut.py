"""The capstone's shortcut data (notebook 14): the cue goes where each split says, follows from the seed
alone, and the shipped shortcut model keeps what its card states."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnviz_helpers import load_model
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import accuracy_on
from cnnviz_helpers.datasets.shortcut import (
    CUE_COLOURS,
    CUE_RATE,
    load_shortcut_shapesnet,
    make_shortcut,
    shortcut_cue,
    shortcut_seed,
    shortcut_weights_path,
)

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "data" / "shapesnet_shortcut.md"
N = 300


def _cued(cue_masks: np.ndarray) -> np.ndarray:
    return cue_masks.any((1, 2))


@pytest.mark.parametrize("seed", [0, 5])
def test_each_split_puts_the_cue_where_it_says(seed):
    cue = shortcut_cue(seed)
    for split in ("train", "val"):
        _, labels, _, cue_masks = make_shortcut(N, split, seed)
        on_class = _cued(cue_masks)[labels == cue.label]
        slack = 3 * math.sqrt(CUE_RATE * (1 - CUE_RATE) / len(on_class))  # three binomial standard deviations
        assert abs(on_class.mean() - CUE_RATE) <= slack, (split, on_class.mean())
        assert not _cued(cue_masks)[labels != cue.label].any()
    _, labels, _, cue_masks = make_shortcut(N, "test", seed)
    assert not cue_masks.any()
    _, labels, _, cue_masks = make_shortcut(N, "shortcut", seed)
    assert (_cued(cue_masks) == (labels != cue.label)).all()


def test_the_cue_mask_is_exactly_the_painted_mark_and_the_rest_is_the_shapes_image():
    cue = shortcut_cue(0)
    images, labels, masks, cue_masks = make_shortcut(60, "shortcut", 0)
    plain, plain_labels, plain_masks = make_shapes(60, seed=3)
    assert (labels == plain_labels).all()
    assert (images[cue_masks] == CUE_COLOURS[cue.colour]).all()
    assert (images[~cue_masks] == plain[~cue_masks]).all()
    assert (cue_masks == (_cued(cue_masks)[:, None, None] & cue.mask())).all()
    assert (masks == plain_masks & ~cue_masks).all()  # the object mask leaves out what the mark covers
    corner = cue.mask()
    rows, cols = np.nonzero(corner)
    assert (rows.max() < 32) == cue.corner.startswith("top") and (cols.max() < 32) == cue.corner.endswith("left")


def test_the_same_seed_gives_the_same_cue_and_different_seeds_differ():
    assert shortcut_cue(3) == shortcut_cue(3)
    cues = [shortcut_cue(s) for s in range(20)]
    assert len(set(cues)) >= 15  # the four parts drawn from the seed: 720 possible cues
    assert len({c.label for c in cues}) >= 5 and len({c.corner for c in cues}) == 4
    a, _, _, _ = make_shortcut(40, "shortcut", 1)
    b, _, _, _ = make_shortcut(40, "shortcut", 1)
    c, _, _, _ = make_shortcut(40, "shortcut", 2)
    assert (a == b).all() and not (a == c).all()


def test_the_instructors_seed_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CNNVIZ_SHORTCUT_SEED", raising=False)
    assert shortcut_seed() == 0
    monkeypatch.setenv("CNNVIZ_SHORTCUT_SEED", "17")
    assert shortcut_seed() == 17
    assert shortcut_weights_path(17).name == "shapesnet_shortcut_seed17.pt"
    for bad in ("seventeen", "-1"):
        monkeypatch.setenv("CNNVIZ_SHORTCUT_SEED", bad)
        with pytest.raises(ValueError, match="CNNVIZ_SHORTCUT_SEED must be a whole number"):
            shortcut_seed()
    with pytest.raises(ValueError, match="split must be one of"):
        make_shortcut(4, "holdout")  # type: ignore[arg-type]


def test_a_model_is_loaded_only_with_its_own_card_and_seed(tmp_path, monkeypatch):
    """A seed's weights in the data cache load when its card records their sha256 and that seed; otherwise
    the error says what to do."""
    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path))
    path = shortcut_weights_path(7)
    shutil.copy2(ROOT / "data" / "shapesnet_shortcut.pt", path)
    with pytest.raises(FileNotFoundError, match="make shortcut-model SEED=7"):
        load_shortcut_shapesnet(7)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    card = path.with_suffix(".md")
    card.write_text(f"| sha256 | `{'0' * 64}` |\nReproduce: `... --shortcut-seed 7`")
    with pytest.raises(RuntimeError, match="sha256 differs"):
        load_shortcut_shapesnet(7)
    card.write_text(f"| sha256 | `{sha}` |\nReproduce: `... --shortcut-seed 8`")
    with pytest.raises(RuntimeError, match="trained for shortcut seed 8, but CNNVIZ_SHORTCUT_SEED is 7"):
        load_shortcut_shapesnet(7)
    card.write_text(f"| sha256 | `{sha}` |\nReproduce: `... --shortcut-seed 7`")
    monkeypatch.setenv("CNNVIZ_SHORTCUT_SEED", "7")
    km = load_model("shapesnet_shortcut", device="cpu")
    assert torch.equal(km.model.state_dict()["features.0.weight"], load_shortcut_shapesnet(0).state_dict()["features.0.weight"])


def _card() -> dict[str, float]:
    text = CARD.read_text()
    rows = {
        "val": r"drawn as in training[^|]*\| \*\*([\d.]+)%\*\*",
        "test": r"clean test set[^|]*\| ([\d.]+)%",
        "shortcut": r"shortcut test set[^|]*\| ([\d.]+)%",
    }
    out = {}
    for key, pattern in rows.items():
        m = re.search(pattern, text)
        assert m, f"the card's {key} row is missing or changed format"
        out[key] = float(m[1]) / 100
    return out


def test_the_shipped_shortcut_model_keeps_its_card_and_fails_where_the_cue_moves(shapes_model, unchanged):
    km = load_model("shapesnet_shortcut", device="cpu")
    assert km.offline and km.name == "shapesnet_shortcut" and km.spec == shapes_model.spec
    assert (ROOT / "data" / "shapesnet_shortcut.pt").stat().st_size < 5e6
    card, n, cued = _card(), 400, shortcut_cue(0).label
    measured, recall = {}, {}
    with unchanged(km.model):
        for split in ("val", "test", "shortcut"):
            images, labels, _, _ = make_shortcut(n, split, seed=0)
            measured[split] = accuracy_on(km.model, images, labels)
            recall[split] = accuracy_on(km.model, images[labels == cued], labels[labels == cued])
    for split, stated in card.items():
        slack = 4 * math.sqrt(max(stated * (1 - stated), 0.01) / n)
        assert abs(measured[split] - stated) <= slack, (split, measured[split], stated)
    assert measured["val"] > 0.9  # it "seems great" on data drawn like its training data
    assert measured["shortcut"] < measured["test"] - 0.2  # the cue on other classes: they become the cued class
    assert recall["test"] < recall["val"] - 0.05  # without its cue, the cued class is missed more often


def test_findings_from_another_term_fail_in_the_grader(monkeypatch):
    """Exercise 14.1's answer is checked against the seed the grader reads now: seed 0's right answer is
    wrong under seed 1, and seed 1's is right (the seed changes the class or the corner)."""
    from cnnviz_helpers.grading.grader.exercises import EXERCISES
    from cnnviz_helpers.grading.grader.sandbox import draw, verdict

    ex = EXERCISES["14.1"]

    def answer(seed):
        cue = shortcut_cue(seed)
        return (cue.label, ["top left", "top right", "bottom left", "bottom right"].index(cue.corner))

    assert answer(0) != answer(1)
    monkeypatch.setenv("CNNVIZ_SHORTCUT_SEED", "1")
    d = draw(ex, seed=3)
    assert verdict(ex, d, [{"output": answer(1)}]).passed
    wrong = verdict(ex, d, [{"output": answer(0)}])
    assert not wrong.passed and "output is wrong" in wrong.message, wrong.message
