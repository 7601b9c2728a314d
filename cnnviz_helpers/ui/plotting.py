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
from pathlib import Path
from typing import Any, cast

import matplotlib
import numpy as np
import torch
from matplotlib import font_manager

from ..attribution_metrics import METRICS, Scores
from ..core.i18n import _
from ..core.images import normalize, to_numpy_image

#: Sequential colormap for magnitudes (|gradient|, score drops, activations, class-activation maps).
MAGNITUDE = "inferno"
#: Diverging colormap for signed maps; drawn with limits symmetric about 0.
SIGNED = "RdBu_r"
#: Categorical colours (classes, seeds): always with a legend.
CLASSES = "tab10"
#: The CJK font shipped with the kit (a subset of Noto Sans CJK SC, SIL OFL 1.1: ``fonts/OFL.txt``; made by
#: ``tools/subset_font.py``): matplotlib falls back to it, glyph by glyph, for Chinese text in titles and labels.
CJK_FONT = Path(__file__).resolve().parent.parent / "fonts" / "NotoSansSC-cnnviz.otf"
CJK_FAMILY = "Noto Sans SC cnnviz"
#: Font sizes readable on a projector at 1280×720; Latin text in the sans-serif font, Chinese in :data:`CJK_FAMILY`.
PROJECTOR_STYLE: dict[str, Any] = {
    "font.family": ["sans-serif", CJK_FAMILY],  # a list: matplotlib falls back along it glyph by glyph
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
    """Register :data:`CJK_FONT` and apply :data:`PROJECTOR_STYLE` to matplotlib (done when this module is imported)."""
    if CJK_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(CJK_FONT))
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


#: Result PNGs are drawn at the pixels they are shown at (1 figure inch = :data:`SCREEN_DPI` px), so a
#: point size is ``SCREEN_DPI / 72`` px: titles ≥ 20 px and colorbar numbers ≥ 16 px on the screen.
SCREEN_DPI = 100
SCREEN_STYLE: dict[str, Any] = {"axes.titlesize": 15, "xtick.labelsize": 12, "ytick.labelsize": 12, "figure.titlesize": 16}


def panels_png(
    images: Sequence[Any],
    titles: Sequence[str],
    cmap: Sequence[str | None],
    width: int = 800,
    height: int = 520,
    suptitle: str | None = None,
) -> bytes:
    """The panels of :func:`show_images` as PNG bytes for a widget, drawn without pyplot (safe in a run thread).

    Drawn at display resolution: about ``width`` px wide (each square panel at most ``height`` px), with
    :data:`SCREEN_STYLE` fonts, so the image is shown 1:1 on a 1280×720 screen (CSS only ever shrinks it).
    """
    from matplotlib.figure import Figure

    from .widgets import figure_png

    side = min(width / len(images), height) / SCREEN_DPI
    extra = 0.55 + (0.4 if suptitle else 0)  # title line(s) above the panels
    with matplotlib.rc_context(cast(Any, SCREEN_STYLE)):
        fig = Figure(figsize=(side * len(images), side + extra))
        return figure_png(image_panels(fig, images, titles, None, cmap, suptitle), dpi=SCREEN_DPI)


def plot_scores(scores: Scores, *, level: float = 0.95, baseline: str = "random"):
    """One panel per metric of :class:`~cnnviz_helpers.attribution_metrics.Scores`: each method's mean with its interval.

    Methods are listed top to bottom in the order they were scored; the ``baseline`` method's mean
    is a dashed line across its panel, so a method whose interval lies on the wrong side of it does
    no better than random. Each title says which way is better. Returns the figure.
    """
    import matplotlib.pyplot as plt

    methods, metrics = scores.methods, scores.metrics
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(3.6 * len(metrics) + 2.2, 0.45 * len(methods) + 1.6), sharey=True, squeeze=False
    )
    rows = range(len(methods))[::-1]  # the first method on top
    for ax, metric in zip(axes[0], metrics):
        est = [scores.estimate(metric, m, level=level) for m in methods]
        means = np.array([e.mean for e in est])
        err = np.array([[e.mean - e.low for e in est], [e.high - e.mean for e in est]])
        ax.errorbar(means, rows, xerr=err, fmt="o", capsize=4, color="C0")
        if baseline in methods:
            ax.axvline(means[methods.index(baseline)], color="gray", ls="--", lw=1, label=baseline)
        better = _("higher is better") if METRICS[metric] else _("lower is better")
        ax.set_title(f"{metric}\n({better})")
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_yticks(list(rows), methods)
    title = _("{n} images, mean and {level:.0%} interval").format(n=len(scores.targets), level=level)
    fig.suptitle(title + (_("; dashed: {baseline}").format(baseline=baseline) if baseline in methods else ""))
    fig.tight_layout()
    return fig


def plot_curves(scores: Scores):
    """The mean deletion and insertion curves of each method (one panel each), with their mean AUC in the legend. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    for ax, kind in zip(axes, ("deletion", "insertion")):
        for i, (method, curve) in enumerate(scores.curves[kind].items()):
            style = {"color": "gray", "ls": "--"} if method == "random" else {"color": f"C{i % 10}"}
            ax.plot(curve.fractions.numpy(), curve.scores.mean(0).numpy(), label=f"{method} ({curve.auc.mean():.2f})", **style)
        ax.set_xlabel(_("share of pixels removed") if kind == "deletion" else _("share of pixels revealed"))
        ax.set_ylabel(_("probability of the class"))
        better = _("lower AUC is better") if kind == "deletion" else _("higher AUC is better")
        ax.set_title(f"{kind} ({better})")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), title=_("method (mean AUC)"))
    fig.tight_layout()
    return fig


use_projector_style()
