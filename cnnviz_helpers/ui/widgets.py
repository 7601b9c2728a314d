"""Reusable ipywidgets controls: pickers that read from a :class:`KitModel`, a Run/Stop panel, a live image.

Each section widget (:mod:`.sections`) and the explorer (:mod:`.explorer`) are built from these, so
they behave alike in front of a class:

- expensive work starts on **Run**; **Stop** is a separate button beside it, enabled only while a run
  goes on, so a double-click on Run (or Run pressed while an automatic run goes on) never stops
  anything and never queues a second run; the work runs in a background thread so Stop arrives;
- a run reports progress in a bar that counts what its label says, and the image so far stays when
  it is stopped;
- a bad value gives one line in the panel (``⚠ …``, wrapped, never a traceback), and the result
  images of a failed run are cleared so an old result never stands for the new setting;
- image widgets start with a neutral placeholder, never a broken-image icon.

Example:
    >>> layer = layer_picker(km)
    >>> panel = run_panel(lambda run: print(layer.value), [layer])
    >>> display(panel)
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import torch
from PIL import Image

from ..core.i18n import N_, _
from ..core.images import load_image, sample_names
from ..methods import Param
from ..models.loading import KitModel

#: Errors a method raises for a bad setting: shown as one line in the panel.
USER_ERRORS = (ValueError, IndexError, KeyError, TypeError, RuntimeError)

#: The kit's CSS, added once per panel: status lines wrap; result images fit the visible window
#: (width and height, aspect kept; 130 px are left for a page title above) — a projector at 1280×720
#: shows the whole result, at 1:1 for the figures of :func:`.plotting.panels_png`.
CSS = """<style>
.cnnviz-status, .cnnviz-status * { display: block !important; white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; height: auto !important; line-height: 1.35 !important; overflow-wrap: anywhere; }
img.cnnviz-result { max-width: 100% !important; max-height: calc(100vh - 130px) !important; width: auto !important;
  height: auto !important; object-fit: contain; align-self: flex-start !important; flex: none !important; }
</style>"""


def layer_picker(km: KitModel, value: str | None = None, description: str = N_("layer")) -> Any:
    """Dropdown over the model's notable layers, shallow to deep (``km.spec.layers``)."""
    layers = list(km.spec.layers)
    return w.Dropdown(options=layers, value=value or layers[len(layers) // 2], description=_(description))


def class_picker(km: KitModel, value: int | str | None = None, description: str = N_("class")) -> Any:
    """Searchable class box: type part of a name; :func:`picked_class` reads it (or says it matches none).

    The box suggests the model's class names; free text is allowed while typing, and
    :func:`picked_class` accepts an exact name, an ``"index: name"`` suggestion or a unique part of a name.
    """
    names = [f"{i}: {c}" for i, c in enumerate(km.class_names)]
    idx = km.class_index(value) if value is not None else (km.examples[0].label if km.examples else 0)
    box = w.Combobox(options=names, value=names[idx], description=_(description), ensure_option=False)
    box.km = km
    return box


def resolve_class(km: KitModel, text: str) -> int:
    """The class index meant by ``text``: ``"3: name"``, an exact name (any case) or a unique part of one.

    Raises:
        ValueError: no class matches, or several do (the message lists a few to pick from).
    """
    text = str(text).strip()
    head, _colon, tail = text.partition(":")
    if tail and head.strip().isdigit() and 0 <= int(head) < len(km.class_names) and km.class_names[int(head)] == tail.strip():
        return int(head)
    lower = [c.lower() for c in km.class_names]
    if text.lower() in lower:
        return lower.index(text.lower())
    hits = km.search_classes(text) if text else []
    if len(hits) == 1:
        return hits[0][0]
    if not hits:
        raise ValueError(
            _("no class of {model} matches {text!r}: type part of a class name and pick a suggestion").format(
                model=km.name, text=text
            )
        )
    shown = ", ".join(c for _index, c in hits[:5]) + (" …" if len(hits) > 5 else "")
    raise ValueError(_("{n} classes match {text!r} ({shown}): pick one").format(n=len(hits), text=text, shown=shown))


def picked_class(picker: Any) -> int:
    """Class index chosen in a :func:`class_picker` (raises ``ValueError`` with a hint for text that matches none)."""
    return resolve_class(picker.km, picker.value)


def image_picker(km: KitModel, description: str = N_("image"), photos: bool | None = None) -> Any:
    """Dropdown over the model's example images (plus the shipped photos for ImageNet models).

    The value is a PIL image; use it with ``km.preprocess``.
    """
    options: list[tuple[str, Image.Image]] = [(e.name, e.image) for e in km.examples]
    if photos if photos is not None else not km.offline:
        known = {e.name for e in km.examples}
        options += [(n, load_image(n)) for n in sample_names() if n not in known]
    return w.Dropdown(options=options, description=_(description))


def to_png(img: np.ndarray | Image.Image, size: int | None = None) -> bytes:
    """Array in [0, 1] (``HxW`` or ``HxWx3``) or PIL image → PNG bytes for an ``ipywidgets.Image``."""
    if not isinstance(img, Image.Image):
        a = np.nan_to_num(np.asarray(img, dtype=np.float64) if np.asarray(img).dtype != np.uint8 else np.asarray(img))
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8) if a.dtype != np.uint8 else a
        img = Image.fromarray(a)
    if size:
        img = img.resize((size, max(1, round(size * img.height / img.width))), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def placeholder_png(width: int = 256, height: int | None = None) -> bytes:
    """A light-grey PNG: what an image widget shows before the first run (instead of a broken-image icon)."""
    return to_png(np.full((height or width, width, 3), 0.93))


def live_image(size: int = 256) -> tuple[Any, Callable[[np.ndarray | Image.Image], None]]:
    """An image widget (a placeholder until the first update) and an ``update(img)`` function."""
    widget = w.Image(value=placeholder_png(size), format="png", width=size)
    widget.add_class("cnnviz-result")

    def update(img: np.ndarray | Image.Image) -> None:
        widget.value = to_png(img, size)

    return widget, update


def message(err: BaseException) -> str:
    """One line for the panel from an exception (its first line; ``KeyError`` quotes removed)."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return "⚠ " + (text.strip().splitlines() or [type(err).__name__])[0]


class RunStopped(Exception):
    """Raised inside a run's step callback after Stop was clicked (for methods that ignore a ``True`` return)."""


class Run:
    """What a running job sees: the stop flag, the progress bar and a step-callback factory.

    ``run.steps(total, show)`` returns a callback for the methods' ``callback(step, image, ...)``:
    it moves the bar to ``step`` of ``total``, passes the image to ``show`` and returns ``True``
    once Stop was clicked (the kit's methods then stop and keep the image so far).
    """

    def __init__(self, panel: RunPanel) -> None:
        self.panel = panel
        self.stop_requested = threading.Event()
        self.last_image: Any = None
        self.step, self.total = 0, 0  # where the run is: what a stopped result's title says

    @property
    def stopped(self) -> bool:
        return self.stop_requested.is_set()

    def progress(self, done: int, total: int, label: str = "") -> None:
        """Set the bar to ``done`` of ``total`` with an optional label (e.g. ``"class cat (3 of 10)"``)."""
        self.step, self.total = done, total
        bar = self.panel.bar
        bar.max = max(total, 1)
        bar.value = min(done, bar.max)
        bar.description = label[:24]
        self.panel.status.value = f"{label + ': ' if label else ''}{done} / {total}"

    def steps(self, total: int, show: Callable[[Any], None] | None = None, label: str = "step") -> Callable[..., bool]:
        """A method callback ``callback(step, image, *rest) -> stop?`` driving the bar and the live image."""
        asked = [False]

        def callback(step: int, image: Any = None, *_rest: Any) -> bool:
            if asked[0]:  # the method went on after we asked it to stop: end it here
                raise RunStopped
            self.progress(int(step), total, label)
            if image is not None:
                self.last_image = image
                if show is not None:
                    show(image)
            asked[0] = self.stopped
            return self.stopped

        return callback


class RunPanel(w.VBox):
    """Controls, Run and Stop buttons, a progress bar and a wrapping status line in a side panel; the results beside it.

    ``run(job)`` is called with a :class:`Run` on a Run click, in a background thread (``threaded=False``
    runs it in the click handler, for tests that need no thread). Run is disabled while a run goes on
    and a click on it then does nothing (a double-click is one run); **Stop**, a separate button, sets
    the stop flag. Errors of :data:`USER_ERRORS` end the run with one line in ``status`` and reset the
    images of ``clears`` (default: every image in ``extra``) to the placeholder.

    Attributes: ``button`` (Run), ``stop_button``, ``bar``, ``status``, ``result`` (a dict the run may
    fill), ``thread``, ``clears``, ``on_done`` (called after each run).
    """

    def __init__(
        self,
        run: Callable[[Run], Any],
        controls: Sequence[Any],
        description: str = N_("Run"),
        extra: Sequence[Any] = (),
        threaded: bool = True,
        clears: Sequence[Any] | None = None,
    ) -> None:
        self.run_fn, self.description, self.threaded = run, _(description), threaded
        self.button = w.Button(description=self.description, button_style="primary", icon="play")
        self.stop_button = w.Button(description=_("Stop"), button_style="danger", icon="stop", disabled=True)
        self.bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="auto"))
        self.status = w.Label(value=_("ready"), layout=w.Layout(width="auto"))
        self.status.add_class("cnnviz-status")
        self.result: dict[str, Any] = {}
        self.job: Run | None = None
        self.thread: threading.Thread | None = None
        self.clears = list(clears) if clears is not None else find_images(w.VBox(list(extra)))
        self.on_done: Callable[[], None] | None = None  # called after every run (e.g. to answer a change made meanwhile)
        self._lock = threading.Lock()
        self.button.on_click(self.click)
        self.stop_button.on_click(self.stop)
        buttons = w.HBox([self.button, self.stop_button])
        width = "420px" if extra else "100%"  # without results beside it, the panel fills the box it is put in
        side = w.VBox([w.HTML(CSS), *controls, buttons, self.bar, self.status], layout=w.Layout(width=width, min_width="340px"))
        super().__init__([w.HBox([side, w.VBox(list(extra))])] if extra else [side])

    @property
    def running(self) -> bool:
        return self.job is not None

    def click(self, _button: Any = None) -> None:
        """Start a run (what Run does); while one goes on, do nothing: a Run click never stops or queues."""
        with self._lock:
            if self.job is not None:
                return
            self.job = Run(self)
        self._buttons(running=True)
        self.status.value = _("running …")
        if self.threaded:
            self.thread = threading.Thread(target=self._work, args=(self.job,), daemon=True)
            self.thread.start()
        else:
            self._work(self.job)

    def stop(self, _button: Any = None) -> None:
        """Ask the current run to stop after its step (what Stop does); nothing when none runs."""
        job = self.job
        if job is not None:
            job.stop_requested.set()
            self.status.value = _("stopping after this step …")

    def wait(self, timeout: float | None = 60) -> None:
        """Block until the current run (if any) ends — for tests and scripts."""
        if self.thread is not None:
            self.thread.join(timeout)

    def _buttons(self, running: bool) -> None:
        self.button.disabled, self.stop_button.disabled = running, not running

    def _work(self, job: Run) -> None:
        try:
            with torch.inference_mode(False), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                note = self.run_fn(job)
            note = str(note or _("done")) if note or not job.stopped else _("stopped: kept the image so far")
            warned = [str(w.message).splitlines()[0] for w in caught if issubclass(w.category, UserWarning)]
            self.status.value = (note + (f" — ⚠ {warned[0]}" if warned else ""))[:300]
        except RunStopped:
            self.status.value = _("stopped: kept the image so far")
        except USER_ERRORS as err:
            self.status.value = message(err)
            for image in self.clears:  # an old result must not stand for the setting that failed
                image.value = placeholder_png(*image_size(image))
        finally:
            self.job = None
            self._buttons(running=False)
        if self.on_done is not None:
            self.on_done()


def image_size(image: Any) -> tuple[int, int]:
    """``(width, height)`` of the PNG an ``ipywidgets.Image`` holds (256 × 256 when it holds none)."""
    try:
        return Image.open(io.BytesIO(bytes(image.value))).size
    except (OSError, ValueError):
        return 256, 256


def run_panel(
    run: Callable[[Run], Any],
    controls: Sequence[Any],
    description: str = N_("Run"),
    extra: Sequence[Any] = (),
    threaded: bool = True,
    clears: Sequence[Any] | None = None,
) -> RunPanel:
    """Controls + Run and Stop buttons + progress bar + status line + ``extra`` widgets (see :class:`RunPanel`).

    ``run(job)`` gets a :class:`Run`; what it returns (a string) becomes the status line.
    """
    return RunPanel(run, controls, description, extra, threaded, clears)


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """Render a matplotlib figure (made with ``matplotlib.figure.Figure``, thread-safe) to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def find_controls(root: Any) -> dict[str, Any]:
    """Every control under ``root`` (tabs and boxes included) by its description — to drive a widget from code."""
    found: dict[str, Any] = {}
    stack = [root]
    while stack:
        node = stack.pop(0)
        if getattr(node, "description", ""):
            found.setdefault(node.description, node)
        stack += list(getattr(node, "children", ()))
    return found


def find_images(root: Any) -> list[Any]:
    """Every ``ipywidgets.Image`` under ``root``, in display order."""
    stack, found = [root], []
    while stack:
        node = stack.pop(0)
        if isinstance(node, w.Image):
            found.append(node)
        stack += list(getattr(node, "children", ()))
    return found


def param_widget(p: Param) -> Any:
    """The control of a registry :class:`~cnnviz_helpers.methods.Param`: a dropdown for a choice, a checkbox for a 0/1 switch, else a slider."""
    if p.options:
        return w.Dropdown(options=[(o, i) for i, o in enumerate(p.options)], value=int(p.value), description=_(p.name))
    if p.integer and (p.min, p.max) == (0, 1):
        return w.Checkbox(value=bool(p.value), description=_(p.name), indent=False)
    common = {"description": _(p.name), "continuous_update": False, "style": {"description_width": "110px"}}
    if p.log:
        return w.FloatLogSlider(value=p.value, base=10, min=p.min, max=p.max, step=p.step, **common)
    if p.integer:
        return w.IntSlider(value=int(p.value), min=int(p.min), max=int(p.max), step=int(p.step), **common)
    decimals = max(2, len(f"{p.step:g}".partition(".")[2]))  # a step of 0.001 reads 0.005, not 0.01
    return w.FloatSlider(value=p.value, min=p.min, max=p.max, step=p.step, readout_format=f".{decimals}f", **common)
