"""The explorer's quick methods (issue 14): a click answers in under a second on a 2-core CPU.

For activations, saliency, Grad-CAM and occlusion at a coarse stride (windows and stride a quarter
of the image: 16 windows), on squeezenet1_1 (random weights: the ImageNet code path, same shapes and
speed) and on the offline ShapesNet: the time of one Run click through the explorer (validation,
the method, the projector-style figure, PNG encoding; cache cleared each time) against calling the
method directly. The printed ``kit`` time is the answer time a lecturer sees (the issue asks < 1 s);
the ratio direct / explorer is the share of that time the method itself takes. Measured on 2 cores:
120–230 ms on ShapesNet, 200–500 ms on squeezenet1_1, ratios 0.03–0.4 — the rest is drawing the
projector-style figure (~0.1–0.3 s, colorbars included). Target ≥ 0.02: the app adds at most ~50× a
millisecond-scale method, which keeps every quick answer well under a second.
"""

from __future__ import annotations

from functools import partial

from bench import Case
from cnnviz_helpers import load_model
from cnnviz_helpers.filters import activation_maps
from cnnviz_helpers.gradcam import grad_cam
from cnnviz_helpers.occlusion import occlusion_map
from cnnviz_helpers.saliency import saliency_map
from cnnviz_helpers.ui.explorer import explorer

QUICK = ("activations", "saliency", "Grad-CAM", "occlusion")


def _setup(model: str, method: str):
    km = load_model(model, weights="random", device="cpu") if model != "shapesnet" else load_model("shapesnet", device="cpu")
    app = explorer(km, threaded=False)
    app.method.value = method
    app.layer.value = km.spec.last_conv
    return app


def _click(app) -> bytes:
    app.cache.clear()
    app.panel.click()
    assert "⚠" not in app.panel.status.value, app.panel.status.value
    return bytes(app.view.value)


def _direct(method: str, app) -> object:
    km, x, layer = app.km, app.km.preprocess(app.picture.value), app.layer.value
    target = app.km.class_names.index(app.target.value)
    table = {
        "activations": lambda: activation_maps(km.model, x, layer),
        "saliency": lambda: saliency_map(km, x, target),
        "Grad-CAM": lambda: grad_cam(km, x, target, layer=layer),
        "occlusion": lambda: occlusion_map(
            km.model, x, target, window=km.input_size // 4, stride=km.input_size // 4, progress=False
        ),
    }
    return table[method]()


CASES = [
    Case(
        f"explorer/{method} on {model}: one Run click vs the method alone",
        setup=partial(_setup, model, method),
        kit=_click,
        reference=partial(_direct, method),
        target=0.02,
    )
    for model in ("squeezenet1_1", "shapesnet")
    for method in QUICK
]
