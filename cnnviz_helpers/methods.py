"""The method registry: one entry per method of the kit, the one table everything else reads.

Each :class:`Method` says what a method is (its public function, its kind, the paper), what a UI
shows for it (the shared controls it uses, its own :class:`Param` sliders with ranges and
defaults, quick or slow, what its result draws as) and how to call it from plain values
(:meth:`Method.run`). The explorer (``ui.explorer``), the section widgets (``ui.sections``), the
contract test, the bench's attribution cases, the sanity checks' default methods and the README's
methods table (:func:`methods_table`) all read :data:`METHODS`; adding a method is its module, its
entry here and its tests (CONTRIBUTING.md, "Adding a method").

Pure data and plain calls: no matplotlib, no ipywidgets.

Example:
    >>> m = BY_NAME["Integrated Gradients"]
    >>> heat = m.run(km, x, target=3, params={"steps": 32})          # [1, 3, H, W]
    >>> [e.name for e in METHODS if e.kind == "attribution"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import torch

from . import (
    adversarial,
    attribution_metrics,
    class_visualization,
    deepdream,
    dissection,
    filters,
    gradcam,
    guided_backprop,
    integrated_gradients,
    inversion,
    occlusion,
    patches,
    saliency,
    style_transfer,
    texture_synthesis,
)
from .core.config import budget
from .core.images import deprocess
from .core.options import Callback
from .models.targets import Attribution, ModelLike, Target, Unit, unwrap

Kind = Literal["attribution", "synthesis", "feature", "adversarial"]
#: What a result draws as: ``"map"`` an attribution ``[N, H, W]`` / ``[N, 3, H, W]``; ``"occlusion"`` an
#: :class:`~cnnviz_helpers.occlusion.OcclusionMap`; ``"maps"`` a layer's feature maps ``[C, h, w]``;
#: ``"patches"`` a :class:`~cnnviz_helpers.patches.Patches`; ``"dissection"`` a unit's
#: :class:`~cnnviz_helpers.dissection.TopImages` (regions outlined, its concept and IoU); ``"image"`` a synthesized picture (``HxWx3``
#: array or normalised ``[1, 3, H, W]``); ``"adversarial"`` a perturbed copy of the input ``[N, 3, H, W]``.
Draws = Literal["map", "occlusion", "maps", "patches", "dissection", "image", "adversarial"]
Control = Literal["layer", "unit", "class"]

#: Shown when a ReLU'd class-activation map is zero everywhere (both UIs say it with these words).
ZERO_CAM = (
    "{method} at {layer} is zero everywhere: the gradient-weighted sum of the channels is ≤ 0 at every position, "
    "so the ReLU leaves nothing — {hint}"
)


@dataclass(frozen=True)
class Param:
    """One of a method's own settings as a UI shows it: a slider's range and default.

    ``log``: a log-scale slider whose ``min`` / ``max`` are powers of ten (``value`` is the value
    itself). An integer ``step`` with an integral ``value`` means an integer setting. ``options``: a
    choice among these names (a dropdown); the value is the index of the chosen one (:meth:`choice`).
    """

    name: str
    value: float
    min: float
    max: float
    step: float = 1
    log: bool = False
    options: tuple[str, ...] = ()

    def choice(self, params: Mapping[str, float]) -> str:
        """The option chosen in ``params`` (for a param with :attr:`options`)."""
        return self.options[int(params[self.name])]

    @property
    def integer(self) -> bool:
        return not self.log and isinstance(self.step, int) and float(self.value).is_integer()


@dataclass(frozen=True)
class Call:
    """The plain values a method's adapter gets (see :meth:`Method.run`)."""

    model: ModelLike
    x: Any  # a normalised batch [N, 3, H, W]; for ``data="image set"`` an iterable of such batches
    target: Target
    layer: str
    unit: int | None
    params: Mapping[str, float]
    callback: Callback | None

    @property
    def explained(self) -> Target | Unit:
        """What an attribution explains: the unit ``(layer, unit)`` at its strongest position when a unit is chosen, else the class."""
        return Unit(self.layer, self.unit, "max") if self.unit is not None else self.target

    @property
    def channel(self) -> int:
        """The chosen unit's channel (0 when none is chosen)."""
        return self.unit or 0

    @property
    def steps(self) -> int:
        return int(self.params["steps"])

    def every(self, parts: int) -> int:
        """``callback_every`` for about ``parts`` live images over the run."""
        return max(1, self.steps // parts)

    @property
    def picture(self) -> Any:
        """The first image of ``x`` as an ``HxWx3`` array in [0, 1] (with the model's normalisation)."""
        _, mean, std = unwrap(self.model)
        return deprocess(self.x[0], mean, std)


@dataclass(frozen=True)
class Captum:
    """The Captum class that computes the same map (``captum.attr.<name>``): the bench's reference.

    ``options(params)`` gives the keyword arguments of ``attribute`` for the entry's settings.
    """

    name: str
    options: Callable[[Mapping[str, float]], dict[str, Any]] = field(default=lambda _p: {})


@dataclass(frozen=True)
class Method:
    """One method of the kit.

    Attributes:
        name: its name in menus and tables.
        function: the public function.
        kind: ``"attribution"`` (``fn(model, x, target=None, *, options) -> map``), ``"synthesis"``
            (optimises an image), ``"feature"`` (reads the network's activations), ``"adversarial"``.
        call: the adapter ``call(Call) -> result`` behind :meth:`run`.
        draws: what the result draws as (:data:`Draws`).
        uses: the shared controls it reads: ``"layer"``, ``"unit"``, ``"class"``. An attribution that
            uses both ``"class"`` and ``"unit"`` explains the class unless a unit is chosen.
        params: its own settings (:class:`Param`).
        quick: answers in well under a second on a CPU (measured in ``bench/bench_explorer.py``).
        data: ``"image"`` (the chosen image), ``"image set"`` (a dataset, as batches) or ``"none"``
            (reads no image, only the image size: a UI need not offer an image for it).
        progress: the params whose product is the number of callback steps of a run (a progress bar's length).
        note: one line for a UI.
        paper: the reference.
        captum: the Captum class computing the same result (the bench compares against it).
        zero_note: said when the map is zero everywhere (:data:`ZERO_CAM`).
        beside: what a synthesized picture is shown beside: ``"image"`` (the input it starts from or
            reproduces) and/or ``"style"`` (the style image of the ``"style #"`` param).
    """

    name: str
    function: Callable[..., Any]
    kind: Kind
    call: Callable[[Call], Any]
    draws: Draws
    uses: tuple[Control, ...] = ()
    params: tuple[Param, ...] = ()
    quick: bool = False
    data: Literal["image", "image set", "none"] = "image"
    progress: tuple[str, ...] = ()
    note: str = ""
    paper: str = ""
    captum: Captum | None = None
    zero_note: str = ""
    beside: tuple[Literal["image", "style"], ...] = ()

    def zero_message(self, layer: str, model: ModelLike) -> str:
        """:attr:`zero_note` filled in for ``layer`` ("" when the method has none)."""
        last = gradcam.last_conv_layer(model)
        hint = f"try a deeper layer (the last conv layer is {last})" if layer != last else "try another class or image"
        return self.zero_note.format(method=self.name, layer=layer, hint=hint)

    def defaults(self) -> dict[str, float]:
        """Every param at its default value."""
        return {p.name: p.value for p in self.params}

    def steps(self, params: Mapping[str, float] | None = None) -> int:
        """How many callback steps a run with ``params`` makes (0: it takes no callback)."""
        values = {**self.defaults(), **(params or {})}
        total = 1
        for name in self.progress:
            total *= int(values[name])
        return total if self.progress else 0

    def run(
        self,
        model: ModelLike,
        x: Any,
        target: Target = None,
        *,
        layer: str | None = None,
        unit: int | None = None,
        params: Mapping[str, float] | None = None,
        callback: Callback | None = None,
    ) -> Any:
        """Run the method from plain values (what a UI holds); the result is what :attr:`draws` names.

        Args:
            model: a KitModel or an ``nn.Module``.
            x: a normalised batch ``[N, 3, H, W]`` (for ``data="image set"``: an iterable of batches).
            target: the class (for methods that use ``"class"``).
            layer: the layer (for methods that use ``"layer"``); default the last conv layer.
            unit: a channel of ``layer``: the unit of a ``"unit"`` method (default 0); for an
                attribution, ``None`` explains the class and a channel explains that unit.
            params: values of the method's :attr:`params` (missing ones take their defaults).
            callback: ``callback(step, image) -> stop?`` for methods that optimise an image.

        Raises:
            KeyError: a param the method does not have.
        """
        unknown = set(params or {}) - {p.name for p in self.params}
        if unknown:
            raise KeyError(f"{self.name} has no setting {sorted(unknown)}; its settings: {[p.name for p in self.params]}")
        if unit is None and "unit" in self.uses and "class" not in self.uses:
            unit = 0
        return self.call(
            Call(
                model=model,
                x=x,
                target=target,
                layer=gradcam.last_conv_layer(model) if layer is None and "layer" in self.uses else layer or "",
                unit=unit if "unit" in self.uses else None,
                params={**self.defaults(), **(params or {})},
                callback=callback,
            )
        )


def occlusion_window(params: Mapping[str, float], side: int) -> tuple[int, int]:
    """Occlusion's ``(window, stride)`` in pixels from its settings in % of the image side (one default for every size)."""
    window = max(1, round(params["window"] * side / 100))
    return window, max(1, min(window, round(params["stride"] * side / 100)))


def _occlusion(c: Call) -> Any:
    window, stride = occlusion_window(c.params, c.x.shape[-1])
    return occlusion.occlusion_map(c.model, c.x[:1], c.explained, window=window, stride=stride, progress=False)


def style_image(params: Mapping[str, float]) -> Any:
    """The style image picked by a method's ``"style #"`` param (cycling through :func:`~cnnviz_helpers.style_transfer.style_images`)."""
    images = style_transfer.style_images()
    return list(images.values())[int(params["style #"]) % len(images)]


def _style_image(c: Call) -> Any:
    return style_image(c.params)


def _priors(params: Mapping[str, float]) -> dict[str, Any]:
    """:func:`~cnnviz_helpers.class_visualization.class_visualization`'s image priors from the :data:`PRIORS` sliders.

    Its learning rate and jitter keep their defaults, which scale with the image size.
    """
    return {"blur_every": int(params["blur every"]), "blur_sigma": params["blur σ"], "decay": params["L2 decay"],
            "clip_norm": params["clip norm %"], "clip_contribution": params["clip contrib. %"]}  # fmt: skip


STEPS = Param("steps", budget(100, 5), 1, 500)
#: Yosinski et al.'s image priors (CS231n's blur on, the others off), for class and unit visualization.
PRIORS = (
    Param("blur every", 10, 0, 50), Param("blur σ", 0.5, 0.0, 3.0, 0.1), Param("L2 decay", 0.0, 0.0, 0.1, 0.001),
    Param("clip norm %", 0, 0, 90, 5), Param("clip contrib. %", 0, 0, 90, 5),
)  # fmt: skip
OBJECTIVE = Param("objective", 0, 0, 2, options=("score", "probability", "log_probability"))
STYLE = Param("style #", 0, 0, 9)
PGD_EPS = Param("ε (/255)", 4.0, 0.5, 16.0, 0.5)

#: Every method, in lecture order (then beyond the lecture).
METHODS: tuple[Method, ...] = (
    Method(
        "activations", filters.activation_maps, "feature",
        lambda c: filters.activation_maps(c.model, c.x, c.layer),
        "maps", ("layer", "unit"), (Param("channels", 16, 1, 64),), quick=True,
        note="unit = first channel shown", paper="Yosinski et al. 2015",
    ),
    Method(
        "max-activating patches", patches.max_activating_patches, "feature",
        lambda c: patches.max_activating_patches(c.model, c.x, c.layer, c.channel, k=9, progress=False),
        "patches", ("layer", "unit"), data="image set",
        note="over the image set, not this image", paper="Girshick et al. 2014",
    ),
    Method(
        "network dissection", dissection.dissect, "feature",
        lambda c: dissection.dissect_unit(c.model, c.layer, c.channel, images=int(c.params["images"])),
        "dissection", ("layer", "unit"), (Param("images", budget(500, 100), 100, 1000, 100),), data="none",
        note="ShapesNet only: over generated images with concept labels, not this image",
        paper="Bau et al. 2017",
    ),
    Method(
        "occlusion", occlusion.occlusion_map, "attribution", _occlusion,
        "occlusion", ("class", "unit", "layer"), (Param("window", 25, 10, 50), Param("stride", 25, 10, 50)), quick=True,
        note="window and stride in % of the image", paper="Zeiler & Fergus 2014",
    ),
    Method(
        "saliency", saliency.saliency_map, "attribution",
        lambda c: saliency.saliency_map(c.model, c.x, c.explained),
        "map", ("class", "unit", "layer"), quick=True, paper="Simonyan, Vedaldi & Zisserman 2014",
        captum=Captum("Saliency", lambda _p: {"abs": True}),
    ),
    Method(
        "SmoothGrad", saliency.smoothgrad, "attribution",
        lambda c: saliency.smoothgrad(c.model, c.x, c.explained, n_samples=int(c.params["samples"]),
                                      noise_level=c.params["noise"], progress=False),
        "map", ("class", "unit", "layer"), (Param("samples", budget(25, 8), 2, 100), Param("noise", 0.15, 0.0, 0.5, 0.01)),
        paper="Smilkov et al. 2017",
    ),
    Method(
        "guided backprop", guided_backprop.guided_backprop, "attribution",
        lambda c: guided_backprop.guided_backprop(c.model, c.x, c.explained),
        "map", ("class", "unit", "layer"), quick=True, paper="Springenberg et al. 2015",
        captum=Captum("GuidedBackprop"),
    ),
    Method(
        "Grad-CAM", gradcam.grad_cam, "attribution",
        lambda c: gradcam.grad_cam(c.model, c.x, c.target, layer=c.layer),
        "map", ("layer", "class"), quick=True, paper="Selvaraju et al. 2017", zero_note=ZERO_CAM,
    ),
    Method(
        "guided Grad-CAM", gradcam.guided_grad_cam, "attribution",
        lambda c: gradcam.guided_grad_cam(c.model, c.x, c.target, layer=c.layer),
        "map", ("layer", "class"), quick=True, paper="Selvaraju et al. 2017", zero_note=ZERO_CAM,
    ),
    Method(
        "Integrated Gradients", integrated_gradients.integrated_gradients, "attribution",
        lambda c: integrated_gradients.integrated_gradients(c.model, c.x, c.explained, steps=c.steps, progress=False),
        "map", ("class", "unit", "layer"), (Param("steps", budget(50, 16), 1, 300),),
        note="beyond the lecture: attributions add up to F(x) − F(mean image)",
        paper="Sundararajan, Taly & Yan 2017",
        captum=Captum("IntegratedGradients", lambda p: {"n_steps": int(p["steps"]), "method": "riemann_middle"}),
    ),
    Method(
        "class visualization", class_visualization.class_visualization, "synthesis",
        lambda c: class_visualization.class_visualization(
            c.model, c.target, objective=cast(class_visualization.Score, OBJECTIVE.choice(c.params)), size=c.x.shape[-1],
            steps=c.steps, l2_reg=c.params["L2 λ"], **_priors(c.params), callback=c.callback, callback_every=c.every(20),
            progress=False),
        "image", ("class",), (OBJECTIVE, STEPS, Param("L2 λ", 1e-3, -6, -1, 0.1, log=True), *PRIORS), data="none",
        progress=("steps",), paper="Simonyan, Vedaldi & Zisserman 2014",
    ),
    Method(
        "unit visualization", class_visualization.class_visualization, "synthesis",
        lambda c: class_visualization.class_visualization(
            c.model, Unit(c.layer, c.channel, "center" if c.params["centre neuron"] else None), size=c.x.shape[-1],
            steps=c.steps, **_priors(c.params), callback=c.callback, callback_every=c.every(20), progress=False),
        "image", ("layer", "unit"), (STEPS, Param("centre neuron", 0, 0, 1), *PRIORS), data="none", progress=("steps",),
        note="the unit's mean over the image, or its centre neuron", paper="Yosinski et al. 2015",
    ),
    Method(
        "fooling image", adversarial.fooling_image, "adversarial",
        lambda c: adversarial.fooling_image(c.model, c.x, c.target, steps=c.steps, callback=c.callback,
                                            callback_every=c.every(20), progress=False),
        "adversarial", ("class",), (STEPS,), progress=("steps",),
        note="class = the class to fool it into", paper="Szegedy et al. 2014",
    ),
    Method(
        "adversarial (PGD)", adversarial.pgd, "adversarial",
        lambda c: adversarial.pgd(c.model, c.x, eps=c.params[PGD_EPS.name] / 255, steps=c.steps, callback=c.callback,
                                  callback_every=1, progress=False),
        "adversarial", (), (PGD_EPS, Param("steps", budget(10, 3), 1, 50)), progress=("steps",),
        note="untargeted: away from the predicted class", paper="Madry et al. 2018",
    ),
    Method(
        "DeepDream", deepdream.deepdream, "synthesis",
        lambda c: deepdream.deepdream(
            c.model, c.x, Unit(c.layer, c.channel) if c.params["one unit"] else c.layer, steps=c.steps,
            octaves=int(c.params["octaves"]), octave_scale=c.params["octave scale"], lr=c.params["lr"],
            callback=c.callback, callback_every=1, progress=False),
        "image", ("layer", "unit"),
        (Param("steps", budget(10, 2), 1, 50), Param("octaves", budget(3, 1), 1, 6), Param("one unit", 0, 0, 1),
         Param("octave scale", 1.4, 1.1, 2.0, 0.05), Param("lr", deepdream.GOOGLE_LR, -3.5, -1, 0.1, log=True)),
        progress=("steps", "octaves"), paper="Mordvintsev, Olah & Tyka 2015", beside=("image",),
    ),
    Method(
        "feature inversion", inversion.feature_inversion, "synthesis",
        lambda c: inversion.feature_inversion(
            c.model, c.x, c.layer, steps=c.steps, tv_weight=c.params["TV weight"], callback=c.callback,
            callback_every=c.every(20), progress=False),
        "image", ("layer",), (Param("steps", budget(200, 5), 1, 500), Param("TV weight", 0.3, -3, 1, 0.1, log=True)),
        progress=("steps",), paper="Mahendran & Vedaldi 2015", beside=("image",),
    ),
    Method(
        "texture synthesis", texture_synthesis.texture_synthesis, "synthesis",
        lambda c: texture_synthesis.texture_synthesis(
            c.model, _style_image(c), size=c.x.shape[-1], steps=c.steps, callback_every=c.every(20), callback=c.callback,
            progress=False).picture,
        "image", (), (STYLE, Param("steps", budget(100, 3), 1, 300)), data="none", progress=("steps",),
        note="style # picks one of the style images", paper="Gatys, Ecker & Bethge 2015", beside=("style",),
    ),
    Method(
        "style transfer", style_transfer.style_transfer, "synthesis",
        lambda c: style_transfer.style_transfer(
            c.model, c.picture, _style_image(c), image_size=c.x.shape[-1], steps=c.steps, callback_every=c.every(20),
            callback=c.callback, progress=False, verbose=False).picture,
        "image", (), (STYLE, Param("steps", budget(100, 3), 1, 300)), progress=("steps",),
        note="content = this image", paper="Gatys, Ecker & Bethge 2016", beside=("image", "style"),
    ),
)  # fmt: skip

BY_NAME: dict[str, Method] = {m.name: m for m in METHODS}


def attribution_methods(quick: bool = True) -> dict[str, Attribution]:
    """Name → function of the attribution methods that return a map (``fn(model, x, target)``, no wrapper).

    ``quick=True`` keeps the quick ones (one or two passes: what the sanity checks run at every step).
    """
    return {m.name: m.function for m in METHODS if m.kind == "attribution" and m.draws == "map" and (m.quick or not quick)}


def scoring_methods(params: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, attribution_metrics.MapMethod]:
    """Every attribution method of the registry as :func:`~cnnviz_helpers.attribution_metrics.score_methods` calls it, plus ``"random"``.

    Each entry runs through :meth:`Method.run` at its default settings (Grad-CAM at the last conv
    layer), so a method is scored as the explorer shows it; occlusion runs image by image and gives
    its heatmap. ``"random"`` is :func:`~cnnviz_helpers.attribution_metrics.random_map`, the baseline.

    Args:
        params: method name → values of its :attr:`Method.params` to use instead of the defaults,
            e.g. ``{"Integrated Gradients": {"steps": 16}}``.

    Example:
        >>> scores = score_methods(km, x, masks, methods=scoring_methods(), target=labels)
    """
    params = params or {}
    unknown = set(params) - {m.name for m in METHODS if m.kind == "attribution"}
    if unknown:
        raise KeyError(
            f"no attribution method named {sorted(unknown)}; they are {[m.name for m in METHODS if m.kind == 'attribution']}"
        )

    def scorer(m: Method) -> attribution_metrics.MapMethod:
        def maps(model: ModelLike, x: Any, targets: Any) -> Any:
            settings = params.get(m.name)
            if m.draws == "occlusion":  # one image per run: stack the heatmaps
                return torch.stack(
                    [m.run(model, x[i : i + 1], targets[i : i + 1], params=settings).heatmap for i in range(len(x))]
                )
            return m.run(model, x, targets, params=settings)

        return maps

    scorers = {m.name: scorer(m) for m in METHODS if m.kind == "attribution"}
    return {**scorers, "random": attribution_metrics.random_map}


def methods_table(methods: Iterable[Method] = METHODS) -> str:
    """The README's methods table (markdown), generated from the registry."""
    rows = [
        "| method | kind | function | uses | settings | quick | reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        module = m.function.__module__.removeprefix("cnnviz_helpers.")
        settings = ", ".join(p.name for p in m.params) or "—"
        rows.append(
            f"| {m.name} | {m.kind} | `{module}.{m.function.__name__}` | {', '.join(m.uses) or '—'} | {settings} | "
            f"{'yes' if m.quick else '—'} | {m.paper} |"
        )
    return "\n".join(rows) + "\n"


__all__ = [
    "BY_NAME",
    "METHODS",
    "ZERO_CAM",
    "Call",
    "Captum",
    "Method",
    "OBJECTIVE",
    "PRIORS",
    "Param",
    "attribution_methods",
    "methods_table",
    "occlusion_window",
    "scoring_methods",
    "style_image",
]
