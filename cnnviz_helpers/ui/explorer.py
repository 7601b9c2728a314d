"""The explorer: one app over every method of the lecture, for presenting live (``notebooks/explorer.ipynb``).

Pick a model, an image (the model's examples, the image set of :func:`~cnnviz_helpers.last_layer.image_set`
or an uploaded file) and a method from :data:`METHODS` — a table of :class:`MethodSpec` rows, one per
method: which shared controls it uses (layer, unit, class), its own controls, and a ``compute`` that
calls the method's public function. Then Run:

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

from .. import (
    adversarial,
    class_visualization,
    deepdream,
    filters,
    gradcam,
    guided_backprop,
    inversion,
    occlusion,
    patches,
    saliency,
    style,
)
from ..core.config import budget
from ..core.i18n import N_, _
from ..core.images import image_grid, load_image
from ..models.image_sets import image_set
from ..models.loading import SPECS, KitModel, load_model
from .plotting import MAGNITUDE, SIGNED, overlay, panels_png
from .widgets import USER_ERRORS, Run, image_picker, message, placeholder_png, resolve_class, run_panel, to_png

#: A panel of the result: ``(image, title, colormap or None)``.
Panel = tuple[Any, str, "str | None"]


@dataclass
class Context:
    """What a method's ``compute`` gets: the model, the image, the shared choices, its own controls' values."""

    km: KitModel
    x: torch.Tensor  # the image, preprocessed: [1, 3, S, S]
    image: np.ndarray  # the same image, HxWx3 in [0, 1]
    layer: str
    unit: int
    target: int
    params: dict[str, Any]
    job: Run
    show: Callable[[Any], None]  # shows an intermediate image (a normalised tensor or an HxWx3 array)
    dataset: Callable[[], Any]  # the image set (built on first use)

    def steps(self, total: int) -> Callable[..., bool]:
        """The step callback for a synthesis: progress bar + live image + stop flag."""
        return self.job.steps(total, self.show)

    def picture(self, x: torch.Tensor) -> np.ndarray:
        return self.km.deprocess(x[0])


@dataclass(frozen=True)
class Param:
    """A method's own control: an integer or float slider (``log``: a log-scale slider), with its range."""

    name: str
    value: float
    min: float
    max: float
    step: float = 1
    log: bool = False

    def widget(self) -> Any:
        common = {"description": _(self.name), "continuous_update": False, "style": {"description_width": "110px"}}
        if self.log:
            return w.FloatLogSlider(value=self.value, base=10, min=self.min, max=self.max, step=self.step, **common)
        if isinstance(self.step, int) and float(self.value).is_integer():
            return w.IntSlider(value=int(self.value), min=int(self.min), max=int(self.max), step=self.step, **common)
        return w.FloatSlider(value=self.value, min=self.min, max=self.max, step=self.step, **common)


@dataclass(frozen=True)
class MethodSpec:
    """One row of the method table: what the explorer shows for a method and how it computes it.

    Attributes:
        name: the menu entry.
        compute: ``compute(ctx) -> panels``; the last panel is the one compare mode shows.
        uses: the shared controls it reads: ``"layer"``, ``"unit"``, ``"class"``.
        params: its own controls.
        quick: answers in well under a second (measured in ``bench/bench_explorer.py``).
        note: one line shown under the method menu.
    """

    name: str
    compute: Callable[[Context], list[Panel]]
    uses: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    quick: bool = False
    note: str = ""


def _map_panels(ctx: Context, heat: torch.Tensor, title: str) -> list[Panel]:
    """Input, the map (magnitude, with colorbar) and its overlay: what every attribution shows."""
    a = heat.detach().float().cpu()
    a = a.abs().amax(0) if a.ndim == 3 else a.abs()
    return [
        (ctx.image, f"{ctx.km.class_names[ctx.target]}", None),
        (a.numpy(), _(title), MAGNITUDE),
        (overlay(ctx.image, a), _("overlay: {title}").format(title=_(title)), None),
    ]


def _activations(ctx: Context) -> list[Panel]:
    maps = filters.activation_maps(ctx.km.model, ctx.x, ctx.layer)
    lo = min(ctx.unit, len(maps) - 1)
    shown = maps[lo : lo + int(ctx.params["channels"])]
    grid = image_grid(shown, fill=np.nan)
    silent = float(filters.zero_maps(maps).float().mean())
    title = _("{layer} ch. {lo}–{hi} of 0–{last} ({silent:.0%} all-zero)").format(
        layer=ctx.layer, lo=lo, hi=lo + len(shown) - 1, last=len(maps) - 1, silent=silent
    )
    return [(ctx.image, _("input"), None), (grid, title, MAGNITUDE)]


def _patches(ctx: Context) -> list[Panel]:
    data = ctx.dataset()
    batches = (ctx.km.preprocess(data.images[i : i + 64]) for i in range(0, len(data), 64))
    top = patches.max_activating_patches(ctx.km.model, batches, ctx.layer, ctx.unit, k=9, progress=False)
    tiles = ctx.km.deprocess(top.patches)
    return [
        (
            image_grid(tiles, ncols=3, per_image_norm=False),
            _("{layer}[{unit}]: top 9 of {n} images").format(layer=ctx.layer, unit=ctx.unit, n=len(data)),
            None,
        )
    ]


def _occlusion(ctx: Context) -> list[Panel]:
    win = int(ctx.params["window"] * ctx.km.input_size / 100)
    stride = max(1, min(win, int(ctx.params["stride"] * ctx.km.input_size / 100)))
    occ = occlusion.occlusion_map(ctx.km.model, ctx.x, ctx.target, max(win, 1), stride, progress=False)
    return [
        *_map_panels(ctx, occ.heatmap, _("occlusion: drop ({win} px window)").format(win=win))[:2],
        (occ.drops.cpu().numpy(), _("drop per window"), SIGNED),
    ]


def _attribution(fn: Callable[[Context], torch.Tensor], title: str) -> Callable[[Context], list[Panel]]:
    def compute(ctx: Context) -> list[Panel]:
        amap = fn(ctx)[0]
        if "Grad-CAM" in title and float(amap.abs().max()) == 0.0:
            raise ValueError(
                f"{title} at {ctx.layer} is zero everywhere (the weighted channel sum is ≤ 0 at every position, "
                f"the ReLU removes it): try a deeper layer such as {ctx.km.spec.last_conv}"
            )
        return _map_panels(ctx, amap, title)

    return compute


def _synthesis(fn: Callable[[Context], torch.Tensor | np.ndarray], title: str) -> Callable[[Context], list[Panel]]:
    """A method that optimises an image: shown as it improves, the final one with the top prediction."""

    def compute(ctx: Context) -> list[Panel]:
        out = fn(ctx)
        picture = out if isinstance(out, np.ndarray) else ctx.picture(out)
        x = ctx.km.preprocess(Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8)))
        name, p = ctx.km.predict(x, 1)[0][0]
        return [(picture, f"{_(title)} → {name} ({p:.0%})", None)]

    return compute


def _adversarial(fn: Callable[[Context], torch.Tensor], title: str) -> Callable[[Context], list[Panel]]:
    def compute(ctx: Context) -> list[Panel]:
        adv = fn(ctx)
        (before, p0), (after, p1) = ctx.km.predict(ctx.x, 1)[0][0], ctx.km.predict(adv, 1)[0][0]
        diff = (ctx.picture(adv) - ctx.image).mean(-1)
        return [(ctx.image, f"{before} ({p0:.0%})", None), (diff, _("change (mean over RGB)"), SIGNED), (ctx.picture(adv), f"{_(title)}: {after} ({p1:.0%})", None)]  # fmt: skip

    return compute


def _style_image(ctx: Context) -> Any:
    names = list(style.style_images())
    return style.style_images()[names[int(ctx.params["style #"]) % len(names)]]


STEPS = Param("steps", budget(100, 5), 1, 500)

#: The method table: one row per method, in lecture order.
METHODS: tuple[MethodSpec, ...] = (
    MethodSpec("activations", _activations, ("layer", "unit"), (Param("channels", 16, 1, 64),), quick=True,
               note="unit = first channel shown"),
    MethodSpec("max-activating patches", _patches, ("layer", "unit"), note="over the image set, not this image"),
    MethodSpec("occlusion", _occlusion, ("class",), (Param("window", 25, 5, 50), Param("stride", 25, 5, 50)), quick=True,
               note="window and stride in % of the image"),
    MethodSpec("saliency", _attribution(lambda c: saliency.saliency_map(c.km, c.x, c.target), "saliency"), ("class",), quick=True),
    MethodSpec("SmoothGrad", _attribution(lambda c: saliency.smoothgrad(c.km, c.x, c.target, n_samples=int(c.params["samples"]), noise_level=c.params["noise"], seed=0, progress=False), "SmoothGrad"),
               ("class",), (Param("samples", budget(25, 8), 2, 100), Param("noise", 0.15, 0.0, 0.5, 0.01))),
    MethodSpec("guided backprop", _attribution(lambda c: guided_backprop.guided_backprop(c.km, c.x, c.target), "guided backprop"), ("class",), quick=True),
    MethodSpec("Grad-CAM", _attribution(lambda c: gradcam.grad_cam(c.km, c.x, c.layer, c.target), "Grad-CAM"), ("layer", "class"), quick=True),
    MethodSpec("guided Grad-CAM", _attribution(lambda c: gradcam.guided_grad_cam(c.km, c.x, c.layer, c.target), "guided Grad-CAM"), ("layer", "class"), quick=True),
    MethodSpec("class visualization", _synthesis(lambda c: class_visualization.class_visualization(
        c.km, c.target, steps=int(c.params["steps"]), l2_reg=c.params["L2 λ"], callback=c.steps(int(c.params["steps"])),
        callback_every=max(1, int(c.params["steps"]) // 20), progress=False), "class"),
        ("class",), (STEPS, Param("L2 λ", 1e-3, -6, -1, 0.1, log=True))),
    MethodSpec("unit visualization", _synthesis(lambda c: class_visualization.unit_visualization(
        c.km, c.layer, c.unit, steps=int(c.params["steps"]), callback=c.steps(int(c.params["steps"])),
        callback_every=max(1, int(c.params["steps"]) // 20), progress=False), "unit"), ("layer", "unit"), (STEPS,)),
    MethodSpec("fooling image", _adversarial(lambda c: adversarial.fooling_image(
        c.km, c.x, c.target, steps=int(c.params["steps"]), callback=c.steps(int(c.params["steps"])), progress=False), N_("fooled")),
        ("class",), (STEPS,), note="class = the class to fool it into"),
    MethodSpec("adversarial (PGD)", _adversarial(lambda c: adversarial.pgd(
        c.km, c.x, eps=c.params["ε (/255)"] / 255, steps=int(c.params["steps"]), callback=c.steps(int(c.params["steps"])), progress=False), "PGD"),
        (), (Param("ε (/255)", 4.0, 0.5, 16.0, 0.5), Param("steps", budget(10, 3), 1, 50)), note="untargeted: away from the predicted class"),
    MethodSpec("DeepDream", _synthesis(lambda c: deepdream.deepdream(
        c.km, c.x, c.layer, channel=c.unit if c.params["one unit"] else None, steps=int(c.params["steps"]), octaves=int(c.params["octaves"]),
        callback=c.steps(int(c.params["steps"]) * int(c.params["octaves"])), progress=False), "DeepDream"),
        ("layer", "unit"), (Param("steps", budget(10, 2), 1, 50), Param("octaves", budget(3, 1), 1, 6), Param("one unit", 0, 0, 1))),
    MethodSpec("feature inversion", _synthesis(lambda c: inversion.feature_inversion(
        c.km, c.x, c.layer, steps=int(c.params["steps"]), tv_weight=c.params["TV weight"], callback=c.steps(int(c.params["steps"])), progress=False), N_("inverted")),
        ("layer",), (Param("steps", budget(200, 5), 1, 500), Param("TV weight", 0.3, -3, 1, 0.1, log=True))),
    MethodSpec("texture synthesis", _synthesis(lambda c: texture_picture(c), N_("texture")), (),
               (Param("style #", 0, 0, 9), Param("steps", budget(100, 3), 1, 300)), note="style # picks one of the style images"),
    MethodSpec("style transfer", _synthesis(lambda c: style.style_transfer(
        c.km, Image.fromarray((c.image * 255).astype(np.uint8)), _style_image(c), steps=int(c.params["steps"]),
        callback_every=max(1, int(c.params["steps"]) // 10), callback=c.steps(int(c.params["steps"])), progress=False,
        verbose=False).picture, N_("styled")),
        (), (Param("style #", 0, 0, 9), Param("steps", budget(100, 3), 1, 300)), note="content = this image"),
)  # fmt: skip


def texture_picture(ctx: Context) -> np.ndarray:
    """Texture synthesis of the chosen style image (the picture, HxWx3)."""
    steps = int(ctx.params["steps"])
    out = style.texture_synthesis(
        ctx.km, _style_image(ctx), steps=steps, callback_every=max(1, steps // 10), callback=ctx.steps(steps), progress=False
    )
    return out.picture


BY_NAME = {spec.name: spec for spec in METHODS}


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
        self.model = w.Dropdown(options=names, value=km.name, description=_("model"), style=style_)
        self.source = w.ToggleButtons(
            options=[(_("examples"), "examples"), (_("image set"), "image set"), (_("upload"), "upload")],
            value="examples",
            style={"button_width": "88px"},
        )
        self.picture = w.Dropdown(description=_("image"), style=style_)
        self.upload = w.FileUpload(accept="image/*", multiple=False, description=_("upload"))
        self.method = w.Dropdown(
            options=[(_(m.name), m.name) for m in METHODS], value="saliency", description=_("method"), style=style_
        )
        self.note = w.HTML()
        self.layer = w.Dropdown(description=_("layer"), style=style_)
        self.unit = w.BoundedIntText(value=0, min=0, max=0, description=_("unit"), style=style_)
        self.target = w.Combobox(description=_("class"), ensure_option=False, placeholder=_("type a class name"), style=style_)
        self.params = {m.name: {p.name: p.widget() for p in m.params} for m in METHODS}
        self.own = w.VBox()
        self.compare = w.Checkbox(value=False, description=_("compare side by side"), indent=False)
        self.auto = w.Checkbox(value=True, description=_("quick methods: run on every change"), indent=False)
        self.method_b = w.Dropdown(
            options=[(_(m.name), m.name) for m in METHODS], value="Grad-CAM", description=_("B method"), style=style_
        )
        self.layer_b = w.Dropdown(description=_("B layer"), style=style_)
        self.view = w.Image(value=placeholder_png(view_width, view_width // 3), format="png", width=view_width)
        self.live = w.Image(value=placeholder_png(256), format="png", width=256, layout=w.Layout(display="none"))
        tabs = w.Tab(
            children=[
                w.VBox([self.model, self.source, self.picture, self.upload]),
                w.VBox([self.method, self.note, self.layer, self.unit, self.target, self.own, self.auto]),
                w.VBox([self.compare, self.method_b, self.layer_b]),
            ]
        )
        for i, title in enumerate((_("model & image"), _("method"), _("compare"))):
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
        except (OSError, ValueError) as err:
            self.panel.status.value = _("⚠ {name} is not an image this kit can read ({err})").format(name=f["name"], err=err)
            return
        self._pictures([(f["name"], img)])

    def _new_method(self, _change: Any = None) -> None:
        spec = BY_NAME[self.method.value]
        for name, control in (("layer", self.layer), ("unit", self.unit), ("class", self.target)):
            control.layout.display = None if name in spec.uses else "none"
        self.own.children = list(self.params[spec.name].values())
        self.note.value = f"<i>{_(spec.note)}</i>" if spec.note else ""

    def _new_layer(self, _change: Any = None) -> None:
        n = self.channels(self.layer.value)
        self.unit.max = n - 1
        self.unit.description = _("unit <{n}").format(n=n)

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
        spec = BY_NAME[method]
        target = resolve_class(self.km, self.target.value) if "class" in spec.uses else 0
        if "unit" in spec.uses and not 0 <= self.unit.value < self.channels(layer):
            raise ValueError(f"{layer} has {self.channels(layer)} channels: unit must be in 0..{self.channels(layer) - 1}")
        params = {name: c.value for name, c in self.params[method].items()}
        return {"method": method, "layer": layer, "unit": int(self.unit.value), "target": target, "params": params}

    def key(self, s: dict[str, Any]) -> tuple:
        """The cache key: model, image and every setting that changes the result."""
        img = self.picture.value
        digest = hashlib.sha1(img.tobytes()).hexdigest() if isinstance(img, Image.Image) else str(id(img))
        spec = BY_NAME[s["method"]]
        used = tuple(s[k] for k in ("layer", "unit", "target") if k.replace("target", "class") in spec.uses)
        return (self.km.name, digest, s["method"], used, tuple(sorted(s["params"].items())))

    def compute(self, s: dict[str, Any], job: Run, live: bool) -> list[Panel]:
        """Run one method (counted in :attr:`calls`)."""
        self.calls += 1
        x = self.km.preprocess(self.picture.value)

        def show(img: Any) -> None:
            pic = img if isinstance(img, np.ndarray) else self.km.deprocess(img[0])
            self.live.value = to_png(pic, 256)

        if live and not BY_NAME[s["method"]].quick:
            self.live.layout.display = None
        ctx = Context(
            self.km, x, self.km.deprocess(x[0]), s["layer"], s["unit"], s["target"], s["params"], job, show, self.dataset
        )
        return BY_NAME[s["method"]].compute(ctx)

    def _run(self, job: Run) -> str:
        runs = [self.settings(self.method.value, self.layer.value)]
        if self.compare.value:
            runs.append(self.settings(self.method_b.value, self.layer_b.value))
        key = tuple(self.key(s) for s in runs)
        if key in self.cache:
            self.view.value, note = self.cache[key]
            self.cache.move_to_end(key)
            return _("{note} (cached)").format(note=note)
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
            note = _("{method} on {model}").format(method=_(s["method"]), model=self.km.name)
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


__all__ = ["METHODS", "Context", "Explorer", "MethodSpec", "Param", "explorer"]
