"""Target-class scores without the other classes (cnnviz_helpers.engines.scores)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from cnnviz_helpers import Hooks
from cnnviz_helpers.engines.score_shortcut import _HEADS, target_rows
from cnnviz_helpers.engines.scores import target_scores
from cnnviz_helpers.models.targets import class_targets


def score_and_grad(model: nn.Module, x: torch.Tensor, target) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    with Hooks(model):
        s = target_scores(model, x, target)
        (g,) = torch.autograd.grad(s.sum(), x)
    return s.detach(), g


def full_score_and_grad(model: nn.Module, x: torch.Tensor, targets: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    with Hooks(model):
        s = model(x)[torch.arange(len(x)), torch.tensor(targets)]
        (g,) = torch.autograd.grad(s.sum(), x)
    return s.detach(), g


class HeadCalls:
    """Counts the calls of a module's forward (0 when the shortcut computes its target rows itself)."""

    def __init__(self, module: nn.Module) -> None:
        self.n = 0
        self.handle = module.register_forward_hook(self)

    def __call__(self, *_: object) -> None:
        self.n += 1


@pytest.mark.parametrize(
    ("net", "head", "targets"),
    [
        ("squeezenet_random", "classifier.1", [3, 999, 3]),  # 1x1 conv head, ReLU + pool + flatten after it
        ("squeezenet_random", "classifier.1", [7, 7, 7]),  # one class for all: one-channel convolution
        ("resnet18_random", "fc", [0, 500, 42]),  # Linear head
    ],
)
def test_shortcut_equals_the_full_forward_pass(net, head, targets, request, unchanged):
    model = copy.deepcopy(request.getfixturevalue(net))  # a model the cache has not seen
    x = torch.randn(3, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    want_s, want_g = full_score_and_grad(model, x, targets)
    with unchanged(model):
        first = score_and_grad(model, x, targets)  # full pass, checks the shortcut
        assert _HEADS[model] is not None and _HEADS[model].verified and _HEADS[model].name == head
        calls = HeadCalls(model.get_submodule(head))
        second = score_and_grad(model, x, targets)  # the shortcut
        calls.handle.remove()
    assert calls.n == 0, "the classifier layer ran in full"
    for s, g in (first, second):
        torch.testing.assert_close(s, want_s, rtol=1e-4, atol=1e-5 * float(want_s.abs().max()))
        torch.testing.assert_close(g, want_g, rtol=1e-4, atol=1e-5 * float(want_g.abs().max()))


def test_shapesnet_shortcut(shapes_model):
    model = copy.deepcopy(shapes_model.model)
    x = shapes_model.preprocess([e.image for e in shapes_model.examples[:4]])
    targets = [e.label for e in shapes_model.examples[:4]]
    want = full_score_and_grad(model, x, targets)
    score_and_grad(model, x, targets)
    got = score_and_grad(model, x, targets)
    assert _HEADS[model].verified
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


class FlatHead(nn.Module):
    """A conv 'classifier' flattened without pooling: channel c is not one logit, so no shortcut."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=4)
        self.head = nn.Conv2d(4, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.head(torch.relu(self.conv(x))), 1)  # [N, 5 * h * w]


class SoftmaxHead(nn.Module):
    """Ends in a softmax, which mixes the classes: no shortcut."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(12, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)).softmax(1)


@pytest.mark.parametrize(("model", "shape"), [(FlatHead(), (2, 3, 9, 9)), (SoftmaxHead(), (2, 3, 2, 2))])
def test_no_shortcut_where_classes_mix(model, shape, unchanged):
    torch.manual_seed(0)
    x = torch.randn(shape)
    targets = [1, 4]
    want = full_score_and_grad(model, x, targets)
    with unchanged(model):
        for _ in range(2):
            torch.testing.assert_close(score_and_grad(model, x, targets), want)
    assert _HEADS[model] is None


def test_replaced_layer_is_noticed(resnet18_random):
    model = copy.deepcopy(resnet18_random)
    x = torch.randn(2, 3, 64, 64)
    score_and_grad(model, x, 1)
    score_and_grad(model, x, 1)
    model.fc = nn.Linear(512, 3)  # now a 3-class model
    torch.testing.assert_close(score_and_grad(model, x, [2, 0]), full_score_and_grad(model, x, [2, 0]))
    with pytest.raises(IndexError, match=r"3 classes: target must be in 0\.\.2"):
        score_and_grad(model, x, 3)


def test_errors_on_the_shortcut_path(squeezenet_random):
    model = copy.deepcopy(squeezenet_random)
    x = torch.randn(2, 3, 64, 64)
    score_and_grad(model, x, 0)
    assert _HEADS[model].verified
    with pytest.raises(IndexError, match=r"1000 classes: target must be in 0\.\.999, got \[1000"):
        score_and_grad(model, x, 1000)
    with pytest.raises(ValueError, match="one class index or one per image"):
        score_and_grad(model, x, [1, 2, 3])


def test_predicted_class_uses_the_logits(squeezenet_random):
    x = torch.randn(2, 3, 64, 64)
    with Hooks(squeezenet_random):
        logits = squeezenet_random(x)
        torch.testing.assert_close(target_scores(squeezenet_random, x), logits.max(1).values)


def test_class_targets_from_a_shape():
    assert class_targets((3, 10), 4).tolist() == [4, 4, 4]
    assert class_targets((2, 10), [1, 9]).tolist() == [1, 9]
    with pytest.raises(ValueError, match="needs the logits"):
        class_targets((2, 10), None)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.Conv2d(4, 6, 3, stride=2, padding=1), (3, 4, 9, 9)),  # per-image targets: grouped convolution
        (nn.Linear(5, 6), (3, 5)),
        (nn.Linear(5, 6), (3, 2, 5)),  # extra leading dimensions
    ],
)
def test_target_rows_equal_the_layers_channels(layer, shape):
    torch.manual_seed(0)
    x = torch.randn(shape)
    full = layer(x).movedim(-1, 1) if isinstance(layer, nn.Linear) else layer(x)  # channels second
    for targets in (torch.tensor([4, 0, 5]), torch.tensor([2, 2, 2])):
        want = full[torch.arange(3), targets][:, None]
        torch.testing.assert_close(target_rows(layer, x, targets), want)
