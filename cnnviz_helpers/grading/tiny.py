"""Tiny seeded CNNs the graded checks run students' model code on (stored with the references).

Checking on a fixed small network instead of the notebook's model makes every check independent of
the model a student runs (the offline ShapesNet or an ImageNet model), of its download and of the
device, and keeps it fast; float64 references of it are exact to round-off.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

#: name -> (channels, classes, batch norm): two architectures, so hidden cases use another model
MODEL_ARCHS: dict[str, tuple[int, int, bool]] = {"a": (6, 5, True), "b": (4, 7, False)}

#: the layers of every tiny model that the exercises ask for (ReLU outputs)
TINY_LAYERS = ("features.2", "features.6")


def tiny_cnn(name: str) -> nn.Sequential:
    """An untrained tiny CNN ``[N, 3, H, W] -> [N, classes]`` (weights come from the stored references)."""
    c, classes, bn = MODEL_ARCHS[name]
    norm: nn.Module = nn.BatchNorm2d(c) if bn else nn.Identity()
    features = nn.Sequential(
        nn.Conv2d(3, c, 3, padding=1),
        norm,
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1),
        nn.Identity(),
        nn.ReLU(),
    )
    return nn.Sequential(
        OrderedDict(features=features, pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), classifier=nn.Linear(2 * c, classes))
    )


def seeded_state(name: str, seed: int) -> dict[str, torch.Tensor]:
    """Random float64 weights (and non-trivial batch-norm statistics) for :func:`tiny_cnn`."""
    torch.manual_seed(seed)
    model = tiny_cnn(name).double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d) and m.running_mean is not None and m.running_var is not None:
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return {k: v.clone() for k, v in model.state_dict().items()}


def build(name: str, state: dict[str, torch.Tensor], dtype: torch.dtype, train: bool = False) -> nn.Module:
    """The stored tiny model ``name`` in ``dtype``, parameters frozen, in eval (or train) mode."""
    model = tiny_cnn(name)
    model.load_state_dict(state)
    model = model.to(dtype).train(train)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def is_model_ref(arg: object) -> bool:
    """``"<model:NAME>"``: a stored tiny model in a case's arguments."""
    return isinstance(arg, str) and arg.startswith("<model:") and arg[7:-1] in MODEL_ARCHS
