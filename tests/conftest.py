"""Shared fixtures: small models (the offline ShapesNet, random-weight torchvision nets) and a state guard."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn

os.environ.setdefault("CNNVIZ_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Hermetic: never read the user's data cache (a downloaded Imagenette would change what the tests see).
os.environ["CNNVIZ_DATA"] = tempfile.mkdtemp(prefix="cnnviz-test-data-")

from cnnviz_helpers import KitModel, load_model, model_state  # noqa: E402


@pytest.fixture(scope="session")
def shapes_model() -> KitModel:
    """The kit's trained offline model (CPU)."""
    return load_model("shapesnet", device="cpu")


def _random_tv(name: str) -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval()


@pytest.fixture(scope="session")
def squeezenet_random() -> nn.Module:
    """torchvision squeezenet1_1 with random weights (in-place ReLUs, Fire modules)."""
    return _random_tv("squeezenet1_1")


@pytest.fixture(scope="session")
def resnet18_random() -> nn.Module:
    """torchvision resnet18 with random weights (a ReLU module reused within each block, batch norm)."""
    return _random_tv("resnet18")


@contextmanager
def _unchanged(model: nn.Module) -> Iterator[None]:
    before = model_state(model)
    params = [p.detach().clone() for p in model.parameters()]
    buffers = [b.detach().clone() for b in model.buffers()]
    yield
    assert model_state(model) == before, "train/eval modes, requires_grad flags or hook counts changed"
    assert all(torch.equal(a, p) for a, p in zip(params, model.parameters())), "parameters changed"
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers())), "buffers (e.g. BN statistics) changed"


@pytest.fixture
def unchanged() -> Callable[[nn.Module], object]:
    """``with unchanged(model): method(model, ...)`` asserts the model is left exactly as it was."""
    return _unchanged
