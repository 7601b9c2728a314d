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

import io
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib
import numpy as np
import torch
from matplotlib import font_manager
from matplotlib.ticker import ScalarFormatter

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


def lay_out(fig: Any) -> None:
    """``tight_layout`` for a figure that has no layout engine; a subfigure (``fig.subfigures``) or a figure made
    with ``layout="constrained"`` is laid out by its figure's engine, so one figure can hold several panel rows."""
    from matplotlib.figure import Figure

    if isinstance(fig, Figure) and fig.get_layout_engine() is None:
        fig.tight_layout()


def image_panels(
    fig: Any,
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str | Sequence[str | None] | None = None,
    suptitle: str | None = None,
) -> Any:
    """Draw ``images`` side by side into ``fig`` (see :func:`draw_panel`; ``fig`` may be a subfigure); returns ``fig``."""
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
    lay_out(fig)
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
#: point size is ``SCREEN_DPI / 72`` px: titles (:data:`TITLE_PT`) ≥ 20 px and colorbar numbers
#: (:data:`TICK_PT`) ≥ 16 px on the screen.
SCREEN_DPI = 100
TITLE_PT, TICK_PT = 15, 12
_LINE_PX = round(TITLE_PT * SCREEN_DPI / 72 * 1.25)  # one title line, spacing included
_COLORBAR_PX = 84  # bar (12 px), gap and numbers (at most 5 characters: ScalarFormatter, powers of ten on top)
_MARGIN_PX = 6


def title_px() -> float:
    """Height in pixels of a result title's font in a :func:`panels_png` image (shown 1:1)."""
    return TITLE_PT * SCREEN_DPI / 72


@dataclass
class _Canvas:
    """A reusable figure for one layout of :func:`panels_png`: axes, colorbars and titles made once."""

    fig: Any
    canvas: Any
    axes: list[Any]
    colorbars: list[Any]  # ``None`` for a panel without a colorbar
    titles: list[Any]


_CANVASES: dict[tuple, _Canvas] = {}
_CANVAS_LOCK = threading.Lock()


def _canvas(side: int, band: int, bars: tuple[bool, ...]) -> _Canvas:
    """The figure for images of ``side`` px under ``band`` px of titles, colorbars where ``bars`` says (once per layout)."""
    key = (side, band, bars)
    if key in _CANVASES:
        return _CANVASES[key]
    if len(_CANVASES) >= 16:  # layouts are few; a long session still keeps only the recent ones
        _CANVASES.pop(next(iter(_CANVASES)))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = _columns(side, bars)
    width, total = sum(columns), side + band + _MARGIN_PX
    fig = Figure(figsize=(width / SCREEN_DPI, total / SCREEN_DPI), dpi=SCREEN_DPI)
    canvas = FigureCanvasAgg(fig)
    axes, colorbars, titles = [], [], []
    for i, bar in enumerate(bars):
        left = sum(columns[:i]) + _MARGIN_PX
        ax = fig.add_axes((left / width, _MARGIN_PX / total, side / width, side / total))
        ax.set_axis_off()
        ax.imshow(np.zeros((2, 2)))
        colorbar = None
        if bar:
            cax = fig.add_axes(((left + side + 8) / width, _MARGIN_PX / total, 12 / width, side / total))
            numbers = ScalarFormatter(useOffset=False)
            numbers.set_powerlimits((-2, 3))  # 0.5, 20, 1000; smaller or larger: 1.5 under a "1e−5" on top
            colorbar = fig.colorbar(ax.images[0], cax=cax, format=numbers)
            colorbar.ax.tick_params(labelsize=TICK_PT)
        axes.append(ax)
        colorbars.append(colorbar)
        x, y = (left + side / 2) / width, (_MARGIN_PX + side + 6) / total  # just above its image, as wide as it
        titles.append(fig.text(x, y, "", ha="center", va="bottom", fontsize=TITLE_PT, linespacing=1.1))
    _CANVASES[key] = _Canvas(fig, canvas, axes, colorbars, titles)
    return _CANVASES[key]


def _columns(side: int, bars: tuple[bool, ...]) -> list[int]:
    """Width in px of each panel's column: its image, margins and (where it has one) its colorbar."""
    return [side + 2 * _MARGIN_PX + (_COLORBAR_PX if bar else 0) for bar in bars]


def wrap_title(title: str, width_px: float) -> str:
    """``title`` broken into lines (at spaces, or anywhere in a word too long) that fit ``width_px`` at :data:`TITLE_PT`."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer, font = RendererAgg(1, 1, SCREEN_DPI), FontProperties(size=TITLE_PT)

    def fits(text: str) -> bool:
        return renderer.get_text_width_height_descent(text, font, ismath=False)[0] <= width_px

    lines: list[str] = []
    for paragraph in title.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if fits(candidate):
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for ch in word:  # a word wider than the panel (or Chinese, without spaces): break it anywhere
                if line and not fits(line + ch):
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line)
    return "\n".join(lines)


def _show(ax: Any, colorbar: Any, image: Any, cmap: str | None) -> None:
    """Put one panel's picture into its (reused) axes: RGB as is, a 2-D map in ``cmap`` with the colorbar's limits."""
    a = to_numpy_image(image)
    shown = ax.images[0]
    shown.set_data(a)
    h, w = a.shape[:2]
    shown.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
    ax.set_xlim(-0.5, w - 0.5), ax.set_ylim(h - 0.5, -0.5)
    if a.ndim == 2:
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if cmap == SIGNED:
            lo, hi = -(max(abs(lo), abs(hi)) or 1.0), max(abs(lo), abs(hi)) or 1.0
        with shown.callbacks.blocked():  # one colorbar update below, not one per change
            shown.set_cmap(cmap or MAGNITUDE)
            shown.set_clim(lo, hi if hi > lo else lo + 1.0)
        if colorbar is not None:
            colorbar.update_normal(shown)


def panels_png(
    images: Sequence[Any], titles: Sequence[str], cmap: Sequence[str | None], width: int = 800, height: int = 520
) -> bytes:
    """The panels of :func:`show_images` as PNG bytes for a widget, drawn without pyplot (safe in a run thread).

    Drawn at display resolution with a fixed layout: ``width`` px wide (each square panel at most
    ``height`` px), titles at :data:`TITLE_PT` wrapped to their image's width (they never overlap),
    a colorbar (numbers at :data:`TICK_PT`) beside each 2-D map (as :func:`draw_panel`: in ``cmap``,
    default :data:`MAGNITUDE`; ``"gray"`` without one), so the image is shown 1:1 on a 1280×720
    screen (CSS only ever shrinks it). The figure of a layout is made once and reused: a result
    costs one draw and one fast PNG encoding. The PNG's text says where its titles and panels are
    (:data:`TITLES_KEY`, :data:`PANELS_KEY`).
    """
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    bars = tuple(to_numpy_image(img).ndim == 2 and c != "gray" for img, c in zip(images, cmap))
    side = int(min(height, (width - sum(_columns(0, bars))) / len(images)))
    with _CANVAS_LOCK:
        wrapped = [wrap_title(t, side) for t in titles]
        band = _LINE_PX * max(t.count("\n") + 1 for t in wrapped) + _MARGIN_PX
        c = _canvas(side, band, bars)
        for ax, colorbar, text, image, title, m in zip(c.axes, c.colorbars, c.titles, images, wrapped, cmap):
            _show(ax, colorbar, image, m)
            text.set_text(title)
        c.canvas.draw()
        rgba = np.asarray(c.canvas.buffer_rgba())
        info = PngInfo()  # where the titles are, for a browser test to check them as the audience sees them
        renderer, rows = c.canvas.get_renderer(), rgba.shape[0]
        info.add_text(TITLES_KEY, json.dumps([_box(t.get_window_extent(renderer), rows) for t in c.titles if t.get_text()]))
        info.add_text(PANELS_KEY, json.dumps([_box(_panel_extent(c, i, renderer), rows) for i in range(len(c.axes))]))
        info.add_text(TITLE_PX_KEY, f"{title_px():.2f}")
        buf = io.BytesIO()
        Image.fromarray(rgba[..., :3]).save(buf, format="PNG", compress_level=1, pnginfo=info)
    return buf.getvalue()


#: PNG text keys of a :func:`panels_png` image, boxes ``[left, top, right, bottom]`` in image pixels (JSON):
#: its titles, each panel's whole drawing (title, image, colorbar and its numbers), and the titles' font
#: size in pixels — what ``tests/test_browser.py`` scales to the screen.
TITLES_KEY, PANELS_KEY, TITLE_PX_KEY = "cnnviz-titles", "cnnviz-panels", "cnnviz-title-px"


def _panel_extent(c: _Canvas, i: int, renderer: Any) -> Any:
    """Everything drawn for panel ``i``: its title, its image and its colorbar with the numbers."""
    from matplotlib.transforms import Bbox

    parts = [c.axes[i].images[0].get_window_extent(renderer)]
    parts += [c.titles[i].get_window_extent(renderer)] if c.titles[i].get_text() else []
    parts += [c.colorbars[i].ax.get_tightbbox(renderer)] if c.colorbars[i] is not None else []
    return Bbox.union(parts)


def _box(b: Any, height: int) -> list[float]:
    """A display box (origin bottom-left) in image pixels, ``[left, top, right, bottom]`` from the top-left corner."""
    return [round(b.x0, 1), round(height - b.y1, 1), round(b.x1, 1), round(height - b.y0, 1)]


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
