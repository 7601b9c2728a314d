"""The last layer: the feature vector a CNN computes just before its classifier.

Krizhevsky et al. (2012) showed that images whose penultimate-layer (fc7) features are close are
semantically alike even when their pixels are not: nearest neighbours in *feature* space find
the same class, nearest neighbours in *pixel* space find the same colours and layout. Projecting
the features to 2-D — PCA (linear) or t-SNE (van der Maaten & Hinton 2008) — shows the classes as
clusters, and snapping the images themselves onto a grid (Karpathy's "CNN codes" page) shows
what the network considers similar.

Example:
    >>> data = image_set(km, n=200)
    >>> x = km.preprocess(data.images)
    >>> feats = extract_features(km.model, x, km.spec.penultimate)
    >>> nn_feat, nn_pix = nearest_neighbors(feats, k=5), nearest_neighbors(x.flatten(1), k=5)
    >>> retrieval_precision(nn_feat, data.labels), retrieval_precision(nn_pix, data.labels)
    >>> coords = embed_2d(feats, "tsne")
    >>> plt.imshow(embedding_grid(data.images, coords))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .core.compat import moved_names
from .core.images import IMAGE_SUFFIXES, load_image, sample_names
from .core.layers import capture
from .core.models import KitModel
from .core.targets import ModelLike, model_device, unwrap
from .datasets.shapes import make_shapes


@dataclass
class ImageSet:
    """Images with a label each: ``images[i]`` (PIL, RGB) has label ``labels[i]``, called ``label_names[labels[i]]``."""

    images: list[Image.Image]
    labels: np.ndarray
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def __add__(self, other: ImageSet) -> ImageSet:
        names = list(dict.fromkeys(self.label_names + other.label_names))
        relabel = [names.index(self.label_names[i]) for i in self.labels] + [
            names.index(other.label_names[i]) for i in other.labels
        ]
        return ImageSet(self.images + other.images, np.asarray(relabel, dtype=np.int64), names)


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
    return ImageSet([load_image(p, size) for p in paths], np.asarray([label_names.index(n) for n in names]), label_names)


def image_set(km: KitModel, n: int = 200, folder: str | Path | None = None, views: int = 6, seed: int = 0) -> ImageSet:
    """A labelled set of images for the last-layer experiments, suited to the loaded model.

    - Offline ShapesNet: ``n`` generated shapes (:func:`cnnviz_helpers.shapes.make_shapes`,
      classes cycling), labelled with their true class.
    - ImageNet model: the kit's photos (``data/images``), each as ``views`` random crops / flips
      labelled by the photo, so "same label" means "same photo, different view" — plus every image
      in ``folder`` (labelled by sub-folder, see :func:`load_image_folder`).

    Example:
        >>> data = image_set(km, n=300)
        >>> len(data), data.label_names[:3]
    """
    if km.offline:
        images, labels, _ = make_shapes(n, seed=seed)
        data = ImageSet([Image.fromarray(a) for a in images], labels, list(km.class_names))
    else:
        rng = np.random.default_rng(seed)
        views_, labels_ = [], []
        names = sample_names()
        for label, name in enumerate(names):
            photo = load_image(name)
            for _ in range(views):
                w, h = photo.size
                side = int(min(w, h) * rng.uniform(0.45, 1.0))
                left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
                view = photo.crop((left, top, left + side, top + side)).resize((km.input_size,) * 2, Image.Resampling.BICUBIC)
                views_.append(view.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else view)
                labels_.append(label)
        data = ImageSet(views_, np.asarray(labels_), names)
    return data + load_image_folder(folder, km.input_size) if folder is not None else data


@torch.inference_mode()
def extract_features(
    model: ModelLike, data: torch.Tensor | Iterable[torch.Tensor], layer: str, batch_size: int = 64, progress: bool = True
) -> torch.Tensor:
    """One feature vector per image from ``layer`` (e.g. ``km.spec.penultimate``), ``[N, D]`` on the CPU.

    A 4-D output (a conv layer, as SqueezeNet's last one) is averaged over its spatial positions,
    as the network's own global pooling does. The forward pass stops at ``layer``.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or an ``nn.Module`` (left unchanged).
        data: preprocessed images ``[N, 3, H, W]`` (split into ``batch_size`` batches) or an
            iterable of such batches.
        layer: layer name.
        progress: show a progress bar.

    Example:
        >>> feats = extract_features(km.model, km.preprocess(data.images), km.spec.penultimate)
    """
    model = unwrap(model)[0]
    batches = data.split(batch_size) if isinstance(data, torch.Tensor) else data
    feats = []
    with capture(model, layer, detach=True) as acts:
        for x in tqdm(batches, desc=f"features {layer}", disable=not progress, leave=False):
            acts.run(x.to(model_device(model)))
            out = acts[layer]
            feats.append((out.mean((-2, -1)) if out.ndim == 4 else out.flatten(1)).float().cpu())
    if not feats:
        raise ValueError("data is empty: pass at least one image")
    return torch.cat(feats)


def nearest_neighbors(features: torch.Tensor, k: int = 5, queries: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """Indices ``[Q, k]`` of each query's ``k`` nearest other items (Euclidean distance), nearest first.

    Works in any space: CNN features ``[N, D]`` or raw pixels (``x.flatten(1)``). A query is
    never its own neighbour; equal distances keep the lower index first.

    Args:
        features: ``[N, D]`` one vector per item.
        k: neighbours per query (at most ``N - 1``).
        queries: indices of the query items (default: every item).

    Example:
        >>> nearest_neighbors(torch.tensor([[0.0], [1.0], [3.0]]), k=1)
        tensor([[1], [0], [1]])
    """
    f = features.detach().double().flatten(1)
    q = torch.arange(len(f)) if queries is None else torch.as_tensor(queries, dtype=torch.long)
    if not 0 < k < len(f):
        raise ValueError(f"k must be in 1..{len(f) - 1} (there are {len(f)} items), got {k}")
    d = torch.cdist(f[q], f)
    d[torch.arange(len(q)), q] = float("inf")
    return d.sort(dim=1, stable=True).indices[:, :k]


def retrieval_precision(
    neighbors: torch.Tensor, labels: Sequence[int] | np.ndarray | torch.Tensor, queries: Sequence[int] | None = None
) -> float:
    """Fraction of the retrieved neighbours that share their query's label (precision at ``k``).

    Args:
        neighbors: ``[Q, k]`` from :func:`nearest_neighbors`.
        labels: ``[N]`` label of every item.
        queries: the query indices used for ``neighbors`` (default: ``0 .. Q-1``).

    Example:
        >>> retrieval_precision(torch.tensor([[1], [0], [1]]), [0, 0, 1])
        0.6666666666666666
    """
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    q = torch.arange(len(neighbors)) if queries is None else torch.as_tensor(queries, dtype=torch.long)
    return float((lab[neighbors] == lab[q][:, None]).double().mean())


def embed_2d(
    features: torch.Tensor | np.ndarray,
    method: Literal["pca", "tsne"] = "tsne",
    seed: int = 0,
    perplexity: float = 30.0,
    max_iter: int = 1000,
) -> np.ndarray:
    """Project features ``[N, D]`` to 2-D points ``[N, 2]`` with scikit-learn's PCA or t-SNE.

    PCA keeps the two directions of largest variance (a linear map). t-SNE (van der Maaten &
    Hinton 2008) places points so that neighbours in the high-dimensional space stay neighbours:
    it keeps clusters, not distances between clusters. As usual, features with more than 50
    dimensions are first reduced to 50 by PCA; ``perplexity`` is capped below ``N / 3``;
    ``max_iter`` bounds the t-SNE optimisation; it is raised to at least 500, because the first
    250 iterations are the "early exaggeration" phase, which alone leaves a poor layout.

    Example:
        >>> coords = embed_2d(feats, "pca")
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    f = features.detach().double().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, dtype=np.float64)
    f = f.reshape(len(f), -1)
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    # One thread: with PyTorch's OpenMP threads already spinning, scikit-learn's compete with them
    # and t-SNE of a few hundred points takes seconds instead of a fraction of one.
    with threadpool_limits(1):
        if method == "pca":
            return PCA(n_components=2, random_state=seed).fit_transform(f)
        if f.shape[1] > 50 and len(f) > 50:
            f = PCA(n_components=50, random_state=seed).fit_transform(f)
        perplexity = min(perplexity, max(1.0, (len(f) - 1) / 3))
        return TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=max(500, max_iter)
        ).fit_transform(f)


def grid_cells(coords: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Snap 2-D points to a ``rows x cols`` grid: each point, in order, takes the nearest free cell.

    Coordinates are first scaled to the unit square (``y`` up, so row 0 is the top). Returns the
    cell index ``row * cols + col`` of every point (all different). Needs ``rows * cols >= N``.

    Example:
        >>> grid_cells(np.array([[0.0, 0.0], [1.0, 1.0]]), 2, 2)
        array([2, 1])
    """
    c = np.asarray(coords, dtype=np.float64)
    if rows * cols < len(c):
        raise ValueError(f"a {rows}x{cols} grid has {rows * cols} cells for {len(c)} images")
    lo, hi = c.min(0), c.max(0)
    u = (c - lo) / np.where(hi > lo, hi - lo, 1.0)
    r, q = np.divmod(np.arange(rows * cols), cols)
    centres = np.stack([(q + 0.5) / cols, 1 - (r + 0.5) / rows], 1)
    free = np.ones(rows * cols, dtype=bool)
    cells = np.empty(len(c), dtype=np.int64)
    for i, p in enumerate(u):
        d = ((centres - p) ** 2).sum(1)
        d[~free] = np.inf
        cells[i] = int(np.argmin(d))
        free[cells[i]] = False
    return cells


def embedding_grid(images: Sequence[Any], coords: np.ndarray, cols: int | None = None, tile: int = 32) -> np.ndarray:
    """Karpathy's t-SNE image grid: every image drawn in the grid cell nearest its 2-D point.

    Args:
        images: PIL images / arrays (anything :func:`cnnviz_helpers.load_image` reads).
        coords: ``[N, 2]`` points from :func:`embed_2d`.
        cols: grid width in cells (default ``ceil(sqrt(N))``, square grid); rows follow.
        tile: side of each image in pixels.

    Returns:
        ``H x W x 3`` float array in [0, 1] (free cells are white).

    Example:
        >>> plt.imshow(embedding_grid(data.images, embed_2d(feats, "tsne"), tile=24))
    """
    cols = cols or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    canvas = np.ones((rows * tile, cols * tile, 3))
    for img, cell in zip(images, grid_cells(coords, rows, cols)):
        r, c = divmod(int(cell), cols)
        canvas[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = (
            np.asarray(load_image(img, (tile, tile)), dtype=np.float64) / 255
        )
    return canvas


__getattr__ = moved_names(
    __name__, {"plot_embedding": "cnnviz_helpers.ui.sections", "knn_widget": "cnnviz_helpers.ui.sections"}
)  # the section widget lives in the UI package now
