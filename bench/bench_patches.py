"""Maximally activating patches over 256 images (squeezenet1_1, 224 px, layer features.7).

Reference: the per-image loop one writes first — each image through the whole network with a
hook on the layer, its strongest unit kept, a full sort at the end. Kit:
:func:`cnnviz_helpers.patches.max_activating_patches` on batches of 64 preprocessed images, as a
notebook hands them over (it runs 8 at a time, channels-last, under ``inference_mode``, the forward
pass stops at the layer, a running top-k, crops taken while streaming). Same top-k on both sides.

Target ≥ 2.5x. Measured on the shared 2-core CPU with one thread (wall and CPU time agree, 128
images): kit 3.0–3.2x; the CPU's limit, the forward pass to features.7 alone with the same
normalisation (batches of 8, channels-last) vs the reference, is 3.5–4.5x, so the top-k bookkeeping
and the caller's 64-image normalisation cost the rest. The regression this case caught (kit 0.74–0.88x; git log -p shows no
change to this code path since it landed at 5.92x, so that figure came from other conditions):
every batch of 64 went through the network as handed over, in NCHW (this bench's loader; the kit's
``preprocess`` happens to give channels-last). At 224 px a batch of 64 has 200 MB feature maps that no
cache holds: the layer alone, channels-last, gives 1.3–1.7x at batch 64 and 3.5–4.5x at batch 8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision

from bench import Case, sized
from cnnviz_helpers import IMAGENET_MEAN, IMAGENET_STD, capture
from cnnviz_helpers.patches import max_activating_patches

N, SIZE, LAYER, CHANNEL, K = sized(256, 12), sized(224, 64), "features.7", 10, 9
LOADER_BATCH = sized(64, 5)  # images the caller preprocesses at a time (as notebook 03 does)
_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _normalise(images: torch.Tensor) -> torch.Tensor:
    return (images.float() / 255 - _MEAN) / _STD


def setup() -> dict:
    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_1(weights=None).eval()  # random weights: speed only
    # smooth random pictures, stored as uint8 like decoded JPEGs, normalised batch by batch
    low = torch.rand(N, 3, 28, 28)
    images = torch.cat([F.interpolate(low[i : i + 100], size=SIZE, mode="bilinear") for i in range(0, N, 100)])
    return {"model": model, "images": (images * 255).round().to(torch.uint8)}


def kit(inputs: dict) -> torch.Tensor:
    images = inputs["images"]
    batches = (_normalise(images[i : i + LOADER_BATCH]) for i in range(0, len(images), LOADER_BATCH))
    top = max_activating_patches(inputs["model"], batches, LAYER, CHANNEL, k=K, progress=False)
    return torch.stack([top.values, top.image_index.float()])


def reference(inputs: dict) -> torch.Tensor:
    images, best = inputs["images"], []
    with torch.no_grad(), capture(inputs["model"], LAYER, stop=False, detach=True) as acts:
        for i in range(len(images)):
            acts.run(_normalise(images[i : i + 1]))
            best.append(acts[LAYER][0, CHANNEL].max())
    values = torch.stack(best)
    order = values.sort(descending=True, stable=True).indices[:K]
    return torch.stack([values[order], order.float()])


def check(kit_out: torch.Tensor, ref_out: torch.Tensor) -> None:
    torch.testing.assert_close(kit_out[0], ref_out[0], rtol=1e-4, atol=1e-5)
    assert torch.equal(kit_out[1], ref_out[1]), "different images in the top-k"


CASES = [
    Case(
        name=f"max-activating patches squeezenet1_1 {SIZE}px {N} imgs vs per-image loop",
        setup=setup,
        kit=kit,
        reference=reference,
        target=2.5,  # measured 3.0–3.2x (see above); the regression gave 0.8x
        repeat=3,
        check=check,
    ),  # fmt: skip
]
