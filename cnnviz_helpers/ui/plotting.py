"""Plots shared by every notebook and widget, in one projector style.

One style for the whole kit (legible at 1280×720 from the back row): titles and tick labels of
:data:`PROJECTOR_STYLE`, a title on every panel, a colorbar on every heatmap, and one colormap per
meaning — :data:`MAGNITUDE` (sequential) for maps of sizes (saliency, occlusion drops, activations,
Grad-CAM), :data:`SIGNED` (diverging, centred on 0) for maps with a sign, :data:`CLASSES` for
categorical colours (with a legend).

Example:
    >>> show_images([img, heat], titles=["input", "saliency"], cmap=[None, MAGNITUDE])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import matplotlib
import numpy as np
import torch

from ..core.images import normalize, to_numpy_image

#: Sequential colormap for magnitudes (|gradient|, score drops, activations, class-activation maps).
MAGNITUDE = "inferno"
#: Diverging colormap for signed maps; drawn with limits symmetric about 0.
SIGNED = "RdBu_r"
#: Categorical colours (classes, seeds): always with a legend.
CLASSES = "tab10"
#: Font sizes readable on a projector at 1280×720.
PROJECTOR_STYLE: dict[str, Any] = {
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "figure.titlesize": 15,
    "image.cmap": MAGNITUDE,
}


@dataclass(frozen=True)
class Categories:
    """An ``HxW`` image of labels ``0..K-1`` with a name per label: drawn in :data:`CLASSES` colours with a legend.

    Example:
        >>> show_images([img, Categories(seeds, ["background", "probable bg", "probable fg", "foreground"])])
    """

    labels: np.ndarray
    names: Sequence[str]


def use_projector_style() -> None:
    """Apply :data:`PROJECTOR_STYLE` to matplotlib (done when this module is imported)."""
    matplotlib.rcParams.update(cast(Any, PROJECTOR_STYLE))  # (matplotlib's stubs list every key as a Literal)


def overlay(image: Any, heatmap: Any, alpha: float = 0.5, cmap: str = MAGNITUDE) -> np.ndarray:
    """Blend a heatmap (any size; resized to the image) over an RGB image in [0, 1]."""
    img = to_numpy_image(image).astype(np.float64)
    img = img / 255.0 if img.max() > 1.0 else img
    heat = torch.as_tensor(normalize(heatmap), dtype=torch.float32)[None, None]
    if heat.shape[-2:] != img.shape[:2]:
        heat = torch.nn.functional.interpolate(heat, size=img.shape[:2], mode="bilinear", align_corners=False)
    colored = matplotlib.colormaps[cmap](heat[0, 0].numpy())[..., :3]
    return np.clip((1 - alpha) * img + alpha * colored, 0, 1)


def draw_panel(ax: Any, image: Any, title: str | None = None, cmap: str | None = None, colorbar: bool | None = None) -> None:
    """One panel: an image (RGB, or a 2-D map in ``cmap`` with a colorbar), its title, no axes.

    2-D maps default to :data:`MAGNITUDE`; a :data:`SIGNED` map gets limits symmetric about 0.
    NaN pixels (e.g. empty grid slots) show the background, not a colormap colour.
    """
    if isinstance(image, Categories):
        _draw_categories(ax, image, title)
        return
    a = to_numpy_image(image)
    kwargs: dict[str, Any] = {}
    if a.ndim == 2:
        kwargs["cmap"] = cmap or MAGNITUDE
        if kwargs["cmap"] == SIGNED:
            lim = float(np.nanmax(np.abs(a))) or 1.0
            kwargs.update(vmin=-lim, vmax=lim)
    shown = ax.imshow(a, **kwargs)
    ax.set_xticks([]), ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    if a.ndim == 2 and kwargs["cmap"] != "gray" and (colorbar is None or colorbar):
        ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)


def _draw_categories(ax: Any, cats: Categories, title: str | None) -> None:
    """A label image in categorical colours, with a legend naming each colour."""
    from matplotlib.patches import Patch

    colors = cast(Any, matplotlib.colormaps[CLASSES]).colors  # a ListedColormap
    ax.imshow(np.asarray(colors)[np.asarray(cats.labels) % len(colors)])
    ax.set_xticks([]), ax.set_yticks([])
    handles = [Patch(color=colors[i % len(colors)], label=name) for i, name in enumerate(cats.names)]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, frameon=False, fontsize="small")
    if title:
        ax.set_title(title)


def image_panels(
    fig: Any,
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str | Sequence[str | None] | None = None,
    suptitle: str | None = None,
) -> Any:
    """Draw ``images`` side by side into ``fig`` (see :func:`draw_panel`); returns ``fig``."""
    n = len(images)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    cmaps: list[Any] = list(cmap) if isinstance(cmap, (list, tuple)) else [cmap] * n
    for i, ax in enumerate(axes.flat):
        if i < n:
            draw_panel(ax, images[i], titles[i] if titles is not None and i < len(titles) else None, cmaps[i])
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_images(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str | Sequence[str | None] | None = None,
    size: float = 3.0,
    suptitle: str | None = None,
):
    """Show images side by side (each title optional; ``cmap`` per image or one for all). Returns the figure.

    2-D maps are drawn in ``cmap`` (default :data:`MAGNITUDE`, ``"gray"`` for no colorbar) with a colorbar.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = ncols or n
    fig = plt.figure(figsize=(size * ncols, size * math.ceil(n / ncols) + (0.4 if suptitle else 0)))
    return image_panels(fig, images, titles, ncols, cmap, suptitle)


def panels_png(
    images: Sequence[Any], titles: Sequence[str], cmap: Sequence[str | None], size: float = 3.2, suptitle: str | None = None
) -> bytes:
    """The panels of :func:`show_images` as PNG bytes, drawn without pyplot (safe in a widget's run thread)."""
    from matplotlib.figure import Figure

    from .widgets import figure_png

    fig = Figure(figsize=(size * len(images), size + (0.4 if suptitle else 0)))
    return figure_png(image_panels(fig, images, titles, None, cmap, suptitle))


use_projector_style()
