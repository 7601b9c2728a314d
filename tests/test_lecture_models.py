"""The architectures added for the lecture's first-layer comparison (AlexNet, DenseNet) load like torchvision's."""

from __future__ import annotations

import re

import torch
import torchvision

from cnnviz_helpers.models import loading


def test_densenet_checkpoint_keys_are_renamed_as_torchvision_does():
    """torchvision's DenseNet files use the old names ``norm.1`` …; the kit renames them before loading."""
    torch.manual_seed(0)
    net = torchvision.models.densenet121(weights=None)
    new_style = net.state_dict()
    old_style = {  # as in the 2017 checkpoint files: old names, no num_batches_tracked buffers
        re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
        for k, v in new_style.items()
        if not k.endswith("num_batches_tracked")
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_style  # the checkpoint's spelling
    renamed = {loading._DENSENET_OLD_KEY.sub(r"\1\2", k): v for k, v in old_style.items()}
    assert set(renamed) == {k for k in new_style if not k.endswith("num_batches_tracked")}
    fresh = torchvision.models.densenet121(weights=None)
    fresh.load_state_dict(renamed)  # strict: every key matches
    assert torch.equal(fresh.features.conv0.weight, net.features.conv0.weight)


def test_alexnet_and_densenet_are_offered_with_their_first_convolutions():
    for name, first, kernel in (("alexnet", "features.0", 11), ("densenet121", "features.conv0", 7)):
        km = loading.load_model(name, weights="random", device="cpu")
        conv = km.model.get_submodule(first)
        assert isinstance(conv, torch.nn.Conv2d) and conv.kernel_size == (kernel, kernel) and conv.in_channels == 3
        assert "RANDOM" in km.description and name in loading.IMAGENET_MODELS
