"""ShapesNet: the kit's own small CNN, trained offline on :mod:`cnnviz_helpers.datasets.shapes`.

It exists so every notebook runs without ImageNet weights. Its layout copies torchvision's
VGG / SqueezeNet naming (``features.N`` then ``classifier.N``, in-place ReLUs), so code and
exercises written for it read the same as for the real networks.

Train it with ``python -m cnnviz_helpers.training.train_shapesnet`` (see that module).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.images import DATA_DIR
from ..core.layers import module_device
from .assets import load_weights_file
from .shapes import CLASS_NAMES, make_shapes

WEIGHTS_PATH = DATA_DIR / "shapesnet.pt"
CARD_PATH = DATA_DIR / "shapesnet.md"  # the model card (written by the training script)
# Normalisation used for training (per-channel statistics of the generated data, rounded).
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
TRAIN_SEED, VAL_SEED, TEST_SEED = 1, 2, 3


def _conv_block(c_in: int, c_out: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ShapesNet(nn.Module):
    """A VGG-style CNN for 64x64 RGB images: 4 conv-BN-ReLU blocks, global pooling, 2 FC layers.

    ``features`` (named like torchvision's ``vgg16_bn``)::

        0 conv5x5(3→32)   1 bn  2 relu  3 maxpool   → 32x32   (first-layer filters: features.0)
        4 conv3x3(32→64)  5 bn  6 relu  7 maxpool   → 16x16
        8 conv3x3(64→128) 9 bn 10 relu 11 maxpool   →  8x8
       12 conv3x3(128→128) 13 bn 14 relu             →  8x8   (last conv block: Grad-CAM)

    ``classifier``: 0 global average pool, 1 flatten, 2 fc(128→128), 3 ReLU (the 128-d
    "fc7-like" penultimate layer for kNN / t-SNE), 4 dropout, 5 fc(128→classes).
    The ReLUs are in place, as in torchvision's VGG and SqueezeNet.
    """

    def __init__(self, num_classes: int = len(CLASS_NAMES)) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_block(3, 32, 5),
            nn.MaxPool2d(2),
            *_conv_block(32, 64, 3),
            nn.MaxPool2d(2),
            *_conv_block(64, 128, 3),
            nn.MaxPool2d(2),
            *_conv_block(128, 128, 3),
        )
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(128, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` → normalised float ``[N, 3, H, W]``."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def accuracy(model: nn.Module, n: int = 1000, seed: int = TEST_SEED, batch_size: int = 250) -> float:
    """Top-1 accuracy of ``model`` on ``n`` freshly generated images (seed ``seed``)."""
    images, labels, _ = make_shapes(n, seed=seed)
    return accuracy_on(model, images, labels, batch_size)


@torch.inference_mode()
def accuracy_on(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 250) -> float:
    """Top-1 accuracy of ``model`` (ShapesNet normalisation) on uint8 ``[N, H, W, 3]`` images and their labels."""
    was_training = model.training
    model.eval()
    correct = 0
    device = module_device(model)
    for i in range(0, len(images), batch_size):
        x = to_tensor(images[i : i + batch_size]).to(device)
        correct += (model(x).argmax(1).cpu() == torch.from_numpy(labels[i : i + batch_size])).sum().item()
    model.train(was_training)
    return correct / len(images)


def load_shapesnet(path: str | Path = WEIGHTS_PATH, device: torch.device | str = "cpu") -> ShapesNet:
    """The trained ShapesNet from ``path`` (``weights_only=True``), in eval mode."""
    state = load_weights_file(
        path,
        "Restore it (`git checkout -- data/shapesnet.pt` in a clone, or reinstall the kit) or retrain it with "
        "`python -m cnnviz_helpers.training.train_shapesnet` (`make offline-model`).",
    )
    model = ShapesNet()
    model.load_state_dict(state)
    return model.to(device).eval()
