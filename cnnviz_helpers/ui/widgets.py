"""Reusable ipywidgets controls: pickers that read from a :class:`KitModel`, a Run/Stop panel, a live image.

Each section widget (:mod:`.sections`) and the explorer (:mod:`.explorer`) are built from these, so
they behave alike in front of a class:

- expensive work starts on a button; while it runs the button reads **Stop** (a second click stops
  the run, it never queues another one); the work runs in a background thread so the click arrives;
- a run reports progress in a bar that counts what its label says, and the image so far stays when
  it is stopped;
- a bad value gives one line in the panel (``⚠ …``), never a traceback;
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

from ..core.images import load_image, sample_names
from ..methods import Param
from ..models.loading import KitModel

#: Errors a method raises for a bad setting: shown as one line in the panel.
USER_ERRORS = (ValueError, IndexError, KeyError, TypeError, RuntimeError)


def layer_picker(km: KitModel, value: str | None = None, description: str = "layer") -> Any:
    """Dropdown over the model's notable layers, shallow to deep (``km.spec.layers``)."""
    layers = list(km.spec.layers)
    return w.Dropdown(options=layers, value=value or layers[len(layers) // 2], description=description)


def class_picker(km: KitModel, value: int | str | None = None, description: str = "class") -> Any:
    """Searchable class box: type part of a name; :func:`picked_class` reads it (or says it matches none).

    The box suggests the model's class names; free text is allowed while typing, and
    :func:`picked_class` accepts an exact name, an ``"index: name"`` suggestion or a unique part of a name.
    """
    names = [f"{i}: {c}" for i, c in enumerate(km.class_names)]
    idx = km.class_index(value) if value is not None else (km.examples[0].label if km.examples else 0)
    box = w.Combobox(options=names, value=names[idx], description=description, ensure_option=False)
    box.km = km
    return box


def resolve_class(km: KitModel, text: str) -> int:
    """The class index meant by ``text``: ``"3: name"``, an exact name (any case) or a unique part of one.

    Raises:
        ValueError: no class matches, or several do (the message lists a few to pick from).
    """
    text = str(text).strip()
    head, _, tail = text.partition(":")
    if tail and head.strip().isdigit() and 0 <= int(head) < len(km.class_names) and km.class_names[int(head)] == tail.strip():
        return int(head)
    lower = [c.lower() for c in km.class_names]
    if text.lower() in lower:
        return lower.index(text.lower())
    hits = km.search_classes(text) if text else []
    if len(hits) == 1:
        return hits[0][0]
    if not hits:
        raise ValueError(f"no class of {km.name} matches {text!r}: type part of a class name and pick a suggestion")
    shown = ", ".join(c for _, c in hits[:5]) + (" …" if len(hits) > 5 else "")
    raise ValueError(f"{len(hits)} classes match {text!r} ({shown}): pick one")


def picked_class(picker: Any) -> int:
    """Class index chosen in a :func:`class_picker` (raises ``ValueError`` with a hint for text that matches none)."""
    return resolve_class(picker.km, picker.value)


def image_picker(km: KitModel, description: str = "image", photos: bool | None = None) -> Any:
    """Dropdown over the model's example images (plus the shipped photos for ImageNet models).

    The value is a PIL image; use it with ``km.preprocess``.
    """
    options: list[tuple[str, Image.Image]] = [(e.name, e.image) for e in km.examples]
    if photos if photos is not None else not km.offline:
        known = {e.name for e in km.examples}
        options += [(n, load_image(n)) for n in sample_names() if n not in known]
    return w.Dropdown(options=options, description=description)


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

    @property
    def stopped(self) -> bool:
        return self.stop_requested.is_set()

    def progress(self, done: int, total: int, label: str = "") -> None:
        """Set the bar to ``done`` of ``total`` with an optional label (e.g. ``"class cat (3 of 10)"``)."""
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
    """Controls, a Run/Stop button, a progress bar and a one-line status in a side panel; the result widgets beside it.

    ``run(job)`` is called with a :class:`Run` on click, in a background thread (``threaded=False``
    runs it in the click handler: no Stop, for tests that need no thread). While it runs the button
    reads Stop; a click then sets the stop flag and never starts a second run. Errors of
    :data:`USER_ERRORS` end the run with one line in ``status``.

    Attributes: ``button``, ``bar``, ``status``, ``result`` (a dict the run may fill), ``thread``.
    """

    def __init__(
        self,
        run: Callable[[Run], Any],
        controls: Sequence[Any],
        description: str = "Run",
        extra: Sequence[Any] = (),
        threaded: bool = True,
    ) -> None:
        self.run_fn, self.description, self.threaded = run, description, threaded
        self.button = w.Button(description=description, button_style="primary", icon="play")
        self.bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="auto"))
        self.status = w.Label(value="ready", layout=w.Layout(width="auto"))
        self.result: dict[str, Any] = {}
        self.job: Run | None = None
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.button.on_click(self.click)
        side = w.VBox([*controls, self.button, self.bar, self.status], layout=w.Layout(width="420px", min_width="340px"))
        super().__init__([w.HBox([side, w.VBox(list(extra))])] if extra else [side])

    @property
    def running(self) -> bool:
        return self.job is not None

    def click(self, _button: Any = None) -> None:
        """Run, or — while running — ask the run to stop (never queues a second run)."""
        with self._lock:
            if self.job is not None:
                self.job.stop_requested.set()
                self.status.value = "stopping after this step …"
                return
            self.job = Run(self)
        self.button.description, self.button.icon, self.button.button_style = "Stop", "stop", "danger"
        self.status.value = "running …"
        if self.threaded:
            self.thread = threading.Thread(target=self._work, args=(self.job,), daemon=True)
            self.thread.start()
        else:
            self._work(self.job)

    def wait(self, timeout: float | None = 60) -> None:
        """Block until the current run (if any) ends — for tests and scripts."""
        if self.thread is not None:
            self.thread.join(timeout)

    def _work(self, job: Run) -> None:
        try:
            with torch.inference_mode(False), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                note = self.run_fn(job)
            note = "stopped: kept the image so far" if job.stopped else str(note or "done")
            warned = [str(w.message).splitlines()[0] for w in caught if issubclass(w.category, UserWarning)]
            self.status.value = (note + (f" — ⚠ {warned[0]}" if warned else ""))[:240]
        except RunStopped:
            self.status.value = "stopped: kept the image so far"
        except USER_ERRORS as err:
            self.status.value = message(err)
        finally:
            self.job = None
            self.button.description, self.button.icon, self.button.button_style = self.description, "play", "primary"


def run_panel(
    run: Callable[[Run], Any], controls: Sequence[Any], description: str = "Run", extra: Sequence[Any] = (), threaded: bool = True
) -> RunPanel:
    """Controls + Run/Stop button + progress bar + status line + ``extra`` widgets (see :class:`RunPanel`).

    ``run(job)`` gets a :class:`Run`; what it returns (a string) becomes the status line.
    """
    return RunPanel(run, controls, description, extra, threaded)


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
    """The slider of a registry :class:`~cnnviz_helpers.methods.Param` (log, integer or float)."""
    common = {"description": p.name, "continuous_update": False, "style": {"description_width": "110px"}}
    if p.log:
        return w.FloatLogSlider(value=p.value, base=10, min=p.min, max=p.max, step=p.step, **common)
    if p.integer:
        return w.IntSlider(value=int(p.value), min=int(p.min), max=int(p.max), step=int(p.step), **common)
    return w.FloatSlider(value=p.value, min=p.min, max=p.max, step=p.step, **common)
