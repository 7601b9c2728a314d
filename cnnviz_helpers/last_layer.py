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
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from .core.images import load_image
from .core.layers import capture
from .datasets.image_sets import ImageSet, load_image_folder  # noqa: F401  (the section's data, re-exported)
from .models.image_sets import image_set  # noqa: F401  (the section's data, re-exported)
from .models.targets import ModelLike, model_device, unwrap


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
    f = features.detach().flatten(1)
    q = torch.arange(len(f)) if queries is None else torch.as_tensor(queries, dtype=torch.long)
    if not 0 < k < len(f):
        raise ValueError(f"k must be in 1..{len(f) - 1} (there are {len(f)} items), got {k}")
    # squared distances |a|² + |b|² - 2 a·b from the Gram matrix, accumulated in float64 over 4096 dimensions
    # at a time: no [N, D] copy (600 photos' pixels are 0.7 GB in float64; torch.cdist would make four more),
    # and exact for integer features
    gram = torch.zeros(len(f), len(f), dtype=torch.float64, device=f.device)
    for block in f.split(4096, dim=1):
        gram.addmm_(block.double(), block.double().T)
    norms = gram.diagonal()
    d = (norms[q, None] + norms - 2 * gram[q]).clamp_min_(0)
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

    f = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    f = f.reshape(len(f), -1)
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    # One thread: with PyTorch's OpenMP threads already spinning, scikit-learn's compete with them
    # and t-SNE of a few hundred points takes seconds instead of a fraction of one.
    with threadpool_limits(1):
        if method == "pca":
            return PCA(n_components=2, random_state=seed).fit_transform(f.astype(np.float64))
        if f.shape[1] > 50 and len(f) > 50:  # in the input's precision: raw pixels in float64 would double the memory
            f = PCA(n_components=50, random_state=seed).fit_transform(f)
        f = f.astype(np.float64)
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
