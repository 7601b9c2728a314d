"""The example images a model comes with (``km.examples``), picked the first time they are asked for.

- ShapesNet: one generated shape per class, with its ground-truth object mask (:func:`shapes_examples`).
- An ImageNet model: one Imagenette photo per class, the most confidently classified of a few candidates
  (:func:`imagenette_examples`, when Imagenette is downloaded), followed by the kit's own photos with
  their classes (:func:`photo_examples`).

``load_model`` picks nothing: running the network on 40 Imagenette photos waits until a notebook
first reads ``km.examples``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..core.images import load_image
from ..datasets.image_sets import load_imagenette
from ..datasets.imagenette import ImagenetteUnavailable
from ..datasets.shapes import CLASS_NAMES as SHAPE_CLASSES
from ..datasets.shapes import make_shapes


@dataclass
class Example:
    """A picture the notebooks use, with its class and (for generated images) the object mask."""

    name: str
    image: Image.Image
    label: int
    mask: np.ndarray | None = None


def shapes_examples(n_per_class: int = 1, seed: int = 100) -> list[Example]:
    """``n_per_class`` generated shapes of every ShapesNet class, each with its object mask."""
    labels = np.repeat(np.arange(len(SHAPE_CLASSES)), n_per_class)
    images, labels, masks = make_shapes(len(labels), seed=seed, labels=labels)
    return [
        Example(f"{SHAPE_CLASSES[y]} #{i}", Image.fromarray(x), int(y), m)
        for i, (x, y, m) in enumerate(zip(images, labels, masks))
    ]


def photo_examples(photos: Sequence[tuple[str, str]], class_names: Sequence[str]) -> list[Example]:
    """The kit's sample photos ``(sample name, class name)`` as examples labelled with their class index."""
    return [Example(name, load_image(name), list(class_names).index(cls)) for name, cls in photos]


@torch.inference_mode()
def imagenette_examples(
    classify: Callable[[list[Image.Image]], torch.Tensor], class_names: Sequence[str], size: int, candidates: int = 4
) -> list[Example]:
    """One Imagenette photo per class, chosen by the model.

    Of ``candidates`` photos of each class, the one with the highest probability of its class among those
    the model classifies correctly (else among all). Sorted with the correctly classified first, most
    confident first, so the methods start from clear-cut photos. Empty without Imagenette.

    Args:
        classify: PIL images → class probabilities ``[N, classes]`` (the model in eval mode).
        class_names: the model's class names.
        size: side of the square crops (the model's input size).
        candidates: photos tried per class.
    """
    try:
        data = load_imagenette(class_names, n=candidates * 10, size=size)
    except ImagenetteUnavailable:
        return []
    probs = classify(data.images).cpu()
    picked = []
    for label, cls in enumerate(data.class_indices or []):
        if cls is None:  # a label that is no class of the model
            continue
        rows = np.flatnonzero(data.labels == label)
        right = [int(i) for i in rows if int(probs[i].argmax()) == cls]
        i = max(right or rows.tolist(), key=lambda r: float(probs[r, cls]))
        picked.append((bool(right), float(probs[i, cls]), i, int(cls)))
    picked.sort(key=lambda p: (p[0], p[1]), reverse=True)
    return [Example(f"{class_names[cls]} (Imagenette)", data.images[i], cls) for _, _, i, cls in picked]
