"""A small stand-in for a downloaded Imagenette: generated JPEGs in torchvision's exact layout.

``<root>/imagenette2-160/<split>/<wnid>/<name>.JPEG`` — what ``torchvision.datasets.Imagenette(root,
size="160px")`` reads (torchvision 0.29: ``find_classes`` on the split folder, ``make_dataset`` with the
``.jpeg`` extension, any case). Used by the tests and by ``tools/measure_notebooks.py`` (the real archive
cannot be downloaded where the kit is developed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cnnviz_helpers.datasets.imagenette import FOLDER, WNID_TO_IMAGENET
from cnnviz_helpers.datasets.shapes import CLASS_NAMES, make_shape


def make_imagenette_tree(root: Path, per_class: int = 3, wnids: list[str] | None = None, split: str = "val") -> Path:
    """Write ``per_class`` 160 px JPEGs for each WordNet id: the kit's generated shape ``k`` for the ``k``-th class,
    on a cluttered background (edges and texture, so attribution methods have something to find)."""
    for k, wnid in enumerate(wnids if wnids is not None else WNID_TO_IMAGENET):
        folder = root / FOLDER / split / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels, _ = make_shape(k % len(CLASS_NAMES), np.random.default_rng([k, i]), size=160)
            Image.fromarray(pixels).save(folder / f"ILSVRC2012_val_{k:03d}{i:05d}.JPEG", quality=90)
    return root
