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

from ..core.images import image_grid, normalize, to_numpy_image  # noqa: F401  (re-exported: they were defined here)


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
