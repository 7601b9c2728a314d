"""Network Dissection drawn (outlined regions, titled panels, the paper's bar charts) and its widget's one-line errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from matplotlib.figure import Figure
from torch import nn

from cnnviz_helpers.dissection import concept_images, dissect, top_images
from cnnviz_helpers.ui.dissection import OUTLINE, dissection_widget, draw_layers, draw_unit, outlined
from cnnviz_helpers.ui.widgets import find_controls, find_images, image_size, placeholder_png


@pytest.fixture(scope="module")
def dissected(shapes_model):
    x, concepts = concept_images(shapes_model, 100)
    return x, dissect(shapes_model, x, concepts, ["features.6", "features.14"])


def test_outlined_paints_exactly_the_border_pixels_of_the_region():
    rng = np.random.default_rng(0)
    region = rng.random((9, 11)) > 0.4
    picture = rng.random((9, 11, 3))
    out = outlined(picture, region)
    padded = np.pad(region, 1, constant_values=True)  # the image edge does not make a border
    for i in range(9):
        for j in range(11):
            near = [padded[i, j + 1], padded[i + 2, j + 1], padded[i + 1, j], padded[i + 1, j + 2]]
            border = region[i, j] and not all(near)
            assert np.array_equal(out[i, j], OUTLINE if border else picture[i, j]), (i, j)


def test_draw_unit_outlines_each_region_and_titles_every_panel(shapes_model, dissected):
    x, result = dissected
    top = top_images(shapes_model, x, result, "features.14", 2, k=6)
    fig = draw_unit(Figure(figsize=(10, 6)), top, shapes_model.deprocess, ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6 and all(ax.get_title() for ax in shown)
    assert [ax.get_title().split(":")[0] for ax in shown] == [f"image {int(i)}" for i in top.indices]
    maxima = [float(ax.get_title().split("max ")[1]) for ax in shown]  # the activation that ranked the images
    assert maxima == sorted(maxima, reverse=True)
    np.testing.assert_allclose(maxima, result.image_max["features.14"][top.indices, 2].numpy(), atol=0.005)
    with_region = [bool(r.any()) for r in top.regions]
    assert [bool(ax.collections) for ax in shown] == with_region  # a contour wherever the unit's region is
    title = fig._suptitle.get_text()
    assert f"features.14 unit 2: {top.concept} ({top.category}), IoU {top.iou:.2f}" in title


def test_draw_layers_bars_are_the_unique_detectors_and_the_stacked_category_shares(dissected):
    _, result = dissected
    fig = draw_layers(Figure(figsize=(12, 4)), result)
    left, right = fig.axes
    assert [b.get_height() for b in left.patches] == [result.unique_detectors(la) for la in result.layers]
    assert left.get_title() and right.get_title()
    tops = {}
    for bar in right.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), bar.get_y() + bar.get_height())
    detectors = [float(result.detectors(la).float().mean()) for la in result.layers]
    np.testing.assert_allclose([tops[i] for i in range(len(result.layers))], detectors, atol=1e-9)
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["shape", "texture", "colour", "background"]


def _run(panel, **values) -> str:
    controls = find_controls(panel)
    for name, value in values.items():
        controls[name].value = value
    panel.click()
    panel.wait(120)
    return panel.status.value


def test_the_widget_draws_a_unit_through_the_registry_and_bad_input_is_one_line(shapes_model, unchanged):
    panel = dissection_widget(shapes_model, width=600)
    before = [bytes(v.value) for v in find_images(panel)]
    with unchanged(shapes_model.model):
        status = _run(panel, layer="features.10", unit=4, images=100)
    assert status.startswith("features.10 unit 4: ") and "IoU" in status
    assert all(bytes(v.value) != old for v, old in zip(find_images(panel), before))  # both drawings shown
    for bad, said in (({"unit": 128}, "0..127"), ({"unit": 0, "layer": "features.99"}, "features.99")):
        status = _run(panel, **bad)
        assert status.startswith("⚠") and said in status and "\n" not in status, status
        assert all(bytes(v.value) == placeholder_png(*image_size(v)) for v in find_images(panel))  # no stale drawing


def test_the_widget_says_in_one_line_that_only_shapesnet_has_concepts(shapes_model):
    other = dataclasses.replace(shapes_model, model=nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval())
    status = _run(dissection_widget(other), images=100)
    assert status.startswith("⚠") and "only ShapesNet" in status, status
