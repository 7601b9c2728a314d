"""Integrated Gradients (cnnviz_helpers.integrated_gradients): Captum's numbers, completeness, Unit targets."""

from __future__ import annotations

import copy

import pytest
import torch
from captum.attr import IntegratedGradients

from cnnviz_helpers.core.layers import capture
from cnnviz_helpers.integrated_gradients import RULES, integrated_gradients
from cnnviz_helpers.models.targets import Unit


@pytest.fixture(scope="module")
def net64(shapes_model):
    """ShapesNet in float64 (a copy: the user's model stays float32)."""
    return copy.deepcopy(shapes_model.model).double().eval()


@pytest.fixture(scope="module")
def x64(shapes_model):
    return shapes_model.preprocess([e.image for e in shapes_model.examples[:2]]).double()


@pytest.mark.parametrize("method", list(RULES))
def test_equals_captum_to_1e6_in_float64(net64, x64, unchanged, method):
    baseline = torch.full_like(x64, -0.5)
    with unchanged(net64):
        ours = integrated_gradients(net64, x64, [1, 3], baseline=baseline, steps=12, method=method, batch_size=5, progress=False)
    theirs = IntegratedGradients(net64).attribute(x64, baselines=baseline, target=[1, 3], n_steps=12, method=method)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6 * float(theirs.abs().max()))
    default = integrated_gradients(net64, x64, [1, 3], steps=12, progress=False)  # zeros, riemann_middle
    ref = IntegratedGradients(net64).attribute(x64, target=[1, 3], n_steps=12, method="riemann_middle")
    torch.testing.assert_close(default, ref, rtol=1e-6, atol=1e-6 * float(ref.abs().max()))


def test_completeness_holds_within_the_riemann_error_and_improves_with_steps(net64, x64):
    with torch.no_grad():
        gap = net64(x64)[:, 2] - net64(torch.zeros_like(x64))[:, 2]  # F(x) - F(baseline)
    errors = [
        float((integrated_gradients(net64, x64, 2, steps=steps, progress=False).flatten(1).sum(1) - gap).abs().max())
        for steps in (4, 256)
    ]
    assert errors[1] < errors[0] and errors[1] < 0.01 * float(gap.abs().max()), (errors, gap)


def test_a_unit_target_integrates_the_units_gradient(net64, x64):
    unit = Unit("features.9", 5, (3, 4))  # batch norm output: no ReLU zero
    ig = integrated_gradients(net64, x64, unit, steps=64, progress=False)

    def activation(z: torch.Tensor) -> torch.Tensor:
        with capture(net64, "features.9") as acts:
            acts.run(z)
            return acts["features.9"][:, 5, 3, 4]

    with torch.no_grad():
        gap = activation(x64) - activation(torch.zeros_like(x64))
    assert gap.abs().min() > 1e-3  # the unit does respond
    torch.testing.assert_close(ig.flatten(1).sum(1), gap, rtol=0.02, atol=0.02 * float(gap.abs().max()))


def test_predicted_class_by_default_model_unchanged_and_errors(shapes_model, unchanged):
    x = shapes_model.preprocess(shapes_model.examples[0].image)
    with unchanged(shapes_model.model):
        default = integrated_gradients(shapes_model, x, steps=8, progress=False)
        top = int(shapes_model.model(x).argmax())
        assert torch.equal(default, integrated_gradients(shapes_model.model, x, top, steps=8, progress=False))
        with pytest.raises(ValueError, match="steps"):
            integrated_gradients(shapes_model, x, steps=0)
        with pytest.raises(ValueError, match="riemann_middle"):
            integrated_gradients(shapes_model, x, method="gausslegendre")
