"""Plots shared by every notebook: image grids, heatmap overlays, tensor → picture conversion.

Example:
    >>> show_images([img, heat], titles=["input", "saliency"], cmap=[None, "hot"])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def to_numpy_image(x: Any) -> np.ndarray:
    """PIL image, ``HxW``/``HxWxC`` array or ``CxHxW`` / ``1xCxHxW`` tensor → numpy array for ``imshow``."""
    if isinstance(x, torch.Tensor):
        t = x.detach().float().cpu()
        if t.ndim == 4:
            t = t[0]
        if t.ndim == 3 and t.shape[0] in (1, 3):
            t = t.permute(1, 2, 0)
        a = t.numpy()
        return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a
    return np.asarray(x)


def normalize(a: np.ndarray | torch.Tensor, eps: float = 1e-12) -> np.ndarray:
    """Min–max stretch to [0, 1] (a constant array becomes zeros)."""
    a = to_numpy_image(a).astype(np.float64)
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi - lo > eps else np.zeros_like(a)


def image_grid(images: np.ndarray | torch.Tensor, ncols: int | None = None, pad: int = 1, per_image_norm: bool = True) -> np.ndarray:
    """Tile ``[N, H, W]`` or ``[N, H, W, C]`` (or ``[N, C, H, W]`` tensor) into one array, each tile min–max normalised.

    Used for first-layer filters and activation maps.
    """
    if isinstance(images, torch.Tensor):
        t = images.detach().float().cpu()
        images = t.permute(0, 2, 3, 1).numpy() if t.ndim == 4 else t.numpy()
    a = np.asarray(images, dtype=np.float64)
    n = a.shape[0]
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    h, w = a.shape[1:3]
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad) + a.shape[3:])
    tiles = [normalize(t) for t in a] if per_image_norm else list(normalize(a))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = tile
    return grid


def overlay(image: Any, heatmap: Any, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a heatmap (any size; resized to the image) over an RGB image in [0, 1]."""
    import matplotlib

    img = to_numpy_image(image).astype(np.float64)
    img = img / 255.0 if img.max() > 1.0 else img
    heat = torch.as_tensor(normalize(heatmap), dtype=torch.float32)[None, None]
    if heat.shape[-2:] != img.shape[:2]:
        heat = torch.nn.functional.interpolate(heat, size=img.shape[:2], mode="bilinear", align_corners=False)
    colored = matplotlib.colormaps[cmap](heat[0, 0].numpy())[..., :3]
    return np.clip((1 - alpha) * img + alpha * colored, 0, 1)


def show_images(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str | Sequence[str | None] | None = None,
    size: float = 3.0,
    suptitle: str | None = None,
):
    """Show images side by side (each title optional; ``cmap`` per image or one for all). Returns the figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    cmaps = cmap if isinstance(cmap, (list, tuple)) else [cmap] * n
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            a = to_numpy_image(images[i])
            ax.imshow(a, cmap=cmaps[i] or ("gray" if a.ndim == 2 else None))
            if titles is not None and i < len(titles):
                ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
