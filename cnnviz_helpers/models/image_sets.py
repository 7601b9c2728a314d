"""Labelled image sets suited to a loaded model, for the data-driven experiments (kNN, t-SNE, maximally
activating patches, accuracy tables).

One API whatever the model: :func:`image_set` gives an :class:`~cnnviz_helpers.datasets.image_sets.ImageSet`
suited to the loaded model —

- an ImageNet model: Imagenette's validation photos (10 ImageNet classes) labelled with their true
  ImageNet class; when Imagenette has not been downloaded, one line says so and the kit's own photos
  stand in (random views of each, labelled by photo);
- the offline ShapesNet: the kit's generated shapes with their true class.

:func:`class_set` gives images labelled with the model's own classes (accuracy tables, attacks).

Example:
    >>> data = image_set(km, n=500)
    >>> print(data.source)
    >>> data.targets[:5]        # the model's class index of each image (e.g. 0 = tench, 217 = English springer)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.images import load_image
from ..datasets.image_sets import ImageSet, load_image_folder, load_imagenette, photo_views, shapes_set
from ..datasets.imagenette import ImagenetteUnavailable
from .loading import KitModel


def image_set(km: KitModel, n: int = 200, folder: str | Path | None = None, views: int = 6, seed: int = 0) -> ImageSet:
    """A labelled set of images for the data-driven experiments, suited to the loaded model.

    - ImageNet model: ``n`` Imagenette validation photos, classes balanced, labelled with their ImageNet
      class (:func:`~cnnviz_helpers.datasets.image_sets.load_imagenette`). Without Imagenette (not
      downloaded, partial download) one line says so and the kit's photos stand in: each as ``views``
      random crops / flips labelled by the photo, so "same label" means "same photo, different view".
    - Offline ShapesNet: ``n`` generated shapes (classes cycling), labelled with their true class.

    Plus every image in ``folder`` (labelled by sub-folder, see :func:`load_image_folder`).

    Example:
        >>> data = image_set(km, n=300)
        >>> len(data), data.label_names[:3], data.source
    """
    if km.offline:
        data = shapes_set(km.class_names, n, seed)
    else:
        try:
            data = load_imagenette(km.class_names, n, km.input_size, seed=seed)
        except ImagenetteUnavailable as why:
            print(f"cnnviz: {why} → using views of the kit's photos instead (labels = photos, not ImageNet classes).")
            data = photo_views(km.input_size, views, seed)
    return data + load_image_folder(folder, km.input_size) if folder is not None else data


def class_set(km: KitModel, n: int = 100, seed: int = 0) -> ImageSet:
    """``n`` images labelled with the model's own classes (``.targets``), for accuracy tables and attacks.

    Imagenette photos for an ImageNet model, generated shapes for ShapesNet; without Imagenette one line
    says so and the model's few example photos (``km.examples``) stand in.
    """
    if km.offline:
        return shapes_set(km.class_names, n, seed)
    try:
        return load_imagenette(km.class_names, n, km.input_size, seed=seed)
    except ImagenetteUnavailable as why:
        print(f"cnnviz: {why} → using the model's {len(km.examples)} example photos instead.")
    names = list(dict.fromkeys(km.class_names[e.label] for e in km.examples))
    return ImageSet(
        [load_image(e.image, km.input_size) for e in km.examples],
        np.asarray([names.index(km.class_names[e.label]) for e in km.examples], dtype=np.int64),
        names,
        [km.class_names.index(name) for name in names],
        f"{len(km.examples)} example photos of {km.name}",
    )
