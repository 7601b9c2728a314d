"""The explorer: one app over every method of the lecture, for presenting live (``notebooks/explorer.ipynb``).

Pick a model, an image (the model's examples, the image set of :func:`~cnnviz_helpers.last_layer.image_set`
or an uploaded file) and a method of the registry (:data:`cnnviz_helpers.methods.METHODS`: which
shared controls it uses — layer, unit, class —, its own settings, quick or slow, what it draws).
The app holds no method table of its own: a method added to the registry appears here. Then Run:

- the button turns into Stop while running; a synthesis shows its image as it improves, and Stop
  keeps the image so far; a second click never queues a run;
- results are cached by their parameters, so going back to a setting is instant;
- every control validates (class names must exist, units are bounded by the layer's channels);
  a bad value is one line in the status bar, never a traceback;
- compare mode draws two methods (or one method at two layers) on the same image side by side.

Example:
    >>> app = explorer(load_model())
    >>> display(app)
    >>> app.method.value = "Grad-CAM"; app.panel.click()   # what the Run button does
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import torch
from PIL import Image

from .. import filters
from ..core.config import budget
from ..core.images import attribution_heatmap, image_grid, load_image
from ..methods import BY_NAME, METHODS, Method
from ..models.image_sets import image_set
from ..models.loading import SPECS, KitModel, load_model
from .plotting import MAGNITUDE, SIGNED, overlay, panels_png
from .widgets import (
    USER_ERRORS,
    Run,
    image_picker,
    message,
    param_widget,
    placeholder_png,
    resolve_class,
    run_panel,
    to_png,
)

#: A panel of the result: ``(image, title, colormap or None)``.
Panel = tuple[Any, str, "str | None"]


@dataclass
class Shown:
    """What a result is drawn with: the model, the image, the shared choices and the method's settings."""

    km: KitModel
    x: torch.Tensor  # the image, preprocessed: [1, 3, S, S]
    image: np.ndarray  # the same image, HxWx3 in [0, 1]
    layer: str
    unit: int | None
    target: int
    params: dict[str, Any]
    size: int  # images in the image set (for "patches")


def _map(m: Method, result: torch.Tensor, s: Shown) -> list[Panel]:
    """Input, the map (magnitude, with colorbar) and its overlay: what every attribution shows."""
    a = attribution_heatmap(result.detach().float()[:1])[0].cpu()
    if m.zero_note and float(a.max()) == 0.0:
        raise ValueError(m.zero_message(s.layer, s.km))
    what = s.km.class_names[s.target] if s.unit is None else f"{s.layer}[{s.unit}]"
    return [(s.image, what, None), (a.numpy(), m.name, MAGNITUDE), (overlay(s.image, a), f"overlay: {m.name}", None)]


def _occlusion(m: Method, occ: Any, s: Shown) -> list[Panel]:
    win = occ.heatmap.shape[-1] * s.params["window"] // 100
    return [*_map(m, occ.heatmap[None], s)[:2], (occ.drops.cpu().numpy(), f"drop per window (~{win} px)", SIGNED)]


def _maps(_m: Method, maps: torch.Tensor, s: Shown) -> list[Panel]:
    lo = min(s.unit or 0, len(maps) - 1)
    shown = maps[lo : lo + int(s.params["channels"])]
    silent = float(filters.zero_maps(maps).float().mean())
    title = f"{s.layer} ch. {lo}–{lo + len(shown) - 1} of 0–{len(maps) - 1} ({silent:.0%} all-zero)"
    return [(s.image, "input", None), (image_grid(shown, fill=np.nan), title, MAGNITUDE)]


def _patches(_m: Method, top: Any, s: Shown) -> list[Panel]:
    tiles = s.km.deprocess(top.patches)
    return [(image_grid(tiles, ncols=3, per_image_norm=False), f"{s.layer}[{s.unit}]: top 9 of {s.size} images", None)]


def _image(m: Method, out: Any, s: Shown) -> list[Panel]:
    """A synthesized image, with the class the model now sees in it."""
    picture = out if isinstance(out, np.ndarray) else s.km.deprocess(out[0])
    x = s.km.preprocess(Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8)))
    name, p = s.km.predict(x, 1)[0][0]
    return [(picture, f"{m.name} → {name} ({p:.0%})", None)]


def _adversarial(m: Method, adv: torch.Tensor, s: Shown) -> list[Panel]:
    (before, p0), (after, p1) = s.km.predict(s.x, 1)[0][0], s.km.predict(adv, 1)[0][0]
    picture = s.km.deprocess(adv[0])
    return [(s.image, f"{before} ({p0:.0%})", None), ((picture - s.image).mean(-1), "change (mean over RGB)", SIGNED),
            (picture, f"{m.name}: {after} ({p1:.0%})", None)]  # fmt: skip


#: How each kind of result (:data:`cnnviz_helpers.methods.Draws`) is drawn; the last panel is the one compare mode shows.
DRAW: dict[str, Callable[[Method, Any, Shown], list[Panel]]] = {
    "map": _map, "occlusion": _occlusion, "maps": _maps, "patches": _patches, "image": _image, "adversarial": _adversarial,
}  # fmt: skip


class Explorer(w.HBox):
    """The app: a side panel of controls (model, image, method, its controls, compare) and a large result.

    Attributes (the controls, for scripts and tests): ``model``, ``source``, ``picture``, ``upload``,
    ``method``, ``layer``, ``unit``, ``target``, ``params`` (``{method: {name: widget}}``),
    ``compare``, ``method_b``, ``layer_b``, ``auto`` (quick methods run on every change; others wait
    for Run), ``panel`` (the :class:`~.widgets.RunPanel`), ``view``, ``cache`` and ``calls`` (how many
    computations ran: a cached setting does not add one).
    """

    def __init__(self, km: KitModel, threaded: bool = True, cache_size: int = 64, view_width: int = 820) -> None:
        self.km = km
        self.models: dict[str, KitModel] = {km.name: km}
        self.cache: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
        self.cache_size, self.calls, self.view_width = cache_size, 0, view_width
        self._dataset: Any = None
        self._channels: dict[str, int] = {}
        style_ = {"description_width": "80px"}
        names = ["shapesnet", *(n for n in SPECS if n != "shapesnet")]
        self.model = w.Dropdown(options=names, value=km.name, description="model", style=style_)
        self.source = w.ToggleButtons(
            options=["examples", "image set", "upload"], value="examples", style={"button_width": "88px"}
        )
        self.picture = w.Dropdown(description="image", style=style_)
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload")
        self.method = w.Dropdown(options=[m.name for m in METHODS], value="saliency", description="method", style=style_)
        self.note = w.HTML()
        self.layer = w.Dropdown(description="layer", style=style_)
        self.unit = w.BoundedIntText(value=-1, min=-1, max=0, description="unit", style=style_)
        self.target = w.Combobox(description="class", ensure_option=False, placeholder="type a class name", style=style_)
        self.params = {m.name: {p.name: param_widget(p) for p in m.params} for m in METHODS}
        self.own = w.VBox()
        self.compare = w.Checkbox(value=False, description="compare side by side", indent=False)
        self.auto = w.Checkbox(value=True, description="quick methods: run on every change", indent=False)
        self.method_b = w.Dropdown(options=[m.name for m in METHODS], value="Grad-CAM", description="B method", style=style_)
        self.layer_b = w.Dropdown(description="B layer", style=style_)
        self.view = w.Image(value=placeholder_png(view_width, view_width // 3), format="png", width=view_width)
        self.live = w.Image(value=placeholder_png(256), format="png", width=256, layout=w.Layout(display="none"))
        tabs = w.Tab(
            children=[
                w.VBox([self.model, self.source, self.picture, self.upload]),
                w.VBox([self.method, self.note, self.layer, self.unit, self.target, self.own, self.auto]),
                w.VBox([self.compare, self.method_b, self.layer_b]),
            ]
        )
        for i, title in enumerate(("model & image", "method", "compare")):
            tabs.set_title(i, title)
        self.tabs = tabs
        tabs.selected_index = 1
        self.panel = run_panel(self._run, [tabs], threaded=threaded)
        self.panel.layout = w.Layout(width="400px", min_width="360px")
        super().__init__([self.panel, w.VBox([self.live, self.view])])
        self.model.observe(self._new_model, "value")
        self.source.observe(self._new_source, "value")
        self.upload.observe(self._new_upload, "value")
        self.method.observe(self._new_method, "value")
        self.layer.observe(self._new_layer, "value")
        self._setup_model()
        self._new_method()
        for control in (self.picture, self.method, self.layer, self.unit, self.target, self.compare, self.method_b, self.layer_b):
            control.observe(self._changed, "value")
        for controls in self.params.values():
            for control in controls.values():
                control.observe(self._changed, "value")

    def _changed(self, _change: Any = None) -> None:
        """A control changed: quick methods answer at once (when ``auto`` is on and nothing runs)."""
        quick = BY_NAME[self.method.value].quick and (not self.compare.value or BY_NAME[self.method_b.value].quick)
        if self.auto.value and quick and not self.panel.running:
            self.panel.click()

    # --- controls ------------------------------------------------------------
    def _setup_model(self) -> None:
        km = self.km
        self._dataset, self._channels = None, {}
        self.layer.options = self.layer_b.options = list(km.spec.layers)
        self.layer.value, self.layer_b.value = km.spec.last_conv, km.spec.layers[0]
        self.target.options = list(km.class_names)
        self.target.value = km.class_names[km.examples[0].label] if km.examples else km.class_names[0]
        self._new_source()
        self._new_layer()

    def _new_model(self, change: Any) -> None:
        name, note = change["new"], ""
        if name not in self.models:
            self.panel.status.value = f"loading {name} …"
            printed = io.StringIO()
            try:
                with redirect_stdout(printed):  # the offline fallback's one line goes to the status bar
                    self.models[name] = load_model(name)
            except USER_ERRORS as err:
                self.panel.status.value = message(err)
                return
            note = printed.getvalue().strip().splitlines()[-1] if printed.getvalue().strip() else ""
        self.km = self.models[name]
        if self.km.name != name:  # offline: ShapesNet was loaded instead; show what is really loaded
            self.models[self.km.name] = self.km
            self.model.value = self.km.name
        self._setup_model()
        self.panel.status.value = note or f"model: {self.km.description}"

    def _new_source(self, _change: Any = None) -> None:
        if self.source.value == "examples":
            self._pictures(image_picker(self.km).options)
        elif self.source.value == "image set":
            data = self.dataset()
            self._pictures([(f"{i}: {data.label_names[data.labels[i]]}", img) for i, img in enumerate(data.images)])
        else:
            self._new_upload()

    def _pictures(self, options: Any) -> None:
        """New image choices, the first one selected."""
        self.picture.options = list(options)
        self.picture.value = self.picture.options[0][1] if self.picture.options else None

    def _new_upload(self, _change: Any = None) -> None:
        files = self.upload.value
        if self.source.value != "upload":
            return
        if not files:
            self.panel.status.value = "upload an image file (JPEG / PNG) with the button"
            self._pictures([])
            return
        f = files[0]
        try:
            img = load_image(Image.open(io.BytesIO(bytes(f["content"]))))
        except (OSError, ValueError) as err:
            self.panel.status.value = f"⚠ {f['name']} is not an image this kit can read ({err})"
            return
        self._pictures([(f["name"], img)])

    def _new_method(self, change: Any = None) -> None:
        m = BY_NAME[self.method.value]
        for name, control in (("layer", self.layer), ("unit", self.unit), ("class", self.target)):
            control.layout.display = None if name in m.uses else "none"
        self.unit.min = -1 if "class" in m.uses else 0  # an attribution explains the class at unit -1
        if change is not None and "class" in m.uses and "class" not in BY_NAME[change["old"]].uses:
            self.unit.value = -1  # from a unit method to an attribution: explain the class again
        self.unit.tooltip = "-1: explain the class" if "class" in m.uses else ""
        self.own.children = list(self.params[m.name].values())
        self.note.value = f"<i>{m.note}</i>" if m.note else ""

    def _new_layer(self, _change: Any = None) -> None:
        n = self.channels(self.layer.value)
        self.unit.max = n - 1
        self.unit.description = f"unit <{n}"

    def channels(self, layer: str) -> int:
        """Number of channels of ``layer`` (one forward pass up to it, remembered)."""
        if layer not in self._channels:
            x = torch.zeros(1, 3, self.km.input_size, self.km.input_size, device=self.km.device)
            self._channels[layer] = len(filters.activation_maps(self.km.model, x, layer))
        return self._channels[layer]

    def dataset(self) -> Any:
        """The image set of :func:`image_set` for this model (built once, small in fast mode)."""
        if self._dataset is None:
            printed = io.StringIO()
            with redirect_stdout(printed):  # "Imagenette is not downloaded → …": one line in the status bar
                self._dataset = image_set(self.km, n=budget(60, 12))
            lines = printed.getvalue().strip().splitlines()
            self.panel.status.value = lines[-1] if lines else f"image set: {len(self._dataset)} images"
        return self._dataset

    # --- running ------------------------------------------------------------
    def settings(self, method: str, layer: str) -> dict[str, Any]:
        """The validated settings of one computation (raises ``ValueError`` with one line for bad ones)."""
        if self.picture.value is None:
            raise ValueError("no image: pick one (or upload a file on the 'model & image' tab)")
        m = BY_NAME[method]
        target = resolve_class(self.km, self.target.value) if "class" in m.uses else 0
        unit = int(self.unit.value) if "unit" in m.uses and ("class" not in m.uses or self.unit.value >= 0) else None
        if unit is not None and not 0 <= unit < self.channels(layer):
            raise ValueError(f"{layer} has {self.channels(layer)} channels: unit must be in 0..{self.channels(layer) - 1}")
        params = {name: c.value for name, c in self.params[method].items()}
        return {"method": method, "layer": layer, "unit": unit, "target": target, "params": params}

    def key(self, s: dict[str, Any]) -> tuple:
        """The cache key: model, image and every setting that changes the result."""
        img = self.picture.value
        digest = hashlib.sha1(img.tobytes()).hexdigest() if isinstance(img, Image.Image) else str(id(img))
        m = BY_NAME[s["method"]]
        used = tuple(s[k] for k in ("layer", "unit", "target") if k.replace("target", "class") in m.uses)
        return (self.km.name, digest, s["method"], used, tuple(sorted(s["params"].items())))

    def compute(self, s: dict[str, Any], job: Run, live: bool) -> list[Panel]:
        """Run one method through the registry (counted in :attr:`calls`) and draw its result."""
        self.calls += 1
        m = BY_NAME[s["method"]]
        x = self.km.preprocess(self.picture.value)

        def show(img: Any) -> None:
            pic = img if isinstance(img, np.ndarray) else self.km.deprocess(img[0])
            self.live.value = to_png(pic, 256)

        if live and not m.quick:
            self.live.layout.display = None
        data: Any = x
        size = 0
        if m.data == "image set":
            images = self.dataset().images
            data, size = (self.km.preprocess(images[i : i + 64]) for i in range(0, len(images), 64)), len(images)
        callback = job.steps(m.steps(s["params"]), show) if m.progress else None
        result = m.run(self.km, data, s["target"], layer=s["layer"], unit=s["unit"], params=s["params"], callback=callback)
        shown = Shown(self.km, x, self.km.deprocess(x[0]), s["layer"], s["unit"], s["target"], s["params"], size)
        return DRAW[m.draws](m, result, shown)

    def _run(self, job: Run) -> str:
        runs = [self.settings(self.method.value, self.layer.value)]
        if self.compare.value:
            runs.append(self.settings(self.method_b.value, self.layer_b.value))
        key = tuple(self.key(s) for s in runs)
        if key in self.cache:
            self.view.value, note = self.cache[key]
            self.cache.move_to_end(key)
            return f"{note} (cached)"
        results = []
        for s in runs:
            panels = self.compute(s, job, live=True)
            if job.stopped:
                return "stopped: kept the image so far"
            results.append((s, panels))
        self.live.layout.display = "none"
        if self.compare.value:
            (sa, pa), (sb, pb) = results
            label = lambda s, p: f"{s['method']} @ {s['layer']}: {p[1]}"  # noqa: E731
            png = panels_png([pa[0][0] if len(pa) > 1 else pa[-1][0], pa[-1][0], pb[-1][0]],
                             ["input", label(sa, pa[-1]), label(sb, pb[-1])], [None, pa[-1][2], pb[-1][2]])  # fmt: skip
            note = f"A: {sa['method']} @ {sa['layer']}  |  B: {sb['method']} @ {sb['layer']}"
        else:
            (s, panels) = results[0]
            png = panels_png([p[0] for p in panels], [p[1] for p in panels], [p[2] for p in panels], size=3.6)
            note = f"{s['method']} on {self.km.name}"
        self.view.value = png
        self.cache[key] = (png, note)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return note


def explorer(km: KitModel | None = None, threaded: bool = True) -> Explorer:
    """The explorer app for ``km`` (default: :func:`load_model`'s model — ShapesNet when offline).

    Example:
        >>> display(explorer(load_model()))
    """
    return Explorer(km if km is not None else load_model(), threaded=threaded)


__all__ = ["DRAW", "Explorer", "Shown", "explorer"]
