"""The per-section widgets of the lecture notebooks: ipywidgets apps over the public methods.

UI only: every widget calls the public method of its section (no algorithm lives here). The
widgets of a method in the registry (:mod:`cnnviz_helpers.methods`: occlusion, the attribution
methods, class / unit visualization, DeepDream, max-activating patches) are the explorer, compact
(:func:`~.explorer.method_widget`), so a fix to the explorer's controls, checks or drawings lands in
them too; the others are built from the blocks of :mod:`.widgets`. Import from here, e.g.
``from cnnviz_helpers.ui.sections import occlusion_widget``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..core.config import budget
from ..core.i18n import _
from ..core.images import ImageLike, load_image, sample_names
from ..fast_style import NormKind, TransformerNet, stylize, train_fast_style
from ..methods import METHODS
from ..models.loading import KitModel
from ..style_transfer import PRESETS, default_style, style_images, style_transfer
from .explorer import Explorer, method_widget
from .plotting import CLASSES, panels_png
from .widgets import Run, live_image, placeholder_png, run_panel, to_png


# --- shared by the widgets that are not the explorer's (style transfer) ----------------------------------
def _tabs(pages: dict[str, list[Any]]) -> Any:
    """Controls grouped in tabs (a compact side panel instead of a tall stack of sliders)."""
    import ipywidgets as w

    tabs = w.Tab(children=[w.VBox(controls) for controls in pages.values()])
    for i, title in enumerate(pages):
        tabs.set_title(i, title)
    return tabs


def result_view() -> tuple[Any, Callable[[np.ndarray], None]]:
    """The result image of a section widget, as the explorer's: hidden until the first result, sized to the window.

    Returns the widget and ``preview(image)``, which shows a synthesis's image so far (``HxWx3``) while it runs;
    :func:`show_result` then puts the titled panels there.
    """
    import ipywidgets as w

    view = w.Image(value=placeholder_png(800, 260), format="png", layout=w.Layout(display="none"))
    view.add_class("cnnviz-result")

    def preview(image: np.ndarray) -> None:
        view.value = to_png(image, 384)
        view.layout.display = None

    return view, preview


def show_result(view: Any, job: Run, beside: Sequence[tuple[Any, str]], picture: np.ndarray, title: str) -> str:
    """Draw a synthesis's ``picture`` beside its input / style images (``(image, title)`` pairs) in ``view``.

    When Stop ended the run, the picture is the image so far and its title says at which step;
    returns the title shown.
    """
    if job.stopped:
        title = _("stopped at step {step} of {total}").format(step=job.step, total=job.total)
    view.value = panels_png([*(b[0] for b in beside), picture], [*(b[1] for b in beside), title], [None] * (len(beside) + 1))
    view.layout.display = None
    return title


# --- the widgets built from the method registry ---------------------------------------------------
#: The methods of :func:`attribution_widget`: the registry's attribution methods that draw a map.
ATTRIBUTIONS = tuple(m.name for m in METHODS if m.kind == "attribution" and m.draws == "map")


def occlusion_widget(km: KitModel) -> Explorer:
    """Occlusion (Zeiler & Fergus): image, class (or a unit), window and stride in % of the image; Run draws the map.

    The explorer's "occlusion", compact (:func:`~.explorer.method_widget`); the status line says
    how many windows of how many pixels slid over the image.

    Example:
        >>> display(occlusion_widget(km))
    """
    return method_widget(km, "occlusion")


def attribution_widget(km: KitModel, method: str = "saliency") -> Explorer:
    """The attribution methods of the registry (:data:`ATTRIBUTIONS`) on one image: ``image | map | overlay``.

    The explorer compact (:func:`~.explorer.method_widget`) on its attribution rows: a method added
    to :mod:`cnnviz_helpers.methods` appears here. Pick the image, the method (``method`` first),
    the class (type to search), and for Grad-CAM the layer; for a method that explains units a
    unit ≥ 0 explains that channel of the layer (at its strongest position) instead of the class.
    Quick methods answer every change; the others wait for Run. A bad class or an all-zero
    Grad-CAM map says why in one line.

    Example:
        >>> display(attribution_widget(km, "Integrated Gradients"))
    """
    return method_widget(km, *ATTRIBUTIONS, method=method)


def class_visualization_widget(km: KitModel) -> Explorer:
    """Class visualization: class (type to search), objective, steps, L2 λ and the image priors; Run shows the image as it improves.

    Example:
        >>> display(class_visualization_widget(km))
    """
    return method_widget(km, "class visualization")


def unit_visualization_widget(km: KitModel) -> Explorer:
    """Unit visualization: layer, unit (its mean or its centre neuron), steps and the image priors; Run shows the image as it improves.

    Example:
        >>> display(unit_visualization_widget(km))
    """
    return method_widget(km, "unit visualization")


def deepdream_widget(km: KitModel) -> Explorer:
    """DeepDream: image, layer (or one unit of it), steps per octave, octaves, octave scale and step size; the dream updates live.

    Example:
        >>> display(deepdream_widget(km))
    """
    return method_widget(km, "DeepDream")


def patches_widget(km: KitModel, images: Sequence[Any]) -> Explorer:
    """Maximally activating patches over ``images`` (PIL images / arrays): pick a layer and a unit, Run.

    Example:
        >>> display(patches_widget(km, image_set(km).images))
    """
    return method_widget(km, "max-activating patches", images=images)


# --- fast_style ------------------------------------------------------------
def style_blend_widget(net: TransformerNet, image: ImageLike = "chelsea", size: int = 256) -> Any:
    """One slider per style of a conditional network; the stylized image updates as they move.

    The slider values are blend weights (normalised to sum to 1: a convex combination of the styles'
    γ/β rows). One forward pass of the small network per change, so it follows the slider.

    Example:
        >>> display(style_blend_widget(load_fast_style(), "chelsea"))
    """
    import ipywidgets as w

    if not net.conditional:
        raise ValueError("style blending needs a conditional network (norm='conditional', several styles)")
    sources: dict[str, ImageLike] = {n: n for n in sample_names()}
    first = image if isinstance(image, str) and image in sources else "your image"
    sources.setdefault(first, image)
    picture = w.Dropdown(options=list(sources), value=first, description=_("content"))
    sliders = [
        w.FloatSlider(value=1.0 if i == 0 else 0.0, min=0.0, max=1.0, step=0.05, description=name, continuous_update=True)
        for i, name in enumerate(net.style_names)
    ]
    view, update = live_image(size)
    label = w.HTML()
    source = {"image": load_image(sources[first], size)}

    def redraw(_change: Any = None) -> None:
        weights = [s.value for s in sliders]
        if sum(weights) <= 0:
            label.value = "all weights are 0: the content image"
            update(np.asarray(source["image"]))
            return
        label.value = " + ".join(f"{v / sum(weights):.2f}·{n}" for v, n in zip(weights, net.style_names) if v > 0)
        update(stylize(net, source["image"], style=weights, size=None))

    def new_picture(change: Any) -> None:
        source["image"] = load_image(sources[change["new"]], size)
        redraw()

    picture.observe(new_picture, names="value")
    for s in sliders:
        s.observe(redraw, names="value")
    redraw()
    return w.HBox([w.VBox([picture, *sliders, label]), view])


def fast_style_training_widget(km: KitModel, preview: ImageLike = "chelsea", size: int = 192) -> Any:
    """Pick style image(s), a normalisation and a budget; Train runs :func:`train_fast_style` with a
    progress bar and shows the preview image stylized every few steps.

    Styles: the shipped textures, plus the paintings once ``python -m cnnviz_helpers.training.download`` has
    fetched them (:func:`~cnnviz_helpers.style_transfer.style_images`). One style trains an instance- or
    batch-norm network, several a conditional one. The last trained network is ``panel.result["net"]``.

    Example:
        >>> panel = fast_style_training_widget(km)
        >>> display(panel)            # … click Run, then: net = panel.result["net"]
    """
    import ipywidgets as w

    styles = style_images()  # a downloaded painting is the default style
    style_pick = w.SelectMultiple(
        options=list(styles.items()), value=(styles[default_style()],), description=_("style(s)"), rows=5
    )
    norm_pick = w.Dropdown(options=["instance", "batch"], value="instance", description=_("norm (1 style)"))
    steps = w.IntSlider(value=budget(300, 4), min=2, max=2000, step=2, description=_("steps"), continuous_update=False)
    crop = w.IntSlider(value=budget(64, 32), min=32, max=256, step=16, description=_("crop"), continuous_update=False)
    view, update = live_image(size)
    preview_img = load_image(preview, size)
    result: dict[str, Any] = {}

    def run(job: Run) -> str:
        chosen = list(style_pick.value)
        norm: NormKind = "conditional" if len(chosen) > 1 else norm_pick.value
        every = max(1, steps.value // 10)
        net, history = train_fast_style(
            km,
            chosen,
            norm=norm,
            preview=preview_img,
            steps=steps.value,
            crop=crop.value,
            callback=job.steps(steps.value, lambda img: update(img[0].permute(1, 2, 0).cpu().numpy())),
            callback_every=every,
        )
        result.update(net=net, history=history)
        k = max(1, len(history["total"]) // 10)
        first, last = np.mean(history["total"][:k]), np.mean(history["total"][-k:])
        return f"{norm} norm, {steps.value} steps: perceptual loss {first:.3g} → {last:.3g} (means of the first / last {k} steps)"

    panel = run_panel(run, [style_pick, norm_pick, steps, crop], description=_("Train"), extra=[view])
    panel.result = result
    return panel


# --- filters ------------------------------------------------------------
def activations_widget(km: KitModel) -> Any:
    """Explore activation maps: image × layer × first channel × how many (the registry's "activations").

    A change answers at once (the maps are cheap); the title counts the layer's all-zero maps. The grid's
    borders and empty slots are background, not a colormap colour; each map is stretched on its own.

    Example:
        >>> display(activations_widget(km))
    """
    return method_widget(km, "activations")


# --- last_layer ------------------------------------------------------------
def plot_embedding(
    coords: np.ndarray, labels: Sequence[int] | np.ndarray, label_names: Sequence[str], title: str = "", ax: Any = None
) -> Any:
    """Scatter 2-D points coloured by label, with a legend; returns the figure.

    Example:
        >>> plot_embedding(embed_2d(feats, "pca"), data.labels, data.label_names, "PCA of fc features")
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    labels = np.asarray(labels)
    cmap = plt.get_cmap(CLASSES if len(label_names) <= 10 else "tab20")
    for i, name in enumerate(label_names):
        sel = labels == i
        if sel.any():
            ax.scatter(coords[sel, 0], coords[sel, 1], s=12, color=cmap(i % cmap.N), label=name)
    ax.legend(markerscale=1.5, loc="best", ncol=1 + len(label_names) // 12)
    ax.set_title(title)
    ax.set_xticks([]), ax.set_yticks([])
    return ax.figure


def knn_widget(images: Sequence[Any], neighbors: dict[str, torch.Tensor], labels: Sequence[str] | None = None) -> Any:
    """Pick a query image with a slider and see its nearest neighbours in each space side by side.

    Args:
        images: the images (PIL / arrays).
        neighbors: ``{"feature space": nn_feat, "pixel space": nn_pix}`` from :func:`nearest_neighbors`
            (all queries, same order as ``images``).
        labels: optional caption per image (e.g. its class name).

    Example:
        >>> display(knn_widget(data.images, {"features": nn_feat, "pixels": nn_pix}))
    """
    import ipywidgets as w

    query = w.IntSlider(value=0, min=0, max=len(images) - 1, description=_("query"), continuous_update=False)
    box = w.VBox()

    def cell(i: int, caption: str) -> Any:
        img = w.Image(value=to_png(load_image(images[i]), 80), format="png", width=80)
        return w.VBox([img, w.Label(caption if labels is None else f"{caption} {labels[i]}")])

    def draw(*_: Any) -> None:
        q = query.value
        rows = [w.HBox([w.Label("query", layout=w.Layout(width="110px")), cell(q, f"#{q}")])]
        for space, nn_idx in neighbors.items():
            rows.append(
                w.HBox([w.Label(space, layout=w.Layout(width="110px"))] + [cell(int(j), f"#{int(j)}") for j in nn_idx[q]])
            )
        box.children = rows

    query.observe(draw, names="value")
    draw()
    return w.VBox([query, box])


# --- style ------------------------------------------------------------
_CONTENT_PHOTOS = ("chelsea", "coffee", "astronaut", "china", "flower")


def style_transfer_widget(km: KitModel, steps: int = 200, image_size: int | None = None) -> Any:
    """Content × two styles × blend × content / style / TV weights × style size, a Run button and a live preview.

    Each run starts from the chosen preset's layers and weights; the "style ×" slider multiplies all
    its per-layer weights. A progress bar shows the steps and the preview updates every tenth of
    the run. ``steps`` is the initial value of the steps slider, ``image_size`` the content size
    (default: the preset's).

    Example:
        >>> display(style_transfer_widget(km, steps=budget(200, 5)))
    """
    import ipywidgets as w

    styles = style_images()
    names = list(styles)
    log = {"readout_format": ".1e", "continuous_update": False}
    preset = w.Dropdown(options=list(PRESETS), value="starry_night", description=_("preset"))
    content = w.Dropdown(options=list(_CONTENT_PHOTOS), value="chelsea", description=_("content"))
    style_a = w.Dropdown(options=names, value="starry_night" if "starry_night" in styles else "gravel", description=_("style A"))
    style_b = w.Dropdown(options=["(none)", *names], value="(none)", description=_("style B"))
    blend = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description=_("weight of A"))
    c_weight = w.FloatLogSlider(
        value=PRESETS["starry_night"].content_weight, base=10, min=-4, max=1, description=_("content w"), **log
    )
    s_scale = w.FloatLogSlider(value=1.0, base=10, min=-3, max=3, description=_("style ×"), **log)
    t_weight = w.FloatLogSlider(value=PRESETS["starry_night"].tv_weight, base=10, min=-5, max=0, description=_("TV w"), **log)
    s_size = w.IntSlider(
        value=PRESETS["starry_night"].style_size, min=32, max=512, step=16, description=_("style size"), continuous_update=False
    )
    n_steps = w.IntSlider(value=steps, min=1, max=max(500, steps), description=_("steps"), continuous_update=False)
    blend.continuous_update = False
    view, preview = result_view()

    def on_preset(change: dict) -> None:
        q = PRESETS[change["new"]]
        c_weight.value, t_weight.value, s_size.value = q.content_weight, q.tv_weight, q.style_size

    preset.observe(on_preset, names="value")

    def run(job: Run) -> str:
        q = PRESETS[preset.value]
        two = style_b.value != "(none)"
        out = style_transfer(
            km,
            content.value,
            [styles[style_a.value], styles[style_b.value]] if two else styles[style_a.value],
            preset=q,
            blend=[blend.value, 1 - blend.value] if two else None,
            content_weight=c_weight.value,
            style_weights=[s * s_scale.value for s in q.style_weights],
            tv_weight=t_weight.value,
            style_size=s_size.value,
            image_size=image_size,
            steps=n_steps.value,
            callback_every=max(1, n_steps.value // 10),
            callback=job.steps(n_steps.value, lambda img: preview(km.deprocess(img[0]))),
            progress=False,
        )
        beside = [(load_image(content.value, 256), _("content")), (load_image(styles[style_a.value], 256), _("style"))]
        title = _("{steps} steps of {preset}").format(steps=n_steps.value, preset=preset.value)
        return show_result(view, job, beside, out.picture, title)

    pages = {"images": [preset, content, style_a, style_b, blend], "weights": [c_weight, s_scale, t_weight, s_size, n_steps]}
    return run_panel(run, [_tabs(pages)], description=_("Transfer style"), extra=[view])
