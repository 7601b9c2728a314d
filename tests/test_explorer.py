"""The explorer app and the shared Run/Stop panel, driven from the kernel as a lecturer's clicks would."""

from __future__ import annotations

import datetime
import io
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz_helpers import gradcam, saliency
from cnnviz_helpers.methods import METHODS
from cnnviz_helpers.models.loading import KitModel
from cnnviz_helpers.models.targets import Unit
from cnnviz_helpers.ui import explorer as ex
from cnnviz_helpers.ui import sections
from cnnviz_helpers.ui.widgets import CSS, find_controls, placeholder_png, resolve_class, run_panel, to_png


@pytest.fixture
def app(shapes_model: KitModel) -> ex.Explorer:
    app = ex.explorer(shapes_model, threaded=False)
    app.auto.value = False  # each test clicks Run itself
    return app


def _spy(monkeypatch, module, name: str) -> list[tuple]:
    """Replace ``module.name`` by a wrapper that records its arguments and calls the real function."""
    calls: list[tuple] = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_the_registry_drives_the_menu_and_each_method_draws_a_picture(app, shapes_model, unchanged):
    values = [value for _label, value in app.method.options]  # (label, value): labels translated
    assert values == [m.name for m in METHODS] and "Integrated Gradients" in values
    with unchanged(shapes_model.model):
        for spec in METHODS:
            app.method.value = spec.name
            app.view.value = placeholder_png(8)
            app.panel.click()
            fooled = "not classified as the target after"  # 5 fast-mode steps toward another class: said, not hidden
            assert "⚠" not in app.panel.status.value or fooled in app.panel.status.value, (spec.name, app.panel.status.value)
            assert bytes(app.view.value) != placeholder_png(8), spec.name
            shown = {
                n for n, c in (("layer", app.layer), ("unit", app.unit), ("class", app.target)) if c.layout.display != "none"
            }
            assert shown == set(spec.uses), spec.name  # only the controls the method reads are visible


def test_grad_cam_gets_the_chosen_layer_and_class(app, shapes_model, monkeypatch):
    calls = _spy(monkeypatch, gradcam, "grad_cam")
    app.method.value = "Grad-CAM"
    app.layer.value = shapes_model.spec.layers[-2]
    app.target.value = "star"
    app.panel.click()
    ((args, kw),) = calls
    assert kw["layer"] == shapes_model.spec.layers[-2] and args[2] == shapes_model.class_names.index("star")
    assert torch.equal(args[1], shapes_model.preprocess(app.picture.value))


def test_a_cached_setting_does_not_recompute_and_a_changed_one_does(app, monkeypatch):
    calls = _spy(monkeypatch, saliency, "saliency_map")
    app.method.value = "saliency"
    app.panel.click()
    first = bytes(app.view.value)
    app.method.value = "Grad-CAM"
    app.panel.click()
    app.method.value = "saliency"  # back to the first setting: instant, from the cache
    app.panel.click()
    assert len(calls) == 1 and app.panel.status.value.endswith("(cached)") and bytes(app.view.value) == first
    app.target.value = app.km.class_names[3]
    app.panel.click()
    assert len(calls) == 2 and calls[1][0][2] == 3


@pytest.mark.parametrize("text", ["dog", "", "s"])
def test_a_class_the_model_does_not_have_is_one_line_and_runs_nothing(app, monkeypatch, text):
    calls = _spy(monkeypatch, saliency, "saliency_map")
    app.method.value = "saliency"
    app.target.value = text
    app.panel.click()
    assert app.panel.status.value.startswith("⚠") and "\n" not in app.panel.status.value and calls == []


def test_quick_methods_answer_every_change_and_slow_ones_wait_for_run(shapes_model, monkeypatch):
    cam = _spy(monkeypatch, gradcam, "grad_cam")
    app = ex.explorer(shapes_model, threaded=False)
    app.method.value = "Grad-CAM"  # quick: runs at once
    app.layer.value = shapes_model.spec.layers[-2]
    assert [c[1]["layer"] for c in cam] == [shapes_model.spec.last_conv, shapes_model.spec.layers[-2]]
    app.layer.value = shapes_model.spec.last_conv  # back: from the cache, no new call
    assert len(cam) == 2 and app.panel.status.value.endswith("(cached)")
    before = app.calls
    app.method.value = "class visualization"  # slow: waits for Run
    app.params["class visualization"]["steps"].value = 3
    assert app.calls == before


def test_resolve_class_accepts_names_suggestions_and_unique_parts(shapes_model):
    names = shapes_model.class_names
    assert resolve_class(shapes_model, names[4]) == 4
    assert resolve_class(shapes_model, names[4].upper()) == 4
    assert resolve_class(shapes_model, f"4: {names[4]}") == 4
    assert resolve_class(shapes_model, "polka") == names.index("polka dots")
    with pytest.raises(ValueError, match="no class"):
        resolve_class(shapes_model, "zebra")


def test_an_attribution_explains_a_unit_when_one_is_chosen(app, shapes_model, monkeypatch):
    calls = _spy(monkeypatch, saliency, "saliency_map")
    app.method.value = "saliency"
    assert app.unit.value == -1  # the class
    app.panel.click()
    app.unit.value = 3
    app.panel.click()
    assert calls[0][0][2] == app.km.class_names.index(app.target.value)
    assert calls[1][0][2] == Unit(app.layer.value, 3, "max")


def test_units_are_bounded_by_the_layers_channels(app, shapes_model):
    app.method.value = "activations"
    for layer in shapes_model.spec.layers:
        app.layer.value = layer
        n = len(ex.filters.activation_maps(shapes_model.model, shapes_model.preprocess(app.picture.value), layer))
        app.unit.value = 10_000  # out of range: the last unit is used, and the status line says so
        app.panel.click()
        assert app.panel.status.value.endswith(f"(0..{n - 1}): used {n - 1}"), app.panel.status.value
        assert app.key(app.settings("activations", layer))[3] == (layer, n - 1)


def test_grad_cam_all_zero_says_why(app, monkeypatch):
    monkeypatch.setattr(gradcam, "grad_cam", lambda model, x, target, layer: torch.zeros(1, *x.shape[-2:]))
    app.method.value = "Grad-CAM"
    app.layer.value = app.km.spec.layers[0]
    app.panel.click()
    assert "zero everywhere" in app.panel.status.value and "deeper layer" in app.panel.status.value
    app.layer.value = app.km.spec.last_conv  # never suggests the layer already selected
    app.panel.click()
    assert "zero everywhere" in app.panel.status.value and "deeper layer" not in app.panel.status.value


def test_compare_mode_runs_both_methods_on_one_image(app, monkeypatch):
    sal, cam = _spy(monkeypatch, saliency, "saliency_map"), _spy(monkeypatch, gradcam, "grad_cam")
    app.method.value, app.method_b.value = "saliency", "Grad-CAM"
    app.compare.value = True
    app.panel.click()
    assert len(sal) == 1 and len(cam) == 1 and cam[0][1]["layer"] == app.layer_b.value
    assert torch.equal(sal[0][0][1], cam[0][0][1])  # the same image
    assert app.panel.status.value == f"A: saliency  |  B: Grad-CAM @ {app.layer_b.value}"  # saliency uses no layer
    _image, titles = _titles(bytes(app.view.value))
    _image, panels = _titles(bytes(app.view.value), "cnnviz-panels")
    assert len(titles) == len(panels) == 3 and all(a[2] <= b[0] for a, b in zip(panels, panels[1:]))
    width = [p[2] - p[0] for p in panels]
    assert min(width[1:]) > width[0] + 40, width  # both maps have a colorbar (and its numbers) beside them


def test_image_sources_and_a_bad_upload(app):
    app.source.value = "image set"
    assert len(app.picture.options) == len(app.dataset()) and app.picture.value is not None
    app.source.value = "upload"
    assert app.picture.value is None and "upload" in app.panel.status.value
    app.panel.click()
    assert app.panel.status.value.startswith("⚠ no image")
    stamp = datetime.datetime.now(datetime.timezone.utc)
    entry = {"name": "notes.txt", "type": "text/plain", "size": 13, "last_modified": stamp}
    app.upload.value = ({**entry, "content": memoryview(b"not a picture")},)
    assert app.panel.status.value.startswith("⚠ notes.txt is not an image") and "BytesIO" not in app.panel.status.value
    png = io.BytesIO()
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(png, format="PNG")
    app.upload.value = ({**entry, "name": "grey.png", "content": memoryview(png.getvalue())},)
    app.method.value = "saliency"
    app.panel.click()
    assert app.picture.value.size == (30, 40) and "⚠" not in app.panel.status.value


def test_stop_ends_a_synthesis_early_keeps_its_image_and_a_second_click_never_queues(shapes_model):
    app = ex.explorer(shapes_model, threaded=True)
    app.method.value = "class visualization"
    app.params["class visualization"]["steps"].value = 500
    started = threading.Event()
    app.view.observe(lambda _change: started.set(), "value")
    app.panel.click()
    assert started.wait(30), "no intermediate image"
    assert app.panel.button.disabled and not app.panel.stop_button.disabled
    app.panel.click()  # a second click on Run (a double-click): ignored, the run goes on
    assert app.panel.running and not app.panel.job.stopped
    app.panel.stop()
    app.panel.wait(60)
    assert not app.panel.running and not app.panel.button.disabled and app.panel.stop_button.disabled
    assert app.calls == 1 and 0 < app.panel.bar.value < 500, app.panel.bar.value
    k = app.panel.bar.value
    assert app.panel.status.value.startswith(f"class visualization: stopped at step {k} of 500"), app.panel.status.value
    assert Image.open(io.BytesIO(bytes(app.view.value))).width > 256  # the titled figure, not the 384 px preview


def test_run_panel_turns_errors_into_one_line_and_stops_methods_that_ignore_the_flag():
    steps_done = []

    def stubborn(job):  # a loop that ignores the callback's True: the next call raises RunStopped
        tick = job.steps(100)
        for t in range(100):
            steps_done.append(t)
            tick(t + 1, np.zeros((2, 2, 3)))
            if t == 3:
                job.stop_requested.set()
            time.sleep(0.001)

    panel = run_panel(stubborn, [], threaded=False)
    panel.click()
    assert len(steps_done) == 6 and panel.status.value.startswith("stopped")
    panel = run_panel(lambda job: [][1], [], threaded=False)
    panel.click()
    assert panel.status.value == "⚠ list index out of range"


# --- the section widgets are the explorer, compact ---------------------------------------------
def _section(make, *args, **kwargs) -> ex.Explorer:
    """A section widget that runs in the click handler and waits for Run."""
    app = make(*args, **kwargs)
    app.panel.threaded, app.auto.value = False, False
    return app


def _sliders(root) -> list:
    """The sliders under ``root`` in the order the page shows them."""
    if isinstance(root, ex.w.IntSlider | ex.w.FloatSlider | ex.w.FloatLogSlider):
        return [root]
    return [s for child in getattr(root, "children", ()) for s in _sliders(child)]


def _same_setting(apps, picture: int, values: dict) -> None:
    """Put every app on the same image and the same values (``"layer"``, ``"unit"``, ``"class"`` or a param name)."""
    for app in apps:
        app.picture.value = app.picture.options[picture][1]
        controls = {"layer": app.layer, "unit": app.unit, "class": app.target, **app.params[app.method.value]}
        for name, value in values.items():
            controls[name].value = value


@pytest.mark.parametrize(
    "make, args, method, values",
    [
        (sections.occlusion_widget, (), "occlusion", {"class": "star", "window": 30, "stride": 20}),
        (sections.activations_widget, (), "activations", {"layer": "features.6", "unit": 3, "channels": 8}),
        (sections.attribution_widget, ("Grad-CAM",), "Grad-CAM", {"class": "disk", "layer": "features.10"}),
        (sections.attribution_widget, ("guided backprop",), "guided backprop", {"layer": "features.10", "unit": 5}),
        (sections.class_visualization_widget, (), "class visualization", {"class": "star", "steps": 2, "objective": 1}),
        (sections.unit_visualization_widget, (), "unit visualization", {"unit": 3, "steps": 2, "centre neuron": 1}),
        (sections.deepdream_widget, (), "DeepDream", {"steps": 1, "octaves": 2, "one unit": 1, "unit": 2}),
    ],
)
def test_a_section_widget_draws_what_the_explorer_draws_so_every_fix_lands_once(shapes_model, make, args, method, values):
    app = ex.explorer(shapes_model, threaded=False)
    app.auto.value = False
    app.method.value = method
    widget = _section(make, shapes_model, *args)
    assert widget.method.value == method and set(widget.params[method]) == set(app.params[method])  # the entry's settings
    _same_setting((app, widget), 2, values)
    for a in (app, widget):
        a.panel.click()
        assert "⚠" not in a.panel.status.value, a.panel.status.value
    assert bytes(widget.view.value) == bytes(app.view.value)  # the same figure, byte for byte
    assert app.panel.status.value == f"{method} on {shapes_model.name}" and widget.panel.status.value


def test_patches_over_the_image_set_passed_in_equal_the_explorers(shapes_model):
    app = ex.explorer(shapes_model, threaded=False)
    app.auto.value = False
    app.method.value = "max-activating patches"
    widget = _section(sections.patches_widget, shapes_model, app.dataset().images)
    assert widget.picture.layout.display == "none" and widget.method.layout.display == "none"  # no image, one method
    _same_setting((app, widget), 0, {"layer": "features.10", "unit": 7})
    app.panel.click()
    widget.panel.click()
    assert bytes(widget.view.value) == bytes(app.view.value)
    assert widget.panel.status.value == f"features.10[7]: top 9 of {len(app.dataset())} images"


@pytest.mark.parametrize("make", [sections.occlusion_widget, sections.attribution_widget])
def test_a_bad_unit_or_class_is_the_explorers_one_line_in_a_section_widget(shapes_model, make, monkeypatch):
    app = ex.explorer(shapes_model, threaded=False)
    app.auto.value = False
    widget = _section(make, shapes_model)
    app.method.value = widget.method.value
    _same_setting((app, widget), 1, {"layer": "features.6", "unit": 999})
    lines = []
    for a in (app, widget):
        a.panel.click()
        lines.append(a.panel.status.value.split(" — ", 1)[1])
    assert lines[0] == lines[1] == "⚠ unit 999 is out of range for features.6 (-1..63): used 63"
    calls = _spy(monkeypatch, saliency, "saliency_map")
    _same_setting((app, widget), 1, {"class": "zebra", "unit": -1})
    for a in (app, widget):
        a.panel.click()
    assert app.panel.status.value == widget.panel.status.value and calls == []
    assert widget.panel.status.value.startswith("⚠ no class of shapesnet matches 'zebra'")


def test_method_widget_names_and_a_stopped_synthesis(shapes_model):
    with pytest.raises(ValueError, match="no method named 'occlusions': pick one of activations"):
        ex.method_widget(shapes_model, "occlusions")
    with pytest.raises(ValueError, match="pick one of saliency, SmoothGrad"):
        sections.attribution_widget(shapes_model, "occlusion")
    widget = _section(sections.deepdream_widget, shapes_model)
    widget.params["DeepDream"]["steps"].value, widget.params["DeepDream"]["octaves"].value = 2, 1
    inner = widget.panel.run_fn

    def stop_then_run(job):
        job.stop_requested.set()  # Stop pressed before the first step ends
        return inner(job)

    widget.panel.run_fn = stop_then_run
    widget.panel.click()
    assert widget.panel.status.value == "DeepDream: stopped at step 1 of 2 (Run starts again)", widget.panel.status.value
    image, boxes = _titles(bytes(widget.view.value))
    assert len(boxes) == 2 and image.width > 1.6 * image.height  # input | the dream so far, titled


def test_occlusion_widget_calls_the_method_with_its_sliders(shapes_model, monkeypatch):
    from cnnviz_helpers import occlusion

    calls = _spy(monkeypatch, occlusion, "occlusion_map")
    widget = sections.occlusion_widget(shapes_model)
    controls = find_controls(widget)
    assert _sliders(widget)[0] is controls["window"]  # the first slider on the page: the browser test moves it
    controls["window"].value, controls["stride"].value = 25, 13  # % of the 64-px image: 16 and 8 px
    widget.panel.click()
    widget.panel.wait()
    ((_args, kw),) = calls
    assert (kw["window"], kw["stride"]) == (16, 8)
    assert widget.panel.status.value == "drop per window: 49 windows of 16 px, stride 8 px"


def test_grad_cam_widget_explains_an_all_black_map(shapes_model, monkeypatch):
    monkeypatch.setattr(gradcam, "grad_cam", lambda model, x, target, layer: torch.zeros(1, *x.shape[-2:]))
    widget = _section(sections.attribution_widget, shapes_model, method="Grad-CAM")
    widget.panel.click()
    assert "zero everywhere" in widget.panel.status.value and widget.view.value == placeholder_png(820, 273)


# --- the projector style --------------------------------------------------------------------------
def test_image_panels_draw_rows_of_one_figure_into_its_subfigures():
    """A notebook cell shows one figure: rows of panels are subfigures of it, laid out by its constrained engine."""
    from matplotlib.figure import Figure

    from cnnviz_helpers.ui.plotting import image_panels

    fig = Figure(figsize=(6, 4), layout="constrained")
    for k, row in enumerate(fig.subfigures(2, 1)):
        image_panels(row, [np.zeros((4, 4, 3))] * 3, titles=["a", "b", "c"], suptitle=f"row {k}")
    fig.canvas.draw()  # no tight_layout on a subfigure; the figure's engine places both rows
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes] == ["a", "b", "c"] * 2
    top, bottom = fig.axes[0].get_window_extent(), fig.axes[3].get_window_extent()  # in pixels of the figure
    assert top.y0 > bottom.y1  # the rows do not overlap


def test_plots_title_every_panel_colorbar_heatmaps_centre_signed_maps_and_name_categories():
    from matplotlib.figure import Figure

    from cnnviz_helpers.core.images import image_grid
    from cnnviz_helpers.ui.plotting import MAGNITUDE, SIGNED, Categories, image_panels

    signed = np.array([[-1.0, 0.5], [0.2, 0.1]])
    fig = image_panels(
        Figure(),
        [np.zeros((4, 4, 3)), np.random.rand(4, 4), signed, Categories(np.array([[0, 1], [1, 0]]), ["bg", "fg"])],
        ["image", "magnitude", "signed", "seeds"],
        cmap=[None, MAGNITUDE, SIGNED, None],
    )
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["image", "magnitude", "signed", "seeds"]
    assert len(fig.axes) == 4 + 2  # one colorbar per heatmap, none for the RGB image or the categories
    assert panels[2].images[0].get_clim() == (-1.0, 1.0)  # a signed map is centred on 0
    assert [t.get_text() for t in panels[3].get_legend().get_texts()] == ["bg", "fg"]
    grid = image_grid(torch.rand(3, 2, 2), ncols=2, fill=float("nan"))
    assert np.isnan(grid).sum() == grid.size - 3 * 4  # borders and the empty slot are not a colour


def test_a_methods_warning_is_part_of_the_status_line():
    import warnings

    def run(job):
        warnings.warn("1 of 1 images are not classified as the target after 5 steps; increase steps", UserWarning, stacklevel=2)
        return "fooled"

    panel = run_panel(run, [], threaded=False)
    panel.click()
    assert panel.status.value == "fooled — ⚠ 1 of 1 images are not classified as the target after 5 steps; increase steps"


def test_run_clicks_during_a_run_never_stop_it_and_stop_is_its_own_button():
    runs, seen = [], []

    def job_fn(job):  # a click on Run in the middle of the run (a double-click, or Run during an auto-run)
        runs.append(job)
        panel.click()
        seen.append((job.stopped, panel.button.disabled, panel.stop_button.disabled))
        return "finished"

    panel = run_panel(job_fn, [], threaded=False)
    panel.click()
    assert len(runs) == 1 and seen == [(False, True, False)] and panel.status.value == "finished"
    assert not panel.button.disabled and panel.stop_button.disabled
    panel.stop()  # Stop with nothing running: nothing happens
    assert panel.status.value == "finished" and not panel.running


def test_a_failed_run_clears_the_old_result_and_the_status_line_wraps():
    view = ex.w.Image(value=to_png(np.ones((8, 8, 3))), format="png")
    fail = [False]

    def job_fn(_job):
        if fail[0]:
            raise ValueError("bad setting")
        return "ok"

    panel = run_panel(job_fn, [], extra=[view], threaded=False)
    panel.click()
    assert bytes(view.value) == to_png(np.ones((8, 8, 3)))
    fail[0] = True
    panel.click()
    assert panel.status.value == "⚠ bad setting" and bytes(view.value) == placeholder_png(8, 8)
    assert "cnnviz-status" in panel.status._dom_classes and "white-space: normal" in CSS


def test_explorer_messages_units_compare_titles_and_fooling_default(shapes_model):
    app = ex.explorer(shapes_model, threaded=False)
    assert app.view.layout.display == "none"  # no empty grey box before the first result
    app.method.value = "activations"
    n = app.channels(app.layer.value)
    app.unit.value = 9999
    app.panel.click()
    assert app.panel.status.value.endswith(f"⚠ unit 9999 is out of range for {app.layer.value} (0..{n - 1}): used {n - 1}")
    assert app.view.layout.display is None
    app.unit.value = -5
    app.panel.click()
    assert "used 0" in app.panel.status.value
    cam = METHODS[[m.name for m in METHODS].index("Grad-CAM")]
    assert "deeper layer" not in cam.zero_message(shapes_model.spec.last_conv, shapes_model.model)
    assert shapes_model.spec.last_conv in cam.zero_message(shapes_model.spec.layers[0], shapes_model.model)
    s = {"method": "saliency", "layer": "features.2", "unit": None}
    assert ex.short_title(s, "A") == "A: saliency" and ex.short_title({**s, "unit": 3}, "A") == "A: saliency\n@ features.2[3]"
    assert ex.short_title({**s, "method": "Grad-CAM"}, "B") == "B: Grad-CAM\n@ features.2"
    assert ex.compare_panel([("i", "input", None), ("m", "map", "inferno"), ("o", "overlay", None)])[1] == "map"
    own = app.km.predict(app.km.preprocess(app.picture.value), 1)[0][0][0]
    app.method.value = "fooling image"
    assert resolve_class(app.km, app.target.value) != app.km.class_index(own)


def test_results_are_drawn_at_display_resolution_beside_their_input(shapes_model):
    app = ex.explorer(shapes_model, threaded=False)
    app.method.value = "feature inversion"
    app.params["feature inversion"]["steps"].value = 2
    app.panel.click()
    png = Image.open(io.BytesIO(bytes(app.view.value)))
    assert 700 <= png.width <= 840 and png.height <= 590, png.size  # shown 1:1 in a 1280×720 window (130 px for a title)
    assert png.width > 1.6 * png.height  # two panels: the original and its inversion


def test_a_change_made_during_a_run_is_answered_when_it_ends(shapes_model):
    app = ex.explorer(shapes_model, threaded=False)
    app.method.value = "saliency"
    inner = app._run

    def run_and_change(job):  # the lecturer ticks "compare" while saliency runs
        note = inner(job)
        if not app.compare.value:
            app.compare.value = True
        return note

    app.panel.run_fn = run_and_change
    app.panel.click()
    assert app.panel.status.value.startswith("A: saliency") and app.calls == 3  # saliency, then A and B


def _titles(png: bytes, key: str = "cnnviz-titles") -> tuple[Image.Image, list[list[float]]]:
    """A :func:`panels_png` image and the boxes its PNG text lists under ``key`` (titles, or whole panels)."""
    import json

    image = Image.open(io.BytesIO(png))
    return image, json.loads(image.text[key])


def test_result_figures_are_reused_wrap_long_titles_and_keep_them_apart():
    from cnnviz_helpers.ui import plotting

    rng = np.random.default_rng(0)
    img, heat, signed = rng.random((32, 32, 3)), rng.random((16, 16)) * 5, rng.standard_normal((8, 8))
    long = "B: Grad-CAM\n@ features.12[3] and a layer name far too long for one panel"
    plotting.panels_png([img, heat, signed], ["input", "A: saliency", long], [None, plotting.MAGNITUDE, plotting.SIGNED])
    reused = plotting.panels_png([img, heat, signed], ["input", "A: saliency", long], [None, plotting.SIGNED, plotting.MAGNITUDE])
    plotting._CANVASES.clear()
    fresh = plotting.panels_png([img, heat, signed], ["input", "A: saliency", long], [None, plotting.SIGNED, plotting.MAGNITUDE])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(reused))), np.asarray(Image.open(io.BytesIO(fresh))))
    image, boxes = _titles(fresh)
    assert image.width <= 800 and len(boxes) == 3
    assert all(0 <= b[0] and b[2] <= image.width and 0 <= b[1] for b in boxes), boxes
    assert all(a[2] <= b[0] for a, b in zip(boxes, boxes[1:])), boxes  # side by side, never overlapping
    _image, panels = _titles(fresh, plotting.PANELS_KEY)  # title, image, colorbar and its numbers of each panel
    assert all(a[2] <= b[0] for a, b in zip(panels, panels[1:])) and panels[-1][2] <= image.width, panels
    tiny = plotting.panels_png([img, heat * 1e-5], ["x", "a map of tiny values"], [None, plotting.MAGNITUDE])
    _image, panels = _titles(tiny, plotting.PANELS_KEY)
    assert panels[0][2] <= panels[1][0] and panels[1][2] <= _image.width, panels  # "1e−5" on top, short numbers
    assert boxes[2][3] - boxes[2][1] > 3 * plotting.title_px()  # the long title wrapped onto more lines
    assert plotting.title_px() >= 20 and plotting.TICK_PT * plotting.SCREEN_DPI / 72 >= 16
    width = [b[2] - b[0] for b in panels]
    assert min(width[1:]) > width[0] + 40, width  # a colorbar (and its numbers) beside each heatmap
