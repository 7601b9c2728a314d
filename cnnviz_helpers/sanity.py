r"""Sanity checks for saliency methods (Adebayo et al. 2018): cascading model randomization.

If an explanation explains *the model*, destroying the model must change it. The cascading
randomization test re-initialises the network's layers one after the other, from the output
towards the input, and after each step compares every method's map with the map of the trained
network. Maps that depend on the learned weights (saliency, Grad-CAM) decorrelate quickly; a map
that barely changes (guided backprop) is mostly showing the *image* — edges — not what the
network learned.

The similarity score is Spearman's rank correlation between the absolute maps (the paper's
"Spearman rank correlation (ABS)"): 1 for the same ranking of pixels, about 0 for unrelated maps.
The user's model is never modified: a deep copy is randomized. The default methods are the quick
attribution methods of the method registry (:func:`cnnviz_helpers.methods.attribution_methods`; the
registry sits above the sections, so :data:`DEFAULT_METHODS` names them here and a test keeps the two equal).

Example:
    >>> km = load_model()
    >>> x = km.preprocess([e.image for e in km.examples[:4]])
    >>> res = cascading_randomization(km.model, x)
    >>> res.plot(index=0, image=km.deprocess(x[0]))
    >>> res.plot_similarity()
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .core.images import attribution_heatmap, normalize
from .core.layers import Hooks, get_layer, layer_names
from .gradcam import grad_cam, guided_grad_cam
from .guided_backprop import guided_backprop
from .models.loading import KitModel
from .models.targets import Attribution, Target, class_targets, model_input, resolve_target, unwrap
from .saliency import saliency_map

#: The methods tested by default: the registry's quick attribution methods, each passed as it is.
DEFAULT_METHODS: dict[str, Attribution] = {
    "saliency": saliency_map,
    "guided backprop": guided_backprop,
    "Grad-CAM": grad_cam,
    "guided Grad-CAM": guided_grad_cam,
}


def _ranks(v: torch.Tensor) -> torch.Tensor:
    """1-based ranks of a 1-D tensor; tied values share the mean of their ranks (as ``scipy.stats.rankdata``)."""
    _, inverse, counts = torch.unique(v, return_inverse=True, return_counts=True)
    counts = counts.to(torch.float64)
    return (counts.cumsum(0) - (counts - 1) / 2)[inverse]


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Spearman's rank correlation between two batches of maps, one value per image.

    :math:`\rho = \mathrm{corr}\big(\mathrm{rank}(a), \mathrm{rank}(b)\big)` over the pixels, with tied
    values given their average rank (Grad-CAM maps have many exact zeros). A constant map has no
    ranking: its correlation is reported as 0.

    Args:
        a, b: ``[N, ...]`` tensors of the same shape.

    Returns:
        ``[N]`` values in [-1, 1] (float64, CPU).

    Example:
        >>> rank_correlation(saliency_map(model, x), saliency_map(model, x + 0.1 * torch.randn_like(x)))
    """
    if a.shape != b.shape:
        raise ValueError(f"maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    ra = torch.stack([_ranks(v) for v in a.detach().flatten(1).cpu()])
    rb = torch.stack([_ranks(v) for v in b.detach().flatten(1).cpu()])
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    denom = ra.norm(dim=1) * rb.norm(dim=1)
    return torch.where(denom > 0, (ra * rb).sum(1) / denom.clamp_min(1e-300), torch.zeros_like(denom))


def _randomize(module: nn.Module, seed: int) -> None:
    """Re-initialise every parameterised sub-module of ``module`` with its default init, seeded."""
    params = list(module.parameters())
    devices = [params[0].device] if params and params[0].device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for m in module.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()


@dataclass
class SanityResult:
    """Outcome of :func:`cascading_randomization`.

    Attributes:
        steps: ``"original"``, then the name of each layer as it was randomized (cumulative: step
            ``k`` has the top ``k`` layers randomized).
        maps: method → ``[steps, N, H, W]`` absolute heatmaps (CPU).
        similarity: method → ``[steps, N]`` rank correlation with the original map.
        target: the class explained for each image (the trained model's prediction when not given).
    """

    steps: list[str]
    maps: dict[str, torch.Tensor]
    similarity: dict[str, torch.Tensor]
    target: torch.Tensor

    def plot(self, index: int = 0, image: np.ndarray | None = None, max_steps: int = 8):
        """Grid of image ``index``'s maps: one row per method, one column per (evenly picked) step."""
        import matplotlib.pyplot as plt

        cols = np.unique(np.linspace(0, len(self.steps) - 1, min(max_steps, len(self.steps))).round().astype(int))
        extra = image is not None
        fig, axes = plt.subplots(
            len(self.maps), len(cols) + extra, figsize=(2.4 * (len(cols) + extra), 2.7 * len(self.maps)), squeeze=False
        )
        for row, (method, maps) in enumerate(self.maps.items()):
            if extra:
                axes[row, 0].imshow(image)
                axes[row, 0].set_title("image")
            for col, step in enumerate(cols):
                ax = axes[row, col + extra]
                shown = ax.imshow(normalize(maps[step, index]), cmap="inferno", vmin=0, vmax=1)  # ui.plotting.MAGNITUDE
                ax.set_title(f"{self.steps[step]}\nρ={float(self.similarity[method][step, index]):.2f}")
            axes[row, 0].set_ylabel(method)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle("cascading randomization: layers re-initialised from the top (left → right)")
        fig.tight_layout()
        fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.5, label="|map|, each scaled 0–1")
        return fig

    def plot_similarity(self):
        """Mean rank correlation with the original map after each step, one line per method."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(self.steps)), 3.5))
        for method, sim in self.similarity.items():
            ax.plot(sim.mean(1).numpy(), marker="o", label=method)
        ax.set_xticks(range(len(self.steps)), self.steps, rotation=60, ha="right")
        ax.set_ylabel("Spearman ρ with original (|map|)")
        ax.set_xlabel("randomized up to (from the top)")
        ax.axhline(0, color="gray", lw=0.5)
        ax.legend()
        fig.tight_layout()
        return fig


def cascading_randomization(
    model: nn.Module | KitModel,
    x: torch.Tensor,
    target: Target = None,
    *,
    methods: Mapping[str, Attribution] | None = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> SanityResult:
    """Adebayo et al.'s cascading randomization test on a copy of ``model``.

    Args:
        model: the trained network; never modified (a deep copy is randomized).
        x: normalised batch ``[N, 3, H, W]``.
        target: class per image / one class / ``None`` for the trained model's prediction; the
            same classes are explained at every step.
        methods: name → attribution method ``fn(model, x, target)`` (any of the kit's, passed as it
            is); default :data:`DEFAULT_METHODS`, the quick attribution methods of the registry
            (saliency, guided backprop, Grad-CAM and guided Grad-CAM at the last conv layer). Each map is compared as ``|map|`` (max over colour channels).
        layers: the layers to re-initialise, in order; default every ``Conv2d`` / ``Linear`` from
            the output towards the input. Each step re-initialises all parameterised modules
            inside the named layer with PyTorch's default init.
        seed: seed of the new weights (step ``k`` uses ``seed + k``).
        progress: progress bar over the steps.

    Returns:
        A :class:`SanityResult` (``.plot()``, ``.plot_similarity()``).

    Example:
        >>> res = cascading_randomization(km.model, x, methods={"IG": integrated_gradients})
        >>> {m: s[-1].mean().item() for m, s in res.similarity.items()}   # fully randomized
    """
    target = resolve_target(model, target)
    model = unwrap(model)[0]
    methods = DEFAULT_METHODS if methods is None else methods
    order = list(layers) if layers is not None else layer_names(model, (nn.Conv2d, nn.Linear))[::-1]
    for name in order:
        get_layer(model, name)  # unknown names fail before any work, with suggestions
    with Hooks(model), torch.no_grad():
        targets = class_targets(model(model_input(model, x)), target)
    randomized = copy.deepcopy(model)

    def run_methods() -> dict[str, torch.Tensor]:
        return {name: attribution_heatmap(fn(randomized, x, targets)).cpu() for name, fn in methods.items()}

    maps = {name: [m] for name, m in run_methods().items()}
    for k, name in enumerate(tqdm(order, desc="randomizing", disable=not progress, leave=False)):
        _randomize(get_layer(randomized, name), seed + k)
        for method, m in run_methods().items():
            maps[method].append(m)
    stacked = {method: torch.stack(ms) for method, ms in maps.items()}
    similarity = {method: torch.stack([rank_correlation(ms[0], m) for m in ms]) for method, ms in stacked.items()}
    return SanityResult(["original", *order], stacked, similarity, targets.cpu())
