"""Labelled image sets, whatever the model: an :class:`ImageSet` and the loaders that make one.

- :func:`load_imagenette`: Imagenette's photos (10 ImageNet classes, :mod:`.imagenette`) labelled with
  their true class;
- :func:`shapes_set`: the kit's generated shapes with their true class;
- :func:`photo_views`: random views of the kit's photos, labelled by photo;
- :func:`load_image_folder`: a folder of your own images, labelled by sub-folder.

The set suited to a loaded model (:func:`~cnnviz_helpers.models.image_sets.image_set`,
:func:`~cnnviz_helpers.models.image_sets.class_set`) is chosen in the models layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.images import IMAGE_SUFFIXES, load_image, sample_names
from .imagenette import ImagenetteUnavailable, imagenette_samples
from .shapes import make_shapes


@dataclass
class ImageSet:
    """Images with a label each: ``images[i]`` (PIL, RGB) has label ``labels[i]``, called ``label_names[labels[i]]``.

    Attributes:
        images, labels, label_names: the pictures, one label per picture and the label names.
        class_indices: for each label name, the model's class index (``None`` when the label is not one of
            the model's classes, e.g. "which photo" or a folder of your own); ``None``: no label is a class.
        source: one line saying where the images come from.
    """

    images: list[Image.Image]
    labels: np.ndarray
    label_names: list[str]
    class_indices: list[int | None] | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def __add__(self, other: ImageSet) -> ImageSet:
        names = list(dict.fromkeys(self.label_names + other.label_names))
        relabel = [names.index(self.label_names[i]) for i in self.labels] + [
            names.index(other.label_names[i]) for i in other.labels
        ]
        known = dict(zip(other.label_names, other.class_indices or [None] * len(other.label_names)))
        known.update(zip(self.label_names, self.class_indices or [None] * len(self.label_names)))
        classes = [known[n] for n in names]
        return ImageSet(
            self.images + other.images,
            np.asarray(relabel, dtype=np.int64),
            names,
            classes if any(c is not None for c in classes) else None,
            " + ".join(s for s in (self.source, other.source) if s),
        )

    @property
    def targets(self) -> np.ndarray:
        """The model's class index of every image (``int64 [N]``), for accuracy tables and attacks.

        Raises:
            ValueError: some labels are not classes of the model (photo views, your own folders).
        """
        classes = self.class_indices or [None] * len(self.label_names)
        missing = sorted({self.label_names[i] for i in self.labels if classes[i] is None})
        if missing:
            raise ValueError(f"these labels are not classes of the model: {', '.join(missing[:5])}; use .labels instead")
        return np.asarray([classes[i] for i in self.labels], dtype=np.int64)

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageSet:
        """The images at ``indices`` (same label names and classes)."""
        idx = [int(i) for i in indices]
        return ImageSet([self.images[i] for i in idx], self.labels[idx], self.label_names, self.class_indices, self.source)

    def per_class(self, k: int = 1) -> ImageSet:
        """The first ``k`` images of every label, labels in order (e.g. one example per class)."""
        order = [i for lab in range(len(self.label_names)) for i in np.flatnonzero(self.labels == lab)[:k]]
        return self.subset(order)


def load_image_folder(folder: str | Path, size: int | None = None, limit: int | None = None) -> ImageSet:
    """All images under ``folder`` (recursively), labelled by the sub-folder they are in.

    ``folder/cats/a.jpg`` gets the label ``"cats"`` (the layout of ``torchvision.datasets.ImageFolder``);
    images directly in ``folder`` get ``folder``'s own name. Any PIL mode is converted to RGB.

    Args:
        folder: a directory of images (``.jpg``, ``.png``, ``.bmp``, ``.gif``, ``.tif``, ``.webp``).
        size: resize (shorter side) and centre-crop every image to ``size`` (recommended: ``km.input_size``).
        limit: read at most this many images (in sorted path order).

    Raises:
        FileNotFoundError: the folder does not exist or holds no image.

    Example:
        >>> mine = load_image_folder("~/Pictures/holiday", size=km.input_size)
        >>> data = image_set(km) + mine
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:limit]
    if not paths:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    names = [p.parent.name if p.parent != root else root.name for p in paths]
    label_names = list(dict.fromkeys(names))
    labels = np.asarray([label_names.index(n) for n in names])
    return ImageSet([load_image(p, size) for p in paths], labels, label_names, source=f"{len(paths)} images from {root}")


def shapes_set(class_names: Sequence[str], n: int, seed: int = 0) -> ImageSet:
    """``n`` generated ShapesNet images (classes cycling), labelled with their true class."""
    images, labels, _ = make_shapes(n, seed=seed)
    return ImageSet(
        [Image.fromarray(a) for a in images],
        labels,
        list(class_names),
        list(range(len(class_names))),
        f"{n} generated ShapesNet images (seed {seed}), {len(class_names)} classes",
    )


def photo_views(size: int, views: int = 6, seed: int = 0) -> ImageSet:
    """The kit's photos, each as ``views`` random crops / flips labelled by the photo (not by a class)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    names = sample_names()
    for label, name in enumerate(names):
        photo = load_image(name)
        for _ in range(views):
            w, h = photo.size
            side = int(min(w, h) * rng.uniform(0.45, 1.0))
            left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            view = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
            images.append(view.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else view)
            labels.append(label)
    return ImageSet(images, np.asarray(labels), names, None, f"{len(names)} kit photos x {views} views (label = photo)")


def load_imagenette(class_names: Sequence[str], n: int, size: int, seed: int = 0, split: str = "val") -> ImageSet:
    """``n`` Imagenette photos (classes balanced and interleaved, drawn with ``seed``), labelled with their ImageNet class.

    Args:
        class_names: the model's class names (``km.class_names``); labels index Imagenette's 10 classes,
            ``class_indices`` gives each one's index among ``class_names``.
        n: number of photos (at most the split's size).
        size: side of the square crops (``km.input_size``).

    Raises:
        ImagenetteUnavailable: missing or partial download (one line), also when a photo does not decode.
    """
    samples = imagenette_samples(split)
    classes = sorted({c for _, c in samples})
    rng = np.random.default_rng(seed)
    per_class = [[p for p, c in samples if c == k] for k in classes]
    per_class = [[files[j] for j in rng.permutation(len(files))] for files in per_class]
    order = [(lab, files[i]) for i in range(max(map(len, per_class))) for lab, files in enumerate(per_class) if i < len(files)]
    chosen = order[:n]
    try:
        images = [load_image(p, size) for _, p in chosen]
    except (OSError, ValueError) as err:  # load_image names an undecodable file in a ValueError
        raise ImagenetteUnavailable(
            f"an Imagenette photo does not decode ({str(err).split(';')[0]}); the download is damaged, run `make download` again"
        ) from None
    return ImageSet(
        images,
        np.asarray([lab for lab, _ in chosen], dtype=np.int64),
        [class_names[k] for k in classes],
        list[int | None](classes),
        f"{len(chosen)} Imagenette {split} photos, {len(classes)} ImageNet classes",
    )
