"""The explorer: one app over every method of the lecture, for presenting live (``notebooks/explorer.ipynb``).

Pick a model, an image (the model's examples, the image set of :func:`~cnnviz_helpers.last_layer.image_set`
or an uploaded file) and a method of the registry (:data:`cnnviz_helpers.methods.METHODS`: which
shared controls it uses — layer, unit, class —, its own settings, quick or slow, what it draws).
The app holds no method table of its own: a method added to the registry appears here. Then Run:

- Run starts, Stop (a separate button) stops: a synthesis shows its image as it improves in the
  result view, and Stop leaves the image so far there, titled "stopped at step k of N"; a second
  click on Run never stops or queues a run; a failed run clears the old result;
- results are cached by their parameters, so going back to a setting is instant;
- every control validates (class names must exist); a unit out of the layer's range is replaced by
  the nearest one, and the status line says so; a bad value is one line in the status bar, never a
  traceback;
- compare mode draws two methods (or one method at two layers) on the same image side by side;
- results are drawn at display resolution and fit the visible window (see :func:`.plotting.panels_png`).

The notebooks' section widgets are the same app, compact, on one method or a few
(:func:`method_widget`): a fix to a control, a message or a drawing here lands in every widget.

Example:
    >>> app = explorer(load_model())
    >>> display(app)
    >>> app.method.value = "Grad-CAM"; app.panel.click()   # what the Run button does
    >>> display(method_widget(km, "occlusion"))            # 04's widget
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import torch
from PIL import Image

from .. import filters
from ..core.config import budget
from ..core.i18n import _
from ..core.images import attribution_heatmap, image_grid, load_image
from ..methods import BY_NAME, METHODS, Method, occlusion_window, style_image
from ..models.image_sets import image_set
from ..models.loading import SPECS, KitModel, load_model
from .dissection import outlined, unit_title
from .plotting import MAGNITUDE, SIGNED, overlay, panels_png
from .widgets import (
    USER_ERRORS,
    Run,
    RunStopped,
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
    name = _(m.name)
    return [
        (s.image, what, None),
        (a.numpy(), name, MAGNITUDE),
        (overlay(s.image, a), _("overlay: {method}").format(method=name), None),
    ]


def _occlusion(m: Method, occ: Any, s: Shown) -> list[Panel]:
    window, stride = occlusion_window(s.params, s.x.shape[-1])
    rows, cols = occ.drops.shape
    title = _("drop per window: {n} windows of {window} px, stride {stride} px").format(
        n=rows * cols, window=window, stride=stride
    )
    return [*_map(m, occ.heatmap[None], s)[:2], (occ.drops.cpu().numpy(), title, SIGNED)]


def _maps(_m: Method, maps: torch.Tensor, s: Shown) -> list[Panel]:
    lo = min(s.unit or 0, len(maps) - 1)
    shown = maps[lo : lo + int(s.params["channels"])]
    silent = float(filters.zero_maps(maps).float().mean())
    title = _("{layer} ch. {lo}–{hi} of 0–{last} ({silent:.0%} all-zero)").format(
        layer=s.layer, lo=lo, hi=lo + len(shown) - 1, last=len(maps) - 1, silent=silent
    )
    return [(s.image, _("input"), None), (image_grid(shown, fill=np.nan), title, MAGNITUDE)]


def _patches(_m: Method, top: Any, s: Shown) -> list[Panel]:
    tiles = s.km.deprocess(top.patches)
    return [
        (
            image_grid(tiles, ncols=3, per_image_norm=False),
            _("{unit}: top 9 of {n} images").format(unit=f"{s.layer}[{s.unit}]", n=s.size),
            None,
        )
    ]


def _dissection(_m: Method, top: Any, s: Shown) -> list[Panel]:
    """The unit's top images of the concept set, its region outlined; its label and IoU in the title."""
    tiles = np.stack([outlined(p, r) for p, r in zip(s.km.deprocess(top.images), top.regions)])
    return [(image_grid(tiles, ncols=4, per_image_norm=False), unit_title(top).replace(": ", ":\n", 1), None)]


def _picture(km: KitModel, out: Any) -> np.ndarray:
    """A method's image (``HxWx3`` array or normalised ``[1, 3, H, W]``) as ``HxWx3`` in [0, 1]."""
    return out if isinstance(out, np.ndarray) else km.deprocess(out[0])


def _beside(m: Method, s: Shown) -> list[Panel]:
    """The panels a synthesis is shown beside (:attr:`Method.beside`): its input and / or style image."""
    return [(s.image, _("input"), None) if b == "image" else (np.asarray(load_image(style_image(s.params))) / 255.0, _("style"), None)
            for b in m.beside]  # fmt: skip


def _image(m: Method, out: Any, s: Shown) -> list[Panel]:
    """A synthesized image, beside what it starts from, with the class the model now sees in it."""
    picture = _picture(s.km, out)
    x = s.km.preprocess(Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8)))
    name, p = s.km.predict(x, 1)[0][0]
    return [*_beside(m, s), (picture, _("{method} → {name} ({p:.0%})").format(method=_(m.name), name=name, p=p), None)]


def stopped_panels(m: Method, image: Any, s: Shown, step: int, total: int) -> list[Panel]:
    """What Stop leaves in the view: the image so far, titled with where the run stopped."""
    return [
        *_beside(m, s),
        (
            _picture(s.km, image),
            _("{method}: stopped at step {step} of {total}").format(method=_(m.name), step=step, total=total),
            None,
        ),
    ]


def compare_panel(panels: list[Panel]) -> Panel:
    """The panel compare mode shows of a result: its first heatmap (drawn with a colorbar), else its last panel."""
    return next((p for p in panels if p[2] is not None), panels[-1])


def used_layer(s: dict[str, Any]) -> str:
    """The layer (and unit) a run used, as ``"features.2[3]"``; ``""`` for a method that used none.

    An attribution that explains the class (no unit chosen) uses no layer unless it is Grad-CAM-like
    (``"layer"`` without ``"unit"`` in :attr:`Method.uses`).
    """
    m = BY_NAME[s["method"]]
    if "layer" not in m.uses or (s["unit"] is None and "unit" in m.uses):
        return ""
    return f"{s['layer']}" + (f"[{s['unit']}]" if s["unit"] is not None else "")


def short_title(s: dict[str, Any], which: str) -> str:
    """A compare-mode title: ``"A: Grad-CAM"`` and, on a second line, the layer (unit) — when the run used one."""
    where = used_layer(s)
    return f"{which}: {_(s['method'])}" + (f"\n@ {where}" if where else "")


def _adversarial(m: Method, adv: torch.Tensor, s: Shown) -> list[Panel]:
    (before, p0), (after, p1) = s.km.predict(s.x, 1)[0][0], s.km.predict(adv, 1)[0][0]
    picture = s.km.deprocess(adv[0])
    return [(s.image, f"{before} ({p0:.0%})", None), ((picture - s.image).mean(-1), _("change (mean over RGB)"), SIGNED),
            (picture, f"{_(m.name)}: {after} ({p1:.0%})", None)]  # fmt: skip


#: How each kind of result (:data:`cnnviz_helpers.methods.Draws`) is drawn (compare mode shows :func:`compare_panel`).
DRAW: dict[str, Callable[[Method, Any, Shown], list[Panel]]] = {
    "map": _map, "occlusion": _occlusion, "maps": _maps, "patches": _patches, "dissection": _dissection, "image": _image,
    "adversarial": _adversarial,
}  # fmt: skip


def _check_names(names: Sequence[str], among: Sequence[str]) -> None:
    """Raise a one-line ``ValueError`` that lists the choices when a method name is not one of ``among``."""
    for name in names:
        if name not in among:
            raise ValueError(_("no method named {name!r}: pick one of {among}").format(name=name, among=", ".join(among)))


class Explorer(w.HBox):
    """The app: a side panel of controls (model, image, method, its controls, compare) and a large result.

    Attributes (the controls, for scripts and tests): ``model``, ``source``, ``picture``, ``upload``,
    ``method``, ``layer``, ``unit``, ``target``, ``params`` (``{method: {name: widget}}``),
    ``compare``, ``method_b``, ``layer_b``, ``auto`` (quick methods run on every change; others wait
    for Run), ``panel`` (the :class:`~.widgets.RunPanel`), ``view``, ``cache`` and ``calls`` (how many
    computations ran: a cached setting does not add one).

    Args:
        km: the model shown first.
        threaded: run in a background thread (``False``: in the click handler, for tests).
        cache_size: results kept.
        view_width: the width of the result's placeholder.
        methods: the registry's methods offered (names). ``None``: all of them, with the model and
            compare tabs. Given, the app is compact, a section widget (:func:`method_widget`): one
            column of the image (unless no method reads one), the method (when there are several)
            and its controls, no model or compare tab.
        method: the method selected first (default ``"saliency"``, or the first of ``methods``).
        images: the image set of methods that read one (default: :func:`image_set`'s).
    """

    def __init__(
        self,
        km: KitModel,
        threaded: bool = True,
        cache_size: int = 64,
        view_width: int = 820,
        *,
        methods: Sequence[str] | None = None,
        method: str | None = None,
        images: Sequence[Any] | None = None,
    ) -> None:
        _check_names(methods or (), list(BY_NAME))
        _check_names([method] if method else [], list(methods or BY_NAME))
        offered = [BY_NAME[n] for n in methods] if methods is not None else list(METHODS)
        self.compact, self.images = methods is not None, images
        self.km = km
        self.models: dict[str, KitModel] = {km.name: km}
        self.cache: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
        self.cache_size, self.calls, self.view_width = cache_size, 0, view_width
        self._dataset: Any = None
        self._channels: dict[str, int] = {}
        style_ = {"description_width": "80px"}
        names = ["shapesnet", *(n for n in SPECS if n != "shapesnet")]
        self.model = w.Dropdown(options=names, value=km.name, description=_("model"), style=style_)
        self.source = w.ToggleButtons(
            options=[(_("examples"), "examples"), (_("image set"), "image set"), (_("upload"), "upload")],
            value="examples",
            style={"button_width": "88px"},
        )
        self.picture = w.Dropdown(description=_("image"), style=style_)
        self.upload = w.FileUpload(accept="image/*", multiple=False, description=_("upload"))
        first = method or (offered[0].name if self.compact else "saliency")
        self.method = w.Dropdown(
            options=[(_(m.name), m.name) for m in offered], value=first, description=_("method"), style=style_
        )
        self.note = w.HTML()
        self.layer = w.Dropdown(description="layer", style=style_)
        self.unit = w.IntText(value=-1, description="unit", style=style_)  # checked (and clamped) in settings()
        self.unit_min = -1
        self.target = w.Combobox(description="class", ensure_option=False, placeholder="type a class name", style=style_)
        self.params = {m.name: {p.name: param_widget(p) for p in m.params} for m in offered}
        self.own = w.VBox()
        self.compare = w.Checkbox(value=False, description=_("compare side by side"), indent=False)
        self.auto = w.Checkbox(value=True, description=_("quick methods: run on every change"), indent=False)
        self.method_b = w.Dropdown(
            options=[(_(m.name), m.name) for m in METHODS], value="Grad-CAM", description=_("B method"), style=style_
        )
        self.layer_b = w.Dropdown(description=_("B layer"), style=style_)
        # hidden until the first result (no empty grey box); CSS keeps it inside the visible window
        self.view = w.Image(value=placeholder_png(view_width, view_width // 3), format="png", layout=w.Layout(display="none"))
        self.view.add_class("cnnviz-result")
        column = [self.method, self.note, self.layer, self.unit, self.target, self.own, self.auto]
        if self.compact:  # one column: the image if a method reads one, the method if there is a choice
            self.picture.layout.display = None if any(m.data == "image" for m in offered) else "none"
            self.method.layout.display = None if len(offered) > 1 else "none"
            side = [self.picture, *(column if any(m.quick for m in offered) else column[:-1])]  # "auto": for quick ones
        else:
            tabs = w.Tab(
                children=[
                    w.VBox([self.model, self.source, self.picture, self.upload]),
                    w.VBox(column),
                    w.VBox([self.compare, self.method_b, self.layer_b]),
                ]
            )
            for i, title in enumerate((_("model & image"), _("method"), _("compare"))):
                tabs.set_title(i, title)
            tabs.selected_index = 1
            side = [tabs]
        self.panel = run_panel(self._run, side, threaded=threaded, clears=[self.view])
        self._pending = False
        self.panel.on_done = self._after
        self.panel.layout = w.Layout(width="420px", min_width="420px")  # the side panel of RunPanel
        super().__init__([self.panel, w.VBox([self.view], layout=w.Layout(flex="1 1 auto", min_width="0"))])
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
        if self.auto.value and quick:
            self._pending = self.panel.running  # a change during a run is answered when it ends (:meth:`_after`)
            if not self._pending:
                self.panel.click()

    def _after(self) -> None:
        """A run ended: answer a change made while it ran (quick methods, ``auto`` on)."""
        if self._pending:
            self._pending = False
            self._changed()

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
            self.panel.status.value = _("loading {name} …").format(name=name)
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
        self.panel.status.value = note or _("model: {description}").format(description=self.km.description)

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
            self.panel.status.value = _("upload an image file (JPEG / PNG) with the button")
            self._pictures([])
            return
        f = files[0]
        try:
            img = load_image(Image.open(io.BytesIO(bytes(f["content"]))))
        except (OSError, ValueError):
            self.panel.status.value = _("⚠ {name} is not an image this kit can read: upload a JPEG or PNG file").format(
                name=f["name"]
            )
            return
        self._pictures([(f["name"], img)])

    def _new_method(self, change: Any = None) -> None:
        m = BY_NAME[self.method.value]
        for name, control in (("layer", self.layer), ("unit", self.unit), ("class", self.target)):
            control.layout.display = None if name in m.uses else "none"
        self.unit_min = -1 if "class" in m.uses else 0  # an attribution explains the class at unit -1
        if change is not None and "class" in m.uses and "class" not in BY_NAME[change["old"]].uses:
            self.unit.value = -1  # from a unit method to an attribution: explain the class again
        if "class" not in m.uses and self.unit.value < 0:
            self.unit.value = 0  # a unit method starts at the first unit, silently
        if change is not None and m.kind == "adversarial" and "class" in m.uses and self.picture.value is not None:
            self.target.value = self.other_class()  # a fooling target must differ from what the model sees
        self.unit.tooltip = "-1: explain the class" if "class" in m.uses else ""
        self.own.children = list(self.params[m.name].values())
        self.note.value = f"<i>{_(m.note)}</i>" if m.note else ""

    def other_class(self) -> str:
        """A class other than the one the model predicts for the current image (the next one)."""
        predicted = self.km.class_index(self.km.predict(self.km.preprocess(self.picture.value), 1)[0][0][0])
        return self.km.class_names[(predicted + 1) % len(self.km.class_names)]

    def _new_layer(self, _change: Any = None) -> None:
        self.unit.description = _("unit <{n}").format(n=self.channels(self.layer.value))

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
            self.panel.status.value = lines[-1] if lines else _("image set: {n} images").format(n=len(self._dataset))
        return self._dataset

    # --- running ------------------------------------------------------------
    def settings(self, method: str, layer: str) -> dict[str, Any]:
        """The validated settings of one computation (raises ``ValueError`` with one line for bad ones)."""
        if self.picture.value is None:
            raise ValueError("no image: pick one (or upload a file on the 'model & image' tab)")
        m = BY_NAME[method]
        target = resolve_class(self.km, self.target.value) if "class" in m.uses else 0
        unit, note = self.checked_unit(m, layer)
        params = {name: c.value for name, c in self.params[method].items()}
        return {"method": method, "layer": layer, "unit": unit, "target": target, "params": params, "note": note}

    def checked_unit(self, m: Method, layer: str) -> tuple[int | None, str]:
        """The unit a method gets (``None``: explain the class) and a line saying what replaced an out-of-range one."""
        if "unit" not in m.uses:
            return None, ""
        asked, n, low = int(self.unit.value), self.channels(layer), -1 if "class" in m.uses else 0
        used = min(max(asked, low), n - 1)
        note = f"⚠ unit {asked} is out of range for {layer} ({low}..{n - 1}): used {used}" if used != asked else ""
        return (used if used >= 0 else None), note

    def key(self, s: dict[str, Any]) -> tuple:
        """The cache key: model, image and every setting that changes the result."""
        img = self.picture.value
        digest = hashlib.sha1(img.tobytes()).hexdigest() if isinstance(img, Image.Image) else str(id(img))
        m = BY_NAME[s["method"]]
        used = tuple(s[k] for k in ("layer", "unit", "target") if k.replace("target", "class") in m.uses)
        return (self.km.name, digest, s["method"], used, tuple(sorted(s["params"].items())))

    def compute(self, s: dict[str, Any], job: Run) -> list[Panel]:
        """Run one method through the registry (counted in :attr:`calls`) and draw its result.

        A synthesis's images so far replace the view as they come; when Stop ends it, the panels say
        at which step (:func:`stopped_panels`).
        """
        self.calls += 1
        m = BY_NAME[s["method"]]
        x = self.km.preprocess(self.picture.value)

        def show(img: Any) -> None:
            self._show(to_png(_picture(self.km, img), 384))

        data: Any = x
        size = 0
        if m.data == "image set":
            images = self.images if self.images is not None else self.dataset().images
            data, size = (self.km.preprocess(list(images[i : i + 64])) for i in range(0, len(images), 64)), len(images)
        callback = job.steps(m.steps(s["params"]), show) if m.progress else None
        shown = Shown(self.km, x, self.km.deprocess(x[0]), s["layer"], s["unit"], s["target"], s["params"], size)
        try:
            result = m.run(self.km, data, s["target"], layer=s["layer"], unit=s["unit"], params=s["params"], callback=callback)
        except RunStopped:
            result = None
        if job.stopped:
            if job.last_image is None:
                raise RunStopped
            return stopped_panels(m, job.last_image, shown, job.step, job.total)
        return DRAW[m.draws](m, result, shown)

    def _show(self, png: bytes) -> None:
        self.view.value = png
        self.view.layout.display = None

    def _run(self, job: Run) -> str:
        runs = [self.settings(self.method.value, self.layer.value)]
        if self.compare.value:
            runs.append(self.settings(self.method_b.value, self.layer_b.value))
        notes = "".join(f" — {s['note']}" for s in runs if s["note"])
        key = tuple(self.key(s) for s in runs)
        if key in self.cache:
            png, note = self.cache[key]
            self.cache.move_to_end(key)
            self._show(png)
            return _("{note} (cached)").format(note=note) + notes
        results = [(s, self.compute(s, job)) for s in runs]
        if job.stopped:
            (s, panels) = results[-1]
            self._show(panels_png([p[0] for p in panels], [p[1] for p in panels], [p[2] for p in panels]))
            return _("{title} (Run starts again)").format(title=panels[-1][1])
        if self.compare.value:
            (sa, pa), (sb, pb) = results
            a, b = compare_panel(pa), compare_panel(pb)
            image = self.km.deprocess(self.km.preprocess(self.picture.value)[0])
            png = panels_png([image, a[0], b[0]], [_("input"), short_title(sa, "A"), short_title(sb, "B")], [None, a[2], b[2]])  # fmt: skip
            note = "  |  ".join(short_title(r, which).replace("\n", " ") for r, which in ((sa, "A"), (sb, "B")))
        else:
            (s, panels) = results[0]
            png = panels_png([p[0] for p in panels], [p[1] for p in panels], [p[2] for p in panels])
            note = self.summary(s, panels)
        self._show(png)
        self.cache[key] = (png, note)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return note + notes

    def summary(self, s: dict[str, Any], panels: list[Panel]) -> str:
        """The status line of a result: the method and the model; in a compact app, what the result shows.

        That is the last panel's title (one line), and for an attribution map which method explains what.
        """
        if self.compact and BY_NAME[s["method"]].draws == "map":
            return _("{method} of {what}").format(method=_(s["method"]), what=panels[0][1])
        if self.compact:
            return panels[-1][1].replace("\n", " ")
        return _("{method} on {model}").format(method=_(s["method"]), model=self.km.name)


def method_widget(
    km: KitModel,
    *methods: str,
    method: str | None = None,
    images: Sequence[Any] | None = None,
    threaded: bool = True,
) -> Explorer:
    """A section widget: the explorer, compact, on one method of the registry or a choice of a few.

    The same controls (the method's layer / unit / class and its own settings), checks, Run and
    Stop, cache and drawings as in the explorer; the status line says what the result's last
    panel shows. The notebooks' widgets (:mod:`.sections`) are calls of this.

    Args:
        km: the model.
        methods: names of :data:`~cnnviz_helpers.methods.METHODS` entries, e.g. ``"occlusion"``.
        method: the one selected first (default: the first).
        images: the image set of a method that reads one (``"max-activating patches"``).

    Example:
        >>> display(method_widget(km, "occlusion"))
        >>> display(method_widget(km, "saliency", "Grad-CAM", method="Grad-CAM"))
        >>> display(method_widget(km, "max-activating patches", images=image_set(km).images))
    """
    if not methods:
        raise ValueError(_('name at least one method, e.g. method_widget(km, "occlusion")'))
    return Explorer(km, threaded=threaded, methods=methods, method=method, images=images)


def explorer(km: KitModel | None = None, threaded: bool = True) -> Explorer:
    """The explorer app for ``km`` (default: :func:`load_model`'s model — ShapesNet when offline).

    Example:
        >>> display(explorer(load_model()))
    """
    return Explorer(km if km is not None else load_model(), threaded=threaded)


__all__ = ["DRAW", "Explorer", "Shown", "explorer", "method_widget"]
