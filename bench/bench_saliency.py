"""Gradient attribution (issue 4): the kit against Captum, and batched SmoothGrad against a loop.

- every registry attribution method that names its Captum class (``Method.captum``: saliency, guided
  backprop, Integrated Gradients …) at 224 px on squeezenet1_1, with the entry's default settings:
  ratio Captum / kit ≥ 1 (no slower), the same map (compared as ``|map|``, max over colour channels);
  two images for a quick method, one for a slow one (Integrated Gradients: 50 path points). Measured on
  a loaded 2-core CPU: Integrated Gradients 1.43x (kit 12.5 s, Captum 17.9 s, one image). A method added to the registry with a Captum reference gets its case here without editing this file;
- SmoothGrad with 25 samples, batched (``smoothgrad``'s default batch size: 8 copies per pass on the
  CPU, 32 on a GPU) vs 25 separate ``saliency_map`` calls on the same noisy copies: ratio ≥ 2.
  On a small CPU this is compute-bound — a 224-px forward + backward costs about the same per
  copy at any batch size, so batching saves only the per-call overhead and cache misses
  (1.1–1.7× measured on 2 cores); the ≥ 2× shows where one pass is far from using the device fully (a GPU).

Random weights (the timing does not depend on them; ImageNet weights may not be downloadable).
"""

from __future__ import annotations

import warnings

import torch

from bench import Case
from cnnviz_helpers import load_model
from cnnviz_helpers.core.images import attribution_heatmap
from cnnviz_helpers.methods import METHODS, Method
from cnnviz_helpers.saliency import saliency_map, smoothgrad

N_SAMPLES, NOISE, SEED = 25, 0.15, 0


def _setup(batch: int) -> tuple[torch.nn.Module, torch.Tensor, list[int]]:
    model = load_model("squeezenet1_1", weights="random", device="cpu").model
    return model, torch.randn(batch, 3, 224, 224), [1, 500, 999, 42][:batch]


def _captum(method: Method, inputs):
    """The entry's Captum class on the same inputs, with the entry's default settings."""
    import captum.attr

    assert method.captum is not None
    model, x, target = inputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not require gradients", "setting backward hooks"
        explainer = getattr(captum.attr, method.captum.name)(model)
        return explainer.attribute(x.clone().requires_grad_(), target=target, **method.captum.options(method.defaults()))


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    a, b = attribution_heatmap(a), attribution_heatmap(b)  # |map|: Captum's Saliency keeps the colour channels
    torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3 * float(b.abs().max()))  # batching and layout change float rounding


def _close_overall(a: torch.Tensor, b: torch.Tensor) -> None:
    """Same map up to a few pixels: batch-of-25 and batch-of-1 convolutions round differently, which
    can flip a near-tie max-pool switch and move one gradient path (seen for ~1 % of the pixels)."""
    err = float((a - b).norm() / b.norm())
    assert err < 1e-2, f"relative L2 difference {err:.1e}"


def _separate_calls(inputs) -> torch.Tensor:
    """SmoothGrad as 25 one-image calls on exactly the noisy copies ``smoothgrad`` draws."""
    model, x, target = inputs
    noise = torch.randn((N_SAMPLES, *x.shape[1:]), generator=torch.Generator().manual_seed(SEED))
    copies = x + NOISE * (x.max() - x.min()) * noise
    return torch.stack([saliency_map(model, copies[k : k + 1], target)[0] for k in range(N_SAMPLES)]).mean(0, keepdim=True)


def _captum_case(method: Method) -> Case:
    assert method.captum is not None
    batch = 2 if method.quick else 1  # a slow method (many passes per image) on one image keeps the case short
    return Case(
        f"attribution/{method.function.__name__} squeezenet1_1 224px x{batch} vs Captum {method.captum.name}",
        setup=lambda: _setup(batch),
        kit=lambda i: method.run(i[0], i[1], i[2]),
        reference=lambda i: _captum(method, i),
        target=1.0,
        repeat=5 if method.quick else 3,
        check=_close,
    )


CASES = [_captum_case(m) for m in METHODS if m.kind == "attribution" and m.captum is not None] + [
    Case(
        "attribution/smoothgrad 25 samples batched (default batch size) vs 25 separate calls (squeezenet1_1 224px)",
        setup=lambda: _setup(1),
        kit=lambda i: smoothgrad(*i, n_samples=N_SAMPLES, noise_level=NOISE, seed=SEED, progress=False),
        reference=_separate_calls,
        target=2.0,
        repeat=3,
        check=_close_overall,
    ),
]
