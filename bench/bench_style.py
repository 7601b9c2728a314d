"""Gatys style transfer (section 11): the kit's loop against one written like the PyTorch neural-style tutorial.

Both run the same Adam iterations (CS231n schedule, clamping) on the same images with the same
losses, at 256 px on VGG16 features (random weights: speed does not depend on them). The
reference runs the whole ``features`` stack for every image at every iteration and recomputes
the content and style targets each time; the kit computes the targets once and stops every
forward pass after the deepest layer it uses (:func:`cnnviz_helpers.style.layer_features`).
Issue target: ≥ 1.5x per iteration.

    python -m bench style
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench import Case
from cnnviz_helpers import load_model
from cnnviz_helpers.core.regularizers import tv_loss
from cnnviz_helpers.models.loading import KitModel
from cnnviz_helpers.style import preset_layers, style_transfer

SIZE, STEPS = 256, 8  # enough steps that the one-time target computation is amortised
CONTENT, STYLE = "astronaut", "gravel"  # square photos: both loops see the same 256x256 inputs
# Gatys et al. on VGG: style relu1_1, relu2_1, relu3_1, relu4_1, relu5_1; content relu4_2.
GATYS = {
    "content": "features.20",
    "style": ["features.1", "features.6", "features.11", "features.18", "features.25"],
    "style_weights": [1e5, 1e4, 1e3, 1e2, 1e1],
}


@dataclass
class Inputs:
    km: KitModel
    content_layer: str
    style_layers: list[str]
    style_weights: list[float]


def _vgg16() -> KitModel:
    torch.manual_seed(0)
    return load_model("vgg16", weights="random")


def _setup_gatys() -> Inputs:
    return Inputs(_vgg16(), GATYS["content"], GATYS["style"], GATYS["style_weights"])


def _setup_cs231n() -> Inputs:
    km = _vgg16()
    content, styles = preset_layers(km, "starry_night")
    return Inputs(km, content, styles, [300000, 1000, 15, 3])


def kit(inp: Inputs) -> list[float]:
    out = style_transfer(
        inp.km,
        CONTENT,
        STYLE,
        content_layer=inp.content_layer,
        style_layers=inp.style_layers,
        style_weights=inp.style_weights,
        content_weight=6e-2,
        tv_weight=2e-2,
        image_size=SIZE,
        style_size=SIZE,
        steps=STEPS,
        progress=False,
        verbose=False,
    )
    return out.losses["total"][:STEPS]


def _all_features(features: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every output of the ``features`` stack, as the tutorial's hand-built Sequential sees them."""
    out = {}
    for i, layer in enumerate(features):
        x = layer(x.clone() if isinstance(layer, torch.nn.ReLU) else x)  # the tutorial avoids in-place ReLUs
        out[f"features.{i}"] = x
    return out


def _gram(f: torch.Tensor) -> torch.Tensor:
    n, c, h, w = f.shape
    m = f.view(n * c, h * w)
    return m @ m.t() / (n * c * h * w)


def reference(inp: Inputs) -> list[float]:
    km = inp.km
    features = km.model.features
    content, style = km.preprocess(CONTENT, size=SIZE), km.preprocess(STYLE, size=SIZE)
    img = content.clone().contiguous().requires_grad_(True)
    mean = torch.tensor(km.mean, device=content.device).view(1, 3, 1, 1)
    std = torch.tensor(km.std, device=content.device).view(1, 3, 1, 1)
    lo, hi = (0 - mean) / std, (1 - mean) / std
    opt = torch.optim.Adam([img], lr=3.0)
    totals = []
    for _ in range(STEPS):
        with torch.no_grad():
            img.copy_(torch.maximum(torch.minimum(img, hi), lo))
        opt.zero_grad()
        with torch.no_grad():  # targets recomputed at every iteration, through the whole network
            content_target = _all_features(features, content)[inp.content_layer]
            style_feats = _all_features(features, style)
            style_targets = [_gram(style_feats[name]) for name in inp.style_layers]
        feats = _all_features(features, img)
        loss = 6e-2 * (feats[inp.content_layer] - content_target).pow(2).sum()
        for name, target, w in zip(inp.style_layers, style_targets, inp.style_weights):
            loss = loss + w * (_gram(feats[name]) - target).pow(2).sum()
        loss = loss + 2e-2 * tv_loss(img)
        loss.backward()
        opt.step()
        totals.append(float(loss.detach()))
    return totals


def same_losses(kit_out: list[float], ref_out: list[float]) -> None:
    """Same objective (first step) and same optimisation (next steps; later, float rounding differences
    — e.g. batched vs plain matrix products — are amplified by Adam's lr 3.0 and the runs drift apart)."""
    torch.testing.assert_close(kit_out[0], ref_out[0], rtol=1e-5, atol=0)
    torch.testing.assert_close(torch.tensor(kit_out[:3]), torch.tensor(ref_out[:3]), rtol=1e-3, atol=0)


CASES = [
    Case(
        f"style: {STEPS} Gatys iterations, VGG16 {SIZE}px, Gatys layers",
        _setup_gatys,
        kit,
        reference,
        target=1.5,
        repeat=2,
        check=same_losses,
    ),
    Case(
        f"style: {STEPS} Gatys iterations, VGG16 {SIZE}px, CS231n preset layers",
        _setup_cs231n,
        kit,
        reference,
        target=1.5,
        repeat=2,
        check=same_losses,
    ),
]
