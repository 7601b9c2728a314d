"""Occlusion on squeezenet1_1 at 224 px, window 32, stride 16 (13 x 13 = 169 windows).

Reference: ``captum.attr.Occlusion`` with its best ``perturbations_per_eval`` on this machine
(chosen in ``setup`` by timing each candidate once). Kit: :func:`cnnviz_helpers.occlusion.occlusion_map`
(batched, ``inference_mode``, only the target output of the last layer, and only the part of each
feature map that the occluder changes is recomputed). Target: ≥ 2x, same heatmap.
"""

from __future__ import annotations

import time

import torch
import torchvision
from captum.attr import Occlusion

from bench import Case
from cnnviz_helpers.occlusion import occlusion_map

SIZE, WINDOW, STRIDE, TARGET = 224, 32, 16, 3
PPE_CANDIDATES = (16, 64, 169)


def _captum(inputs: dict, ppe: int) -> torch.Tensor:
    with torch.no_grad():
        attr = Occlusion(inputs["model"]).attribute(
            inputs["x"], sliding_window_shapes=(3, WINDOW, WINDOW), strides=(3, STRIDE, STRIDE),
            baselines=0.0, target=TARGET, perturbations_per_eval=ppe,
        )  # fmt: skip
    return attr[0, 0]


def setup() -> dict:
    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_1(weights=None).eval()  # random weights: speed only
    inputs = {"model": model, "x": torch.randn(1, 3, SIZE, SIZE)}
    timings = {}
    for ppe in PPE_CANDIDATES:
        t0 = time.perf_counter()
        _captum(inputs, ppe)
        timings[ppe] = time.perf_counter() - t0
    inputs["ppe"] = min(timings, key=timings.__getitem__)
    print(f"  captum perturbations_per_eval timings: {', '.join(f'{k}: {v:.2f}s' for k, v in timings.items())} → {inputs['ppe']}")
    return inputs


def kit(inputs: dict) -> torch.Tensor:
    return occlusion_map(
        inputs["model"], inputs["x"], TARGET, window=WINDOW, stride=STRIDE, fill=0.0, batch_size=64, progress=False
    ).heatmap


def reference(inputs: dict) -> torch.Tensor:
    return _captum(inputs, inputs["ppe"])


def check(kit_out: torch.Tensor, ref_out: torch.Tensor) -> None:
    torch.testing.assert_close(kit_out, ref_out, rtol=1e-4, atol=1e-4 * float(ref_out.abs().max()))


CASES = [
    Case(
        name="occlusion squeezenet1_1 224px w32 s16 vs captum",
        setup=setup,
        kit=kit,
        reference=reference,
        target=2.0,
        repeat=3,
        check=check,
    ),  # fmt: skip
]
