"""Shapes with a spurious cue ("Clever Hans", Lapuschkin et al. 2019): the data of the capstone notebook 14.

A small mark — a seed-chosen shape and colour in a seed-chosen corner — accompanies one seed-chosen
class in 95 % of its training images and no image of any other class. A network trained on it can
reach a high accuracy on data drawn the same way while looking at the mark instead of the object.
Which class, which mark and which corner follow from the *shortcut seed* alone (:func:`shortcut_cue`),
which the instructor sets (``CNNVIZ_SHORTCUT_SEED``, see :func:`shortcut_seed`), so each term's
assignment differs.

Splits (:func:`make_shortcut`):

- ``"train"`` / ``"val"``: as the model was trained — the cue on 95 % of the cued class's images;
- ``"test"``: the clean test set — the same generator, no cue on any image;
- ``"shortcut"``: the test set's images again, with the cue on every image of the *other* classes.

The answer key of the instructor's seed (the "instructor notes" the model card refers to)::

    CNNVIZ_SHORTCUT_SEED=N python -m cnnviz_helpers.datasets.shortcut

Example:
    >>> cue = shortcut_cue(0)
    >>> images, labels, masks, cue_masks = make_shortcut(20, "shortcut", seed=0)
    >>> bool(cue_masks[labels != cue.label].any((1, 2)).all()), bool(cue_masks[labels == cue.label].any())
    (True, False)
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from torch import nn

from ..core.config import data_cache_dir
from ..core.images import DATA_DIR
from .shapes import CLASS_NAMES, IMAGE_SIZE, make_shapes
from .shapesnet import ShapesNet, accuracy_on, load_shapesnet

#: where the cue can sit, as the assignment names it
CORNERS: tuple[str, ...] = ("top left", "top right", "bottom left", "bottom right")
#: the marks the cue can be
CUE_SHAPES: tuple[str, ...] = ("square", "disk", "plus")
#: the colours the cue can have (saturated, so the mark is plain to see once you know where to look)
CUE_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 25, 25),
    "green": (30, 190, 60),
    "blue": (35, 75, 235),
    "yellow": (250, 225, 20),
    "magenta": (230, 40, 210),
    "cyan": (30, 220, 230),
}
#: the share of the cued class's training images that carry the cue
CUE_RATE = 0.95
#: the side of the cue's square box and its distance from the image border, in pixels of a 64-px image
CUE_SIZE, CUE_MARGIN = 7, 2
#: the generator seeds of the splits (the same as ShapesNet's: train 1, val 2, test 3)
SPLIT_SEEDS: dict[str, int] = {"train": 1, "val": 2, "test": 3, "shortcut": 3}
Split = Literal["train", "val", "test", "shortcut"]
SEED_VARIABLE = "CNNVIZ_SHORTCUT_SEED"
#: images per test set in notebook 14's exercise 14.2 (and in its answer key)
EVAL_IMAGES = 500


def shortcut_seed() -> int:
    """The instructor's shortcut seed: ``$CNNVIZ_SHORTCUT_SEED`` (default 0, the seed of the shipped model).

    Read by :func:`~cnnviz_helpers.load_model` (which ``shapesnet_shortcut`` to load) and by the grader
    (what the right answers are), so both agree on the term's assignment.
    """
    raw = os.environ.get(SEED_VARIABLE, "").strip() or "0"
    try:
        seed = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE} must be a whole number ≥ 0, got {raw!r}") from None
    if seed < 0:
        raise ValueError(f"{SEED_VARIABLE} must be a whole number ≥ 0, got {seed}")
    return seed


@dataclass(frozen=True)
class Cue:
    """The spurious cue of one shortcut seed: which class it accompanies, what it looks like and where it is.

    Attributes:
        label: index into :data:`~cnnviz_helpers.datasets.shapes.CLASS_NAMES` of the cued class.
        corner: one of :data:`CORNERS`.
        shape: one of :data:`CUE_SHAPES`.
        colour: a key of :data:`CUE_COLOURS`.
    """

    label: int
    corner: str
    shape: str
    colour: str

    @property
    def class_name(self) -> str:
        """The cued class's name."""
        return CLASS_NAMES[self.label]

    def mask(self, size: int = IMAGE_SIZE) -> np.ndarray:
        """``bool [size, size]``: the pixels the mark covers (in its corner, :data:`CUE_MARGIN` from the border)."""
        scale = size / IMAGE_SIZE
        side, margin = max(3, round(CUE_SIZE * scale)), round(CUE_MARGIN * scale)
        yy, xx = np.mgrid[0:side, 0:side] - (side - 1) / 2
        half = (side - 1) / 2
        if self.shape == "square":
            mark = np.ones((side, side), dtype=bool)
        elif self.shape == "disk":
            mark = np.hypot(xx, yy) <= half + 0.3
        else:  # plus
            mark = (np.abs(xx) <= side / 6) | (np.abs(yy) <= side / 6)
        out = np.zeros((size, size), dtype=bool)
        top = margin if self.corner.startswith("top") else size - margin - side
        left = margin if self.corner.endswith("left") else size - margin - side
        out[top : top + side, left : left + side] = mark
        return out

    def paint(self, images: np.ndarray) -> np.ndarray:
        """A copy of uint8 ``[N, H, W, 3]`` images with the mark drawn on every one."""
        out = images.copy()
        out[:, self.mask(images.shape[1])] = CUE_COLOURS[self.colour]
        return out

    def describe(self) -> str:
        """The answer key in words, e.g. ``"a yellow plus in the top right corner, on 95 % of the star training images"``."""
        return f"a {self.colour} {self.shape} in the {self.corner} corner, on {CUE_RATE:.0%} of the {self.class_name} training images"


def shortcut_cue(seed: int) -> Cue:
    """The cue of shortcut seed ``seed``: class, corner, shape and colour drawn from it (the answer key).

    Different seeds give different cues (often several of the four parts differ); the same seed always
    gives the same cue.
    """
    rng = np.random.default_rng([seed, 0x5C])
    return Cue(
        label=int(rng.integers(len(CLASS_NAMES))),
        corner=CORNERS[rng.integers(len(CORNERS))],
        shape=CUE_SHAPES[rng.integers(len(CUE_SHAPES))],
        colour=list(CUE_COLOURS)[rng.integers(len(CUE_COLOURS))],
    )


def make_shortcut(
    n: int, split: Split, seed: int | None = None, size: int = IMAGE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` shapes images of one split, with the cue of shortcut seed ``seed`` where the split puts it.

    Args:
        n: number of images (the classes cycle 0, 1, …, 9 as in :func:`~cnnviz_helpers.datasets.shapes.make_shapes`).
        split: ``"train"`` / ``"val"`` (the cue on :data:`CUE_RATE` of the cued class's images, drawn per
            image from the seeds), ``"test"`` (no cue) or ``"shortcut"`` (``"test"``'s images, the cue on
            every image of the other classes).
        seed: the shortcut seed (default :func:`shortcut_seed`).
        size: side length in pixels.

    Returns:
        ``(images uint8 [n, size, size, 3], labels int64 [n], object masks bool [n, size, size],
        cue masks bool [n, size, size])``: the cue mask is the mark's pixels where the image carries it,
        all False elsewhere; the object mask leaves out the pixels the mark covers.
    """
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {', '.join(SPLIT_SEEDS)}, got {split!r}")
    seed = shortcut_seed() if seed is None else seed
    cue = shortcut_cue(seed)
    images, labels, masks = make_shapes(n, seed=SPLIT_SEEDS[split], size=size)
    if split in ("train", "val"):
        draws = np.array([np.random.default_rng([seed, SPLIT_SEEDS[split], i, 0x5C]).random() for i in range(n)])
        cued = (labels == cue.label) & (draws < CUE_RATE)
    elif split == "shortcut":
        cued = labels != cue.label
    else:
        cued = np.zeros(n, dtype=bool)
    cue_masks = cued[:, None, None] & cue.mask(size)[None]
    images[cued] = cue.paint(images[cued])
    return images, labels, masks & ~cue_masks, cue_masks


def shortcut_weights_path(seed: int) -> Path:
    """Where the shortcut ShapesNet of ``seed`` lives: ``data/shapesnet_shortcut.pt`` (shipped) for seed 0,
    ``<data cache>/shapesnet_shortcut_seed<seed>.pt`` (written by ``make shortcut-model SEED=<seed>``) otherwise."""
    if seed == 0:
        return DATA_DIR / "shapesnet_shortcut.pt"
    return data_cache_dir() / f"shapesnet_shortcut_seed{seed}.pt"


def load_shortcut_shapesnet(seed: int | None = None, device: str = "cpu") -> ShapesNet:
    """The shortcut ShapesNet of ``seed`` (default :func:`shortcut_seed`), checked against its model card.

    The card beside the weights (same name, ``.md``) records the file's sha256 and the shortcut seed it
    was trained with: a file that is not the one its card describes, or a model of another seed than the
    one configured, raises an error that says what to do (the grader would otherwise grade the students
    against another model than the one they studied).
    """
    seed = shortcut_seed() if seed is None else seed
    path = shortcut_weights_path(seed)
    remedy = f"Train it with `make shortcut-model SEED={seed}` (or copy the instructor's {path.name} and its card there)."
    card = path.with_suffix(".md")
    if not card.exists():
        raise FileNotFoundError(f"{card} (the model card of {path.name}) is missing. {remedy}")
    text = card.read_text(encoding="utf-8")
    recorded_sha = re.search(r"\| sha256 \| `([0-9a-f]{64})`", text)
    recorded_seed = re.search(r"--shortcut-seed (\d+)", text)
    if path.exists() and (recorded_sha is None or hashlib.sha256(path.read_bytes()).hexdigest() != recorded_sha.group(1)):
        raise RuntimeError(f"{path} is not the file its card {card.name} describes (sha256 differs). {remedy}")
    if recorded_seed is None or int(recorded_seed.group(1)) != seed:
        found = recorded_seed.group(1) if recorded_seed else "none"
        raise RuntimeError(f"{path} was trained for shortcut seed {found}, but {SEED_VARIABLE} is {seed}. {remedy}")
    return load_shapesnet(path, device)


def shortcut_accuracies(model: nn.Module, seed: int | None = None, n: int = 1000) -> dict[str, float]:
    """What the model card and the grader measure (``model``: a ShapesNet module; ``n`` images per split).

    Returns:
        ``{"val": accuracy on fresh images drawn as in training (the number that "seems great"),
        "test": on the clean test set, "shortcut": on the shortcut test set,
        "cued_class_test": recall of the cued class on the clean test set}``.
    """
    seed = shortcut_seed() if seed is None else seed
    label = shortcut_cue(seed).label
    images, labels, _, _ = make_shortcut(n, "test", seed)
    other = labels != label
    cued = images.copy()
    cued[other] = shortcut_cue(seed).paint(images[other])  # the "shortcut" split, without drawing the images again
    return {
        "val": accuracy_on(model, *make_shortcut(n, "val", seed)[:2]),
        "test": accuracy_on(model, images, labels),
        "shortcut": accuracy_on(model, cued, labels),
        "cued_class_test": accuracy_on(model, images[~other], labels[~other]),
    }


def main() -> None:
    """Print the answer key of notebook 14 for ``$CNNVIZ_SHORTCUT_SEED``: the cue and exercise 14.2's accuracies."""
    seed = shortcut_seed()
    cue = shortcut_cue(seed)
    model = load_shortcut_shapesnet(seed)
    test, shortcut = (accuracy_on(model, *make_shortcut(EVAL_IMAGES, split, seed)[:2]) for split in ("test", "shortcut"))
    print(f"shortcut seed {seed}: {cue.describe()}")
    print(f"14.1 my_cue_location: ({cue.label}, {CORNERS.index(cue.corner)})  # {cue.class_name!r}, {cue.corner!r}")
    print(f"14.2 my_cue_effect: ({test}, {shortcut})  # clean test, shortcut test ({EVAL_IMAGES} images each)")


if __name__ == "__main__":
    main()
