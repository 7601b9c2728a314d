"""Gradient-ascent synthesis (issue 5, sections 6 and 8): iterations per second, kit vs a CS231n-style loop.

Both sides run squeezenet1_1 (random weights) at 224 px, with the same jitter offsets. The
references are written the way the CS231n / original DeepDream notebooks write them: a full
forward pass every step (with a forward hook for DeepDream), ``.data`` updates, jitter by
concatenation or ``np.roll``, blur and octave resizing through NumPy/SciPy. The kit stops the
forward pass at the target layer (DeepDream) or computes only the target class's row of the
classifier (class visualization: ``scores.target_scores``; SqueezeNet's classifier is a 1×1
convolution to 1000 channels, a quarter of the network), keeps the image on the device in a
channels-last layout (faster convolutions on CPU) and never leaves torch. Target: ≥ 1.3×.

Note: the reference blurs with ``scipy.ndimage.gaussian_filter1d(mode="mirror")`` — the border
rule of ``images.gaussian_blur`` — instead of CS231n's default ``mode="reflect"``, so that the
class-visualization results can be compared pixel by pixel.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from bench import Case
from cnnviz_helpers import KitModel, load_model
from cnnviz_helpers.class_visualization import class_visualization
from cnnviz_helpers.core.layers import capture
from cnnviz_helpers.deepdream import deepdream

CV = dict(target=76, steps=10, lr=25.0, l2_reg=1e-3, blur_every=5, sigma=0.5, jitter=16, seed=0)
DD = dict(steps=4, lr=1.5 / 255, octaves=3, octave_scale=1.4, jitter=32, seed=0)


def _setup() -> dict:
    km = load_model("squeezenet1_1", weights="random", device="cpu", progress=False)
    image = km.preprocess(km.examples[0].image)
    return {"km": km, "image": image, "layer": km.spec.layers[len(km.spec.layers) // 2]}


# ----------------------------------------------------------------------------- class visualization
def _kit_class_visualization(inp: dict, steps: int = CV["steps"]) -> torch.Tensor:
    km: KitModel = inp["km"]
    return class_visualization(
        km, CV["target"], steps=steps, lr=CV["lr"], l2_reg=CV["l2_reg"], blur_every=CV["blur_every"],
        blur_sigma=CV["sigma"], jitter=CV["jitter"], seed=CV["seed"], size=224, progress=False,
    )  # fmt: skip


def _cs231n_jitter(x: torch.Tensor, ox: int, oy: int) -> torch.Tensor:
    if ox:
        x = torch.cat([x[:, :, :, -ox:], x[:, :, :, :-ox]], dim=3)
    if oy:
        x = torch.cat([x[:, :, -oy:], x[:, :, :-oy]], dim=2)
    return x


def _cs231n_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    arr = x.cpu().clone().numpy()
    arr = ndimage.gaussian_filter1d(arr, sigma, axis=2, mode="mirror")
    arr = ndimage.gaussian_filter1d(arr, sigma, axis=3, mode="mirror")
    x.copy_(torch.Tensor(arr).type_as(x))
    return x


def _reference_class_visualization(inp: dict, steps: int = CV["steps"]) -> torch.Tensor:
    km: KitModel = inp["km"]
    model, mean, std = km.model, km.mean, km.std
    g = torch.Generator().manual_seed(CV["seed"])
    img = torch.randn(1, 3, 224, 224, generator=g).requires_grad_()
    for t in range(steps):
        ox, oy = (int(v) for v in torch.randint(-CV["jitter"], CV["jitter"] + 1, (2,), generator=g))
        img.data.copy_(_cs231n_jitter(img.data, ox, oy))
        scores = model(img)
        loss = scores[0, CV["target"]] - CV["l2_reg"] * torch.square(torch.linalg.norm(img))
        loss.backward()
        img.data += CV["lr"] * img.grad / torch.linalg.norm(img.grad)
        img.grad.zero_()
        img.data.copy_(_cs231n_jitter(img.data, -ox, -oy))
        for c in range(3):
            img.data[:, c].clamp_(min=float(-mean[c] / std[c]), max=float((1.0 - mean[c]) / std[c]))
        if t % CV["blur_every"] == 0:
            _cs231n_blur(img.data, CV["sigma"])
    return img.detach()


def _same_image(kit: torch.Tensor, ref: torch.Tensor) -> None:
    """Both stay in the valid pixel range, and both loops give the same image over the first steps.

    On an untrained network the class score sits near a ReLU's kink, so after a few steps
    rounding differences (e.g. ``x.pow(2).sum()`` vs ``norm(x)**2``) flip ReLUs and the two
    trajectories part; ``tests/test_class_visualization.py`` checks equality over 12 steps on the
    trained ShapesNet. Here: the first 3 steps (including a blur) agree on average to 0.1 %.
    """
    inp = _setup()
    km: KitModel = inp["km"]
    lo = -torch.tensor(km.mean).view(1, 3, 1, 1) / torch.tensor(km.std).view(1, 3, 1, 1)
    hi = lo + 1 / torch.tensor(km.std).view(1, 3, 1, 1)
    for img in (kit, ref):
        assert (img >= lo - 1e-5).all() and (img <= hi + 1e-5).all()
    a, b = _kit_class_visualization(inp, steps=3), _reference_class_visualization(inp, steps=3)
    diff = (a - b).abs()
    assert diff.mean() < 1e-3 * b.abs().mean(), f"after 3 steps: mean difference {diff.mean():.2e}, max {diff.max():.2e}"


# ----------------------------------------------------------------------------- DeepDream
def _kit_deepdream(inp: dict) -> torch.Tensor:
    return deepdream(
        inp["km"], inp["image"], inp["layer"], steps=DD["steps"], lr=DD["lr"], octaves=DD["octaves"],
        octave_scale=DD["octave_scale"], jitter=DD["jitter"], seed=DD["seed"], progress=False,
    )  # fmt: skip


def _reference_deepdream(inp: dict) -> torch.Tensor:
    km: KitModel = inp["km"]
    model, layer = km.model, inp["layer"]
    std = np.asarray(km.std, dtype=np.float32).reshape(1, 3, 1, 1)
    mean = np.asarray(km.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    lo, hi = -mean / std, (1 - mean) / std
    g = torch.Generator().manual_seed(DD["seed"])
    stored: dict[str, torch.Tensor] = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: stored.update(out=o))
    try:
        octaves = [inp["image"].cpu().numpy()]
        for _ in range(DD["octaves"] - 1):
            octaves.append(ndimage.zoom(octaves[-1], (1, 1, 1 / DD["octave_scale"], 1 / DD["octave_scale"]), order=1))
        detail = np.zeros_like(octaves[-1])
        for octave_base in octaves[::-1]:
            h, w = octave_base.shape[-2:]
            if detail.shape[-2:] != (h, w):
                detail = ndimage.zoom(detail, (1, 1, h / detail.shape[-2], w / detail.shape[-1]), order=1)
            src = octave_base + detail
            for _ in range(DD["steps"]):
                ox, oy = (int(v) for v in torch.randint(-DD["jitter"], DD["jitter"] + 1, (2,), generator=g))
                src = np.roll(np.roll(src, ox, -1), oy, -2)
                x = torch.from_numpy(src).requires_grad_()
                model(x)  # full forward; the hook keeps the layer's output
                out = stored["out"]
                out.backward(out.detach())  # gradient of ½‖a‖² is a
                grad = x.grad.numpy()
                src = src + DD["lr"] / std * grad / np.abs(grad).mean()
                src = np.roll(np.roll(src, -ox, -1), -oy, -2)
                src = np.clip(src, lo, hi)
            detail = src - octave_base
    finally:
        handle.remove()
    return torch.from_numpy(src)


def _dreams_agree(kit: torch.Tensor, ref: torch.Tensor) -> None:
    """Both raise the layer's energy by a similar factor (resizing differs slightly, so no pixel equality)."""
    inp = _setup()
    with capture(inp["km"].model, inp["layer"], detach=True) as acts:
        acts.run(torch.cat([inp["image"], kit, ref]))
    energy = acts[inp["layer"]].pow(2).mean(dim=(1, 2, 3))
    gain_kit, gain_ref = float(energy[1] / energy[0]), float(energy[2] / energy[0])
    assert gain_kit > 1 and gain_ref > 1 and 0.5 < gain_kit / gain_ref < 2, (gain_kit, gain_ref)


CASES = [
    Case(
        "class visualization squeezenet1_1 224px x10 steps",
        _setup, _kit_class_visualization, _reference_class_visualization, target=1.3, repeat=3, check=_same_image,
    ),
    Case(
        "deepdream squeezenet1_1 224px 3 octaves x4 steps",
        _setup, _kit_deepdream, _reference_deepdream, target=1.3, repeat=3, check=_dreams_agree,
    ),
]  # fmt: skip
