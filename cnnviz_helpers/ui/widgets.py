"""Reusable ipywidgets controls: pickers that read from a :class:`KitModel`, a Run panel, a live image.

Each lecture module builds its own widget from these, e.g. ``occlusion_widget(km)``.

Example:
    >>> layer = layer_picker(km)
    >>> panel = run_panel(lambda: print(layer.value), [layer])
    >>> display(panel)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..core.images import load_image, sample_names
from ..core.models import KitModel


def _ipw():
    import ipywidgets

    return ipywidgets


def layer_picker(km: KitModel, value: str | None = None, description: str = "layer") -> Any:
    """Dropdown over the model's notable layers, shallow to deep (``km.spec.layers``)."""
    layers = list(km.spec.layers)
    return _ipw().Dropdown(options=layers, value=value or layers[len(layers) // 2], description=description)


def class_picker(km: KitModel, value: int | str | None = None, description: str = "class") -> Any:
    """Searchable class picker: type part of a name (a Combobox), read the index with :func:`picked_class`."""
    names = [f"{i}: {c}" for i, c in enumerate(km.class_names)]
    idx = km.class_index(value) if value is not None else (km.examples[0].label if km.examples else 0)
    return _ipw().Combobox(options=names, value=names[idx], description=description, ensure_option=True)


def picked_class(picker: Any) -> int:
    """Class index chosen in a :func:`class_picker`."""
    return int(str(picker.value).split(":", 1)[0])


def image_picker(km: KitModel, description: str = "image", photos: bool | None = None) -> Any:
    """Dropdown over the model's example images (plus the shipped photos for ImageNet models).

    The value is a PIL image; use it with ``km.preprocess``.
    """
    options: list[tuple[str, Image.Image]] = [(e.name, e.image) for e in km.examples]
    if photos if photos is not None else not km.offline:
        known = {e.name for e in km.examples}
        options += [(n, load_image(n)) for n in sample_names() if n not in known]
    return _ipw().Dropdown(options=options, description=description)


def to_png(img: np.ndarray | Image.Image, size: int | None = None) -> bytes:
    """Array in [0, 1] (``HxW`` or ``HxWx3``) or PIL image → PNG bytes for an ``ipywidgets.Image``."""
    if not isinstance(img, Image.Image):
        a = np.asarray(img)
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8) if a.dtype != np.uint8 else a
        img = Image.fromarray(a)
    if size:
        img = img.resize((size, round(size * img.height / img.width)), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def live_image(size: int = 256) -> tuple[Any, Callable[[np.ndarray | Image.Image], None]]:
    """An image widget and an ``update(img)`` function — for showing a synthesis as it improves."""
    widget = _ipw().Image(format="png", width=size)

    def update(img: np.ndarray | Image.Image) -> None:
        widget.value = to_png(img, size)

    return widget, update


def run_panel(run: Callable[[], Any], controls: Sequence[Any], description: str = "Run", extra: Sequence[Any] = ()) -> Any:
    """Controls, a Run button and an output area; ``run()`` is called on click, inside the output.

    Heavy methods go behind the button so changing a slider does not start them. Progress bars
    (``tqdm.auto``) and plots made by ``run`` appear in the output area.
    """
    w = _ipw()
    button = w.Button(description=description, button_style="primary", icon="play")
    out = w.Output()

    def on_click(_b: Any) -> None:
        out.clear_output(wait=True)
        with out:
            run()

    button.on_click(on_click)
    return w.VBox([*controls, button, *extra, out])
