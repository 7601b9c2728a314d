"""Imagenette: real labelled photos of 10 ImageNet classes, through ``torchvision.datasets.Imagenette``.

Imagenette (J. Howard, fast.ai) is a subset of ImageNet: 10 easy-to-tell classes, 3,925 validation photos.
The kit uses torchvision's own loader, the 160 px variant (≈ 94 MB): downloaded once with a progress bar,
MD5-checked by torchvision, into the kit's data cache (``$CNNVIZ_DATA/imagenette``, default
``~/.cache/cnnviz/imagenette``) by ``make download`` or :func:`download_imagenette`. Nothing downloads
it behind the user's back: the notebooks only read it.

Layout (torchvision's)::

    <root>/imagenette2-160/val/n01440764/ILSVRC2012_val_00009111.JPEG …   (one folder per WordNet id)

Example:
    >>> samples = imagenette_samples()        # [(path, ImageNet class index), ...] or ImagenetteUnavailable
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.config import data_cache_dir
from .shapes import CLASS_NAMES, make_shape

SIZE = "160px"
FOLDER = "imagenette2-160"  # torchvision's folder for the 160 px archive
#: Imagenette's WordNet ids → the class index of torchvision's ImageNet models (ILSVRC-2012 order).
WNID_TO_IMAGENET = {
    "n01440764": 0,  # tench
    "n02102040": 217,  # English springer
    "n02979186": 482,  # cassette player
    "n03000684": 491,  # chain saw
    "n03028079": 497,  # church
    "n03394916": 566,  # French horn
    "n03417042": 569,  # garbage truck
    "n03425413": 571,  # gas pump
    "n03445777": 574,  # golf ball
    "n03888257": 701,  # parachute
}


class ImagenetteUnavailable(RuntimeError):
    """Imagenette is missing or incomplete; the message is one line saying what to do."""


def imagenette_root() -> Path:
    """Where Imagenette lives: ``<kit data cache>/imagenette`` (see :func:`~cnnviz_helpers.core.config.data_cache_dir`)."""
    return data_cache_dir() / "imagenette"


def _unfinished_marker(root: Path) -> Path:
    """Present while :func:`download_imagenette` downloads and extracts: an interrupted run leaves it behind."""
    return root / f"{FOLDER}.unfinished"


def imagenette_samples(split: str = "val", root: str | Path | None = None) -> list[tuple[Path, int]]:
    """Every photo of ``split`` as ``(path, ImageNet class index)``, in torchvision's order (by class, then file).

    Raises:
        ImagenetteUnavailable: not downloaded, a download was interrupted, or classes are missing — with
            one line saying what to do (never a traceback from inside torchvision).
    """
    from torchvision.datasets import Imagenette

    root = Path(root) if root is not None else imagenette_root()
    todo = "run `make download` (or `python -m cnnviz_helpers.training.download --imagenette`)"
    if _unfinished_marker(root).exists():
        raise ImagenetteUnavailable(f"the Imagenette download in {root} did not finish; {todo} again")
    try:
        ds = Imagenette(root, split=split, size=SIZE, download=False, loader=str)  # loader=str: paths, no decoding
        samples = [(Path(path), WNID_TO_IMAGENET[ds.wnids[c]]) for path, c in (ds[i] for i in range(len(ds)))]
    except (RuntimeError, OSError, KeyError) as err:
        missing = not (root / FOLDER).exists()
        what = "is not in" if missing else f"in {root} is incomplete ({type(err).__name__}); it is expected in"
        raise ImagenetteUnavailable(f"Imagenette {what} {root / FOLDER / split}; {todo}") from None
    found = {c for _, c in samples}
    if len(found) < len(WNID_TO_IMAGENET):
        raise ImagenetteUnavailable(
            f"Imagenette in {root / FOLDER / split} is incomplete ({len(found)} of {len(WNID_TO_IMAGENET)} classes); {todo} again"
        )
    return samples


def download_imagenette(root: str | Path | None = None) -> Path:
    """Download and extract Imagenette (160 px, both splits) with torchvision — progress bar, MD5 check.

    Does nothing when a complete copy is there; removes the leftovers of an interrupted download first
    (torchvision would take a partial folder for a finished one). Returns the dataset folder.
    """
    from torchvision.datasets import Imagenette

    root = Path(root) if root is not None else imagenette_root()
    try:
        imagenette_samples("val", root)
        return root / FOLDER
    except ImagenetteUnavailable:
        pass
    root.mkdir(parents=True, exist_ok=True)
    marker = _unfinished_marker(root)
    marker.touch()
    shutil.rmtree(root / FOLDER, ignore_errors=True)
    Imagenette(root, split="val", size=SIZE, download=True)
    marker.unlink()
    imagenette_samples("val", root)  # raises when what arrived is not what the kit reads
    return root / FOLDER


def make_imagenette_tree(root: Path, per_class: int = 3, wnids: list[str] | None = None, split: str = "val") -> Path:
    """A small stand-in for a downloaded Imagenette, in torchvision's exact layout (for tests and hub sizing).

    Writes ``per_class`` 160 px JPEGs for each WordNet id under ``<root>/imagenette2-160/<split>/<wnid>/``
    (what ``torchvision.datasets.Imagenette(root, size="160px")`` reads): the kit's generated shape ``k``
    for the ``k``-th class, on a cluttered background (edges and texture, so attribution methods have
    something to find). ``tools/measure_notebooks.py --fake-downloads`` and the tests use it where the
    real archive cannot be downloaded.
    """
    for k, wnid in enumerate(wnids if wnids is not None else WNID_TO_IMAGENET):
        folder = root / FOLDER / split / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels, _ = make_shape(k % len(CLASS_NAMES), np.random.default_rng([k, i]), size=160)
            Image.fromarray(pixels).save(folder / f"ILSVRC2012_val_{k:03d}{i:05d}.JPEG", quality=90)
    return root
