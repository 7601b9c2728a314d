"""Network Dissection drawn as Bau et al. (2017) draw it, and its widget.

- :func:`draw_unit`: one unit's top images, each with the unit's thresholded region outlined (a
  contour of :attr:`~cnnviz_helpers.dissection.TopImages.regions`), the unit's concept label and IoU
  in the title;
- :func:`draw_layers`: per layer, the number of unique detectors and the share of units that detect
  a concept of each category (shape, texture, colour, background) — the paper's bar charts;
- :func:`outlined`: the same outline painted into the pixels (for the explorer's panels);
- :func:`dissection_widget`: pick a layer and a unit; Run dissects through the method registry's
  "network dissection" entry and draws both.

Example:
    >>> result = dissect(km, x, concepts)
    >>> draw_layers(plt.figure(figsize=(12, 4)), result)
    >>> draw_unit(plt.figure(figsize=(12, 6)), top_images(km, x, result, "features.14", 7), km.deprocess)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..core.i18n import N_, _
from ..dissection import DETECTOR_IOU, Dissection, TopImages
from ..methods import BY_NAME
from ..models.loading import KitModel
from .plotting import CLASSES
from .widgets import Run, figure_png, param_widget, placeholder_png, run_panel

#: The concept categories (Bau et al. report detectors per category), marked for translation.
CATEGORIES = (N_("shape"), N_("texture"), N_("colour"), N_("background"))
#: The colour of a unit's outlined region (a green that stands out on every ShapesNet colour but green).
OUTLINE = (0.1, 1.0, 0.3)


def unit_title(top: TopImages) -> str:
    """``"features.14 unit 7: disk (shape), IoU 0.21"`` and whether that makes it a detector."""
    verdict = _("detector") if top.iou > DETECTOR_IOU else _("no detector: IoU ≤ {t}").format(t=DETECTOR_IOU)
    return _("{layer} unit {unit}: {concept} ({category}), IoU {iou:.2f} — {verdict}").format(
        layer=top.layer, unit=top.unit, concept=top.concept, category=_(top.category), iou=top.iou, verdict=verdict
    )


def draw_unit(fig: Any, top: TopImages, deprocess: Callable[[torch.Tensor], np.ndarray], ncols: int = 4) -> Any:
    """Draw ``top``'s images into ``fig``, the unit's region (activation above its threshold) outlined; returns ``fig``.

    Args:
        fig: a matplotlib figure (``plt.figure`` or ``matplotlib.figure.Figure``).
        top: what :func:`~cnnviz_helpers.dissection.top_images` returned.
        deprocess: turns the images back into ``HxWx3`` pictures (``km.deprocess``).
        ncols: images per row.
    """
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=4.5, foreground="black")]
    pictures = deprocess(top.images)
    rows = -(-len(top.indices) // ncols)
    axes = np.atleast_1d(fig.subplots(rows, ncols, squeeze=False)).ravel()
    strength = top.dissection.image_max[top.layer][:, top.unit]  # what ranked the images (before upsampling)
    for ax, picture, index, region in zip(axes, pictures, top.indices, top.regions):
        ax.imshow(picture, interpolation="nearest")
        if region.any():  # a bright line on a dark one: visible on every colour
            ax.contour(region.float().numpy(), levels=[0.5], colors=[OUTLINE], linewidths=2, path_effects=halo)
        ax.set_title(_("image {index}: max {value:.2f}").format(index=int(index), value=float(strength[int(index)])))
        ax.axis("off")
    for ax in axes[len(top.indices) :]:
        ax.axis("off")
    fig.suptitle(unit_title(top))
    fig.tight_layout()
    return fig


def draw_layers(fig: Any, result: Dissection, min_iou: float = DETECTOR_IOU) -> Any:
    """Two bar charts of ``result``'s layers: unique detectors, and the share of units per concept category.

    Returns ``fig``. The category shares are stacked: their sum is the layer's share of detector units.
    """
    import matplotlib

    layers = list(result.layers)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    unique = [result.unique_detectors(layer, min_iou) for layer in layers]
    left.bar(layers, unique, color="0.35")
    for i, n in enumerate(unique):
        left.text(i, n, str(n), ha="center", va="bottom")
    left.set(title=_("unique detectors per layer"), ylabel=_("distinct concepts"), ylim=(0, max(unique, default=0) + 2))
    colours = matplotlib.colormaps[CLASSES]
    bottom = np.zeros(len(layers))
    categories = list(dict.fromkeys(result.categories))
    for j, category in enumerate(categories):
        shares = np.array([result.category_shares(layer, min_iou)[category] for layer in layers])
        right.bar(layers, shares, bottom=bottom, color=colours(j), label=_(category))
        bottom += shares
    right.set(title=_("share of units detecting a concept (IoU > {t})").format(t=min_iou), ylabel=_("share of the layer's units"))
    right.set_ylim(0, max(1e-3, float(bottom.max())) * 1.25)
    right.legend(ncol=len(categories), loc="upper left", fontsize="small")
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def outlined(picture: np.ndarray, region: torch.Tensor | np.ndarray, colour: tuple[float, float, float] = OUTLINE) -> np.ndarray:
    """``picture`` (``HxWx3`` in [0, 1]) with the border pixels of ``region`` (``bool HxW``) painted ``colour``."""
    r = np.asarray(region, dtype=bool)
    inner = r.copy()
    inner[1:] &= r[:-1]
    inner[:-1] &= r[1:]
    inner[:, 1:] &= r[:, :-1]
    inner[:, :-1] &= r[:, 1:]
    out = np.array(picture, dtype=np.float64, copy=True)
    out[r & ~inner] = colour
    return out


def dissection_widget(km: KitModel, width: int = 900) -> Any:
    """Pick a layer and a unit; Run dissects the layer (the registry's "network dissection") and draws the unit.

    The controls are the registry entry's (layer, unit and its "images" slider). The view shows the
    unit's top images with its region outlined and its label and IoU (:func:`draw_unit`), and the
    layer's unique detectors and category shares (:func:`draw_layers`). A layer the model does not
    have, a unit out of range or a model without concept labels (anything but ShapesNet) is one line
    in the status bar.

    Example:
        >>> display(dissection_widget(load_model("shapesnet")))
    """
    import ipywidgets as w
    from matplotlib.figure import Figure

    m = BY_NAME["network dissection"]
    layer = w.Combobox(options=list(km.spec.layers), value=km.spec.last_conv, description=_("layer"), ensure_option=False)
    unit = w.IntText(value=0, description=_("unit"))
    settings = {p.name: param_widget(p) for p in m.params}
    unit_view = w.Image(value=placeholder_png(width, width // 2), format="png", width=width)
    layer_view = w.Image(value=placeholder_png(width, width // 3), format="png", width=width)

    def run(job: Run) -> str:
        params = {name: c.value for name, c in settings.items()}
        job.progress(0, 1, "dissecting")
        top = m.run(km, None, layer=layer.value, unit=unit.value, params=params)
        job.progress(1, 1, "dissecting")
        unit_view.value = figure_png(draw_unit(Figure(figsize=(width / 100, width / 200 + 0.6)), top, km.deprocess))
        layer_view.value = figure_png(draw_layers(Figure(figsize=(width / 100, width / 300 + 0.6)), top.dissection))
        return unit_title(top)

    return run_panel(run, [layer, unit, *settings.values(), w.HTML(f"<i>{m.note}</i>")], extra=[unit_view, layer_view])


__all__ = ["CATEGORIES", "OUTLINE", "dissection_widget", "draw_layers", "draw_unit", "outlined", "unit_title"]
