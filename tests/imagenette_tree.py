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


def make_imagenette_tree(root: Path, per_class: int = 3, wnids: list[str] | None = None, split: str = "val") -> Path:
    """Write ``per_class`` JPEGs (160 px tall, 160–240 px wide, one colour per class plus noise) for each WordNet id."""
    rng = np.random.default_rng(0)
    for k, wnid in enumerate(wnids if wnids is not None else WNID_TO_IMAGENET):
        folder = root / FOLDER / split / wnid
        folder.mkdir(parents=True, exist_ok=True)
        colour = np.array([(37 * k) % 256, (91 * k) % 256, (53 * k + 80) % 256], dtype=np.float64)
        for i in range(per_class):
            w = int(rng.integers(160, 241))
            pixels = np.clip(colour + rng.normal(0, 25, (160, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"ILSVRC2012_val_{k:03d}{i:05d}.JPEG", quality=85)
    return root
