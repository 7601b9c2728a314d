"""Gram matrices, texture synthesis and Gatys neural style transfer (lecture sections 10–11).

The building blocks (also used by :mod:`.fast_style`, where a network learns to do the same thing
in one forward pass):

- :func:`gram_matrix`     channel co-occurrence statistics of a feature map, divided by C·H·W;
- :func:`layer_features`  the outputs of a few layers, running the model only up to the deepest one
  (:func:`cnnviz_helpers.last_layer.extract_features` is the one-vector-per-image function of section 2);
- :func:`content_loss`, :func:`style_loss` (and :func:`~cnnviz_helpers.core.regularizers.tv_loss`) — the
  CS231n / EECS 498 definitions;
- :func:`style_targets`   the (optionally blended) Gram matrices of one or several style images.

Before the network: :func:`neighbour_synthesis`, non-parametric texture synthesis by nearest
neighbourhoods (Efros & Leung 1999; Wei & Levoy 2000), the method the lecture shows before Gram matrices.

The methods: :func:`texture_synthesis` (Gatys et al. 2015: match Gram matrices starting from noise)
and :func:`style_transfer` (Gatys et al. 2016: content + style + TV, Adam or L-BFGS, with the
CS231n weight sets as :data:`PRESETS`); its widget is :func:`cnnviz_helpers.ui.sections.style_transfer_widget`.

Example:
    >>> km = load_model()
    >>> out = style_transfer(km, "chelsea", "gravel", preset="starry_night", steps=100)
    >>> show_images([out.picture])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union, cast

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .core.config import seeded_generator
from .core.images import ImageLike, load_image
from .core.layers import capture, get_layer
from .core.options import OptionGroup, Schedule, split_options
from .core.regularizers import clamp_pixels, pixel_range, tv_loss
from .datasets.assets import ASSETS, asset_path
from .models.loading import KitModel
from .models.targets import ModelLike, as_kit_model, model_device, stop_requested, unwrap

Layer = Union[str, int]
Normalization = Union[bool, Literal["chw", "hw", "none"]]

__all__ = [
    "PRESETS",
    "StylePreset",
    "StyleResult",
    "StyleSettings",
    "content_loss",
    "layer_features",
    "loss_table",
    "gram_matrix",
    "neighbour_synthesis",
    "preset_layers",
    "style_images",
    "default_style",
    "style_loss",
    "style_targets",
    "style_transfer",
    "texture_synthesis",
]


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


def gram_matrix(features: torch.Tensor, normalize: Normalization = True) -> torch.Tensor:
    r"""Gram matrix of a feature map: :math:`G_{cd} = \frac{1}{C\,H\,W}\sum_{h,w} F_{c,hw}\,F_{d,hw}`.

    Entry ``(c, d)`` says how strongly channels ``c`` and ``d`` fire *together*, averaged over all
    positions — the spatial layout is summed away, which is why matching Gram matrices copies a
    texture or a painting's style but not its arrangement.

    Normalisation (``normalize``):

    - ``True`` / ``"chw"`` (default, CS231n and EECS 498): divide by :math:`C \cdot H \cdot W`.
    - ``"hw"``: divide by :math:`H \cdot W` only (the "average outer product per position"); entries
      are :math:`C` times larger, so a squared-error style loss on layer *l* grows by :math:`C_l^2`
      and the per-layer style weights must shrink by :math:`C_l^2` for the same result.
    - ``False`` / ``"none"``: the raw sum (Gatys et al.), whose loss carries
      :math:`\frac{1}{4 N_l^2 M_l^2}` (:math:`N_l = C`, :math:`M_l = HW`) instead: that is exactly
      CS231n's loss divided by 4, so Gatys' weights are 4× CS231n's. Without either factor the loss
      of layer *l* grows with :math:`(C_l H_l W_l)^2` and with the image size, and the weights would
      have to change with both.

    Args:
        features: ``[N, C, H, W]`` (or ``[C, H, W]``) activations.
        normalize: see above.

    Returns:
        ``[N, C, C]`` (or ``[C, C]``), differentiable.

    Example:
        >>> f = torch.randn(1, 64, 32, 32)
        >>> gram_matrix(f).shape
        torch.Size([1, 64, 64])
    """
    if features.ndim not in (3, 4):
        raise ValueError(f"gram_matrix expects [N, C, H, W] or [C, H, W] features, got shape {tuple(features.shape)}")
    c, h, w = features.shape[-3:]
    f = features.flatten(-2)  # [..., C, H*W]
    g = f @ f.transpose(-1, -2)
    mode = ("chw" if normalize else "none") if isinstance(normalize, bool) else normalize
    if mode == "chw":
        return g / (c * h * w)
    if mode == "hw":
        return g / (h * w)
    if mode == "none":
        return g
    raise ValueError(f"normalize must be True/'chw', 'hw' or False/'none', got {normalize!r}")


def content_loss(current: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    r"""Content loss :math:`w_c \sum_{c,i,j} (F_{cij} - P_{cij})^2` (CS231n; Gatys et al. use :math:`\tfrac12\sum`).

    Args:
        current: features of the image being optimised at the content layer, ``[N, C, H, W]``.
        target: features of the content image at the same layer (same shape, or broadcastable).
        weight: :math:`w_c` (CS231n's ``content_weight``).

    Returns:
        A scalar tensor (summed over the batch too).

    Example:
        >>> content_loss(feats, content_feats.detach(), weight=5e-2)
    """
    if current.shape[-3:] != target.shape[-3:]:
        raise ValueError(
            f"content features {tuple(current.shape)} and target {tuple(target.shape)} differ: "
            "use the same layer and the same image size for both"
        )
    return weight * (current - target).pow(2).sum()


def _style_terms(
    features: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    weights: Sequence[float] | float,
    normalize: Normalization,
) -> list[torch.Tensor]:
    """One weighted squared Gram difference per style layer."""
    ws = [float(weights)] * len(features) if isinstance(weights, (int, float)) else [float(w) for w in weights]
    if not len(features) == len(targets) == len(ws):
        raise ValueError(
            f"style_loss needs one target and one weight per style layer: got {len(features)} feature maps, "
            f"{len(targets)} targets, {len(ws)} weights"
        )
    terms = []
    for f, a, w in zip(features, targets, ws):
        g = gram_matrix(f, normalize)
        if g.shape[-2:] != a.shape[-2:]:
            raise ValueError(f"Gram matrix {tuple(g.shape)} and target {tuple(a.shape)} differ: same layers, same order?")
        terms.append(w * (g - a).pow(2).sum())
    return terms


def style_loss(
    features: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    weights: Sequence[float] | float = 1.0,
    normalize: Normalization = True,
) -> torch.Tensor:
    r"""Style loss :math:`\sum_\ell w_\ell \sum_{c,d} (G^\ell_{cd} - A^\ell_{cd})^2` (CS231n / EECS 498).

    :math:`G^\ell` is the Gram matrix (:func:`gram_matrix`) of the image being optimised at style
    layer :math:`\ell` and :math:`A^\ell` that of the style image (see :func:`style_targets`).

    Args:
        features: the activations at the style layers, one ``[N, C, H, W]`` tensor per layer.
        targets: the target Gram matrices, same order (``[C, C]``, ``[1, C, C]`` or ``[N, C, C]``:
            one target broadcasts over a batch, as in fast style transfer).
        weights: :math:`w_\ell`, one per layer (or one number for all).
        normalize: Gram normalisation, as in :func:`gram_matrix` (must match the targets').

    Returns:
        A scalar tensor (summed over the batch too).

    Example:
        >>> feats = layer_features(km.model, img, ["features.1", "features.4"])
        >>> style_loss(feats, targets, weights=[20000, 500])
    """
    return torch.stack(_style_terms(features, targets, weights, normalize)).sum()


def _layer_name(model: nn.Module, layer: Layer) -> str:
    """``"features.3"`` for ``3`` (CS231n indexes ``model.features``); names are checked (with suggestions)."""
    name = f"features.{layer}" if isinstance(layer, int) else layer
    get_layer(model, name)
    return name


def layer_features(model: ModelLike, x: torch.Tensor, layers: Sequence[Layer], detach: bool = False) -> list[torch.Tensor]:
    """Outputs of ``layers`` for input ``x``, computing the model only up to the deepest of them.

    The forward pass stops as soon as every requested layer has produced its output
    (:func:`~cnnviz_helpers.core.layers.capture` with ``stop=True``), so for style transfer nothing after
    the last style / content layer — e.g. SqueezeNet's ``features.8``–``12`` and classifier — is
    ever computed. Inside, the model is in eval mode with frozen parameters; afterwards it is
    exactly as before (no hooks, same modes and ``requires_grad``). Gradients flow to ``x``.

    Args:
        model: the network (or a :class:`KitModel`).
        x: normalised input ``[N, 3, H, W]`` on the model's device (any ``H, W`` for the
            convolutional part).
        layers: dotted names (``"features.3"``) or ints (``3`` means ``"features.3"``, the CS231n
            convention of indexing ``model.features``); the result follows this order.
        detach: return detached tensors (for targets and plots).

    Returns:
        One tensor per layer, in the order of ``layers``.

    Example:
        >>> content, style1 = layer_features(km, x, ["features.3", "features.1"])
    """
    net = unwrap(model)[0]
    names = [_layer_name(net, layer) for layer in layers]
    with capture(net, names, stop=True, detach=detach) as acts:
        acts.run(x)
        return [acts[n] for n in names]


def style_targets(
    model: nn.Module | KitModel,
    styles: torch.Tensor | Sequence[torch.Tensor],
    layers: Sequence[Layer],
    blend: Sequence[float] | None = None,
    normalize: Normalization = True,
) -> list[torch.Tensor]:
    r"""Target Gram matrices :math:`A^\ell = \sum_k b_k\, G^\ell(\text{style}_k)` for each style layer.

    Several styles are mixed by blending their Gram matrices with weights :math:`b_k` normalised to
    sum to 1 (as in Johnson's ``neural-style``, ``-style_blend_weights``); blend ``(1, 0)`` is exactly
    the first style alone. Each style image may have its own size (Gram matrices are ``[C, C]``
    whatever the image size — that is what makes *style size* a free parameter).

    Args:
        model: the network (or a :class:`KitModel`).
        styles: one preprocessed style image ``[1, 3, H, W]`` or a list of them.
        layers: the style layers (names or ``features`` indices).
        blend: one non-negative weight per style (default: equal).
        normalize: Gram normalisation (:func:`gram_matrix`).

    Returns:
        One detached ``[1, C, C]`` tensor per layer.

    Example:
        >>> targets = style_targets(km, [km.preprocess(a), km.preprocess(b)], ["features.1"], blend=[0.7, 0.3])
    """
    imgs = [styles] if isinstance(styles, torch.Tensor) else list(styles)
    if not imgs:
        raise ValueError("style_targets needs at least one style image")
    b = [1.0] * len(imgs) if blend is None else [float(v) for v in blend]
    if len(b) != len(imgs) or min(b) < 0 or sum(b) <= 0:
        raise ValueError(f"blend needs {len(imgs)} non-negative weights with a positive sum, got {blend}")
    total = sum(b)
    targets: list[torch.Tensor] = []
    for img, bk in zip(imgs, b):
        if bk == 0:
            continue
        with torch.no_grad():
            grams = [gram_matrix(f, normalize) for f in layer_features(model, img, layers, detach=True)]
        targets = [g * (bk / total) for g in grams] if not targets else [t + g * (bk / total) for t, g in zip(targets, grams)]
    return targets


# ---------------------------------------------------------------------------------------------
# Presets and images
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StylePreset:
    """A CS231n weight set (assignment 3, SqueezeNet 1.1 features, 200 Adam steps).

    Layers are indices into SqueezeNet's ``model.features`` (``3`` is ``"features.3"``); for other
    models :func:`preset_layers` maps them to the same depth. ``painting`` is the
    :data:`~cnnviz_helpers.datasets.assets.ASSETS` file used by CS231n (``python -m cnnviz_helpers.training.download``
    fetches it), ``stand_in`` the shipped texture used while it is not downloaded.
    """

    painting: str
    stand_in: str
    content_weight: float
    style_weights: tuple[float, ...]
    tv_weight: float
    style_size: int
    image_size: int = 192
    content_layer: int = 3
    style_layers: tuple[int, ...] = (1, 4, 6, 7)


#: The three CS231n settings (content image: Tübingen; here any photo), checked against the assignment.
PRESETS: dict[str, StylePreset] = {
    "composition_vii": StylePreset("composition_vii.jpg", "brick", 5e-2, (20000, 500, 12, 1), 5e-2, style_size=512),
    "scream": StylePreset("the_scream.jpg", "hubble_deep_field", 3e-2, (200000, 800, 12, 1), 2e-2, style_size=224),
    "starry_night": StylePreset("starry_night.jpg", "gravel", 6e-2, (300000, 1000, 15, 3), 2e-2, style_size=192),
}

# SqueezeNet 1.1 ``features`` index → the layer at the same place (same resolution block, same
# order inside it) in VGG: features.1 = conv1's ReLU; 3, 4 = the two Fire modules after pool 1;
# 6, 7 = the two after pool 2  ↔  VGG relu1_1; relu2_1, relu2_2; relu3_1, relu3_2.
_VGG_FROM_SQUEEZENET = {1: "features.1", 3: "features.6", 4: "features.8", 6: "features.11", 7: "features.13"}


def preset_layers(km: KitModel, preset: str | StylePreset) -> tuple[str, list[str]]:
    """The preset's (content layer, style layers) for ``km``'s architecture.

    - ``squeezenet1_1``: CS231n's own indices, ``features.3`` and ``features.1/4/6/7``.
    - ``vgg16`` / ``vgg19``: the same position block by block — content ``relu2_1`` (``features.6``),
      style ``relu1_1, relu2_2, relu3_1, relu3_2`` (``features.1, 8, 11, 13``).
    - any other model, ShapesNet included: the first four of ``km.spec.layers`` for style (shallow to
      deep, keeping the preset's per-layer weights in that order) and the second of them for content.
      ShapesNet has one ReLU per block, so this gives style ``features.2, 6, 10, 14`` and content
      ``features.6``. Its layers have other magnitudes than SqueezeNet's, so the weights are only a
      starting point there, and its features (learned on 10 synthetic shape classes) give much
      weaker styles than an ImageNet network's.

    Example:
        >>> preset_layers(km, "starry_night")
        ('features.3', ['features.1', 'features.4', 'features.6', 'features.7'])
    """
    p = _preset(preset)
    if km.name == "squeezenet1_1":
        return f"features.{p.content_layer}", [f"features.{i}" for i in p.style_layers]
    if km.name in ("vgg16", "vgg19"):
        return _VGG_FROM_SQUEEZENET[p.content_layer], [_VGG_FROM_SQUEEZENET[i] for i in p.style_layers]
    layers = list(km.spec.layers)
    if len(layers) < len(p.style_layers):
        raise ValueError(f"{km.name} lists only {len(layers)} layers in km.spec.layers: pass content_layer= and style_layers=")
    return layers[1], layers[: len(p.style_layers)]


def _preset(preset: str | StylePreset) -> StylePreset:
    if isinstance(preset, StylePreset):
        return preset
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[preset]


_SHIPPED_STYLES = ("brick", "grass", "gravel", "hubble_deep_field", "flower", "china")
_PAINTINGS = ("starry_night.jpg", "great_wave.jpg", "the_scream.jpg", "composition_vii.jpg")  # in datasets.assets.ASSETS


def style_images() -> dict[str, Any]:
    """Style images available here: the shipped textures/photos, plus the paintings once downloaded.

    Keys are names (``"gravel"``, ``"starry_night"`` …), values anything :func:`load_image` reads.
    ``python -m cnnviz_helpers.training.download`` fetches the public-domain paintings.

    Example:
        >>> styles = style_images()
        >>> style = styles.get("starry_night", styles["gravel"])
    """
    found: dict[str, Any] = {n: n for n in _SHIPPED_STYLES}
    for asset in ASSETS:
        path = asset_path(asset.name)
        if path is not None and asset.name in _PAINTINGS:
            found[asset.name.removesuffix(".jpg")] = path
    return found


def default_style(fallback: str = "gravel") -> str:
    """The style the notebooks start from: the first downloaded painting (The Starry Night, The Scream,
    Composition VII, The Great Wave), else ``fallback`` (a shipped image). A key of :func:`style_images`.

    Example:
        >>> styles = style_images()
        >>> out = style_transfer(km, "chelsea", styles[default_style()])
    """
    styles = style_images()
    paintings = ("starry_night", "the_scream", "composition_vii", "great_wave")
    return next((name for name in paintings if name in styles), fallback)


def _load_sized(km: KitModel, img: ImageLike, size: int) -> torch.Tensor:
    """Preprocess ``img`` with its shorter side resized to ``size`` (aspect ratio kept, no crop)."""
    pil = load_image(img)
    scale = size / min(pil.size)
    return km.preprocess(pil, size=(max(1, round(pil.height * scale)), max(1, round(pil.width * scale))))


# ---------------------------------------------------------------------------------------------
# Optimisation
# ---------------------------------------------------------------------------------------------


@dataclass
class StyleResult:
    """What :func:`style_transfer` and :func:`texture_synthesis` return.

    Attributes:
        image: the result, a normalised ``[1, 3, H, W]`` tensor (detached, on the model's device).
        picture: the same as an ``HxWx3`` array in [0, 1] for ``plt.imshow``.
        losses: one list per loss term (``"content"``, ``"style features.1"`` …, ``"tv"``, ``"total"``),
            the weighted value at every step.
        weights: the weight of each term (to recover unweighted magnitudes).
        snapshots: ``(step, picture)`` pairs taken every ``snapshot_every`` steps.
    """

    image: torch.Tensor
    picture: np.ndarray
    losses: dict[str, list[float]]
    weights: dict[str, float]
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)

    def reduction(self, term: str = "total") -> float:
        """First / last value of a loss term: how much the optimisation reduced it."""
        values = self.losses[term]
        return values[0] / max(values[-1], 1e-30)


def loss_table(terms: dict[str, float], weights: dict[str, float]) -> str:
    """A readable table of loss terms: unweighted magnitude, weight, weighted value.

    It shows why CS231n's style weights span 1 to 300000: the unweighted terms of different layers
    differ by orders of magnitude, and the weights bring the weighted terms to comparable sizes.

    Example:
        >>> print(loss_table({"style features.1": 3.0, "tv": 0.5}, {"style features.1": 3e5, "tv": 2e-2}))
    """
    rows = [f"{'term':<24}{'unweighted':>12}{'weight':>11}{'weighted':>12}"]
    for name, value in terms.items():
        w = weights.get(name)
        raw = f"{value / w:12.3g}" if w else f"{'':12}"
        weight = f"{w:11.3g}" if w is not None else f"{'':11}"
        rows.append(f"{name:<24}{raw}{weight}{value:12.3g}")
    return "\n".join(rows)


def _optimize(
    km: KitModel,
    img: torch.Tensor,
    objective: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    weights: dict[str, float],
    optimizer: Literal["adam", "lbfgs"],
    schedule: Schedule,
    decay_lr_at: int | None,
    decayed_lr: float,
    snapshot_every: int,
    verbose: bool,
) -> StyleResult:
    """Optimise the pixels of ``img`` to minimise ``sum(objective(img).values())``.

    Adam follows CS231n: ``lr`` (default 3.0) until ``decay_lr_at`` (default 90 % of the steps,
    180 of 200), then ``decayed_lr``, with the image clamped to valid pixels until the decay.
    L-BFGS (Gatys et al.) takes one iteration per step, unconstrained (clamping would break its
    curvature estimates; the final picture is clipped to [0, 1]). The schedule's callback may stop
    the run early: the result is then the image so far.
    """
    steps, lr = schedule.steps, schedule.lr
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    img = img.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    decay_at = round(0.9 * steps) if decay_lr_at is None else decay_lr_at
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam([img], lr=3.0 if lr is None else lr)
    else:
        # one iteration per step, no tolerances (we choose the number of steps; losses can be tiny) and,
        # as in the neural-style implementations, no line search: in float32 it often fails on these losses
        opt = torch.optim.LBFGS(
            [img], lr=1.0 if lr is None else lr, max_iter=1, history_size=50, tolerance_grad=0.0, tolerance_change=0.0
        )
    losses: dict[str, list[float]] = {}
    snapshots: list[tuple[int, np.ndarray]] = []
    last: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        opt.zero_grad()
        terms = objective(img)
        total = torch.stack(list(terms.values())).sum()
        total.backward()
        if not last:  # keep the first evaluation of a step: the loss at the current image
            last.update({k: v.detach() for k, v in terms.items()}, total=total.detach())
        return total

    for t in tqdm(range(steps), desc=f"{optimizer} on pixels", disable=not schedule.progress, leave=False):
        last.clear()
        if optimizer == "adam":
            if t < decay_at:
                with torch.no_grad():
                    img.copy_(clamp_pixels(img, km.mean, km.std))
            if t == decay_at:
                for group in opt.param_groups:
                    group["lr"] = decayed_lr
            closure()
            values = {k: float(v) for k, v in last.items()}  # the loss of the image before this step
            opt.step()
        else:
            opt.step(closure)  # type: ignore[arg-type]
            values = {k: float(v) for k, v in last.items()}
        for k, v in values.items():
            losses.setdefault(k, []).append(v)
        if t == 0 and verbose:
            print("loss terms at the start:\n" + loss_table({k: v for k, v in values.items() if k != "total"}, weights))
        if snapshot_every and (t % snapshot_every == 0 or t == steps - 1):
            snapshots.append((t, km.deprocess(img.detach())[0]))
        if schedule.report(t + 1) and stop_requested(schedule.callback, t + 1, img.detach().clone()):
            break
    with torch.no_grad():
        final = {k: float(v) for k, v in objective(img).items()}
    final["total"] = sum(final.values())
    for k, v in final.items():
        losses[k].append(v)
    if verbose:
        print(f"after {t + 1} {optimizer} steps:\n" + loss_table({k: v for k, v in final.items() if k != "total"}, weights))
    out = img.detach()
    return StyleResult(out, km.deprocess(out)[0], losses, weights, snapshots)


def _init_image(km: KitModel, init: str | torch.Tensor, like: torch.Tensor, seed: int | None) -> torch.Tensor:
    """``"content"`` → a copy of ``like``; ``"noise"`` → uniform random pixels; a tensor → itself."""
    if isinstance(init, torch.Tensor):
        if init.shape != like.shape:
            raise ValueError(f"init has shape {tuple(init.shape)}, expected {tuple(like.shape)}")
        return init.to(like.device, like.dtype)
    if init == "content":
        return like.clone()
    if init == "noise":
        noise = torch.rand(like.shape, generator=seeded_generator(seed)).to(like.device, like.dtype)
        lo, hi = pixel_range(km.mean, km.std, like)
        return lo + noise * (hi - lo)
    raise ValueError(f"init must be 'content', 'noise' or a tensor, got {init!r}")


def _style_objective(
    km: KitModel,
    style_layers: list[str],
    targets: list[torch.Tensor],
    style_weights: Sequence[float],
    normalize: Normalization,
    tv_weight: float,
    content: tuple[str, torch.Tensor, float] | None = None,
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """The Gatys objective as named terms: content (optional), one style term per layer, TV (optional)."""
    layers = ([content[0]] if content else []) + style_layers

    def objective(x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = layer_features(km, x, layers)
        terms: dict[str, torch.Tensor] = {}
        if content:
            terms["content"] = content_loss(feats[0], content[1], content[2])
        style_feats = feats[1:] if content else feats
        for name, term in zip(style_layers, _style_terms(style_feats, targets, style_weights, normalize)):
            terms[f"style {name}"] = term
        if tv_weight:
            terms["tv"] = tv_weight * tv_loss(x)
        return terms

    return objective


def texture_synthesis(
    model: ModelLike,
    texture: ImageLike,
    layers: Sequence[Layer] | None = None,
    weights: Sequence[float] | None = None,
    *,
    size: int | None = None,
    texture_size: int | None = None,
    tv_weight: float = 0.0,
    optimizer: Literal["adam", "lbfgs"] = "lbfgs",
    normalize: Normalization = True,
    schedule: Schedule | None = None,
    snapshot_every: int = 0,
    verbose: bool = False,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    **options: Any,
) -> StyleResult:
    r"""Synthesize a new texture by matching Gram matrices, starting from noise (Gatys et al. 2015).

    Minimises :math:`\sum_\ell w_\ell \lVert G^\ell(x) - G^\ell(\text{texture})\rVert_F^2` over the
    pixels of a noise image :math:`x`. Shallow layers alone reproduce colours and fine grain; adding
    deeper layers brings larger structures (compare ``layers=km.spec.layers[:1]``, ``[:2]`` …).

    Args:
        model: a :class:`KitModel` (ShapesNet offline) or a plain ``nn.Module`` (then pass ``layers``;
            ImageNet normalisation and 224 px unless ``mean``, ``std``, ``size`` are given).
        texture: the example texture (anything :func:`load_image` reads, e.g. ``"gravel"``).
        layers: layers whose Gram matrices are matched (default: the first four of ``km.spec.layers``).
        weights: one per layer; default: each layer weighted by 1 / its loss at the noise start, so
            every layer starts at 1 (the raw magnitudes differ by orders of magnitude).
        size: side of the square output (default ``km.input_size``).
        texture_size: shorter side the texture is resized to (default ``size``); a smaller value
            shrinks its elements (fewer pixels per stone or brick), and they stay that small in the result.
        tv_weight: optional total-variation weight (:func:`~cnnviz_helpers.core.regularizers.tv_loss`).
        optimizer: ``"lbfgs"`` (Gatys; fewer, costlier steps) or ``"adam"`` (CS231n schedule).
        normalize: Gram normalisation (:func:`gram_matrix`).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule`; its fields may also be given as
            keywords: ``steps`` (100), ``lr`` (default 1.0 for L-BFGS, 3.0 for Adam), ``seed`` (of
            the noise image), ``callback`` (``callback(step, image) -> stop?`` every
            ``callback_every`` steps, ``image`` the normalised current image; ``True`` stops early),
            ``progress``.
        snapshot_every: keep the picture every this many steps in ``result.snapshots`` (0: none).
        verbose: print the loss table before and after.
        mean, std: the input normalisation (default: the KitModel's, else ImageNet's).

    Returns:
        A :class:`StyleResult`.

    Example:
        >>> out = texture_synthesis(km, "gravel", steps=50)
        >>> show_images([load_image("gravel", 128), out.picture])
    """
    km = as_kit_model(model, mean, std)
    schedule = (schedule or Schedule()).updated(**options)
    if layers is None and not km.spec.layers:
        raise ValueError(f"{km.name} is a plain nn.Module: pass layers=[...] (the layers whose Gram matrices are matched)")
    names = [_layer_name(km.model, layer) for layer in (km.spec.layers[:4] if layers is None else layers)]
    size = size or km.input_size
    target_img = _load_sized(km, texture, texture_size or size)
    targets = style_targets(km, target_img, names, normalize=normalize)
    x0 = _init_image(km, "noise", torch.empty(1, 3, size, size, device=model_device(km)), schedule.seed)
    if weights is None:
        with torch.no_grad():
            start = _style_objective(km, names, targets, [1.0] * len(names), normalize, 0.0)(x0)
        weights = [1.0 / max(float(v), 1e-30) for v in start.values()]
    objective = _style_objective(km, names, targets, weights, normalize, tv_weight)
    term_weights = {f"style {n}": float(w) for n, w in zip(names, weights)} | ({"tv": tv_weight} if tv_weight else {})
    return _optimize(km, x0, objective, term_weights, optimizer, schedule, None, 0.1, snapshot_every, verbose)


@dataclass(frozen=True)
class StyleSettings(OptionGroup):
    """What a :class:`StylePreset` sets, to override one by one (``None``: the preset's value).

    Attributes:
        content_layer, style_layers: layer names or ``features`` indices.
        content_weight, style_weights, tv_weight: :math:`w_c`, :math:`w_\\ell`, :math:`w_{tv}`.
        image_size: shorter side of the content image (and of the result).
        style_size: shorter side the style images are resized to — the *scale* of the style.
    """

    content_layer: Layer | None = None
    style_layers: Sequence[Layer] | None = None
    content_weight: float | None = None
    style_weights: Sequence[float] | None = None
    tv_weight: float | None = None
    image_size: int | None = None
    style_size: int | None = None


def style_transfer(
    model: ModelLike,
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike] | None = None,
    *,
    preset: str | StylePreset = "starry_night",
    blend: Sequence[float] | None = None,
    settings: StyleSettings | None = None,
    init: Literal["content", "noise"] | torch.Tensor = "content",
    optimizer: Literal["adam", "lbfgs"] = "adam",
    decay_lr_at: int | None = None,
    decayed_lr: float = 0.1,
    normalize: Normalization = True,
    schedule: Schedule | None = None,
    snapshot_every: int = 0,
    verbose: bool = True,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    **options: Any,
) -> StyleResult:
    r"""Gatys et al. (2016) neural style transfer: optimise an image's pixels for content + style + smoothness.

    .. math::
        \mathcal L(x) = w_c \lVert F^{c}(x) - F^{c}(p)\rVert^2
        + \sum_{\ell} w_\ell \lVert G^\ell(x) - A^\ell\rVert_F^2 + w_{tv}\,\mathrm{TV}(x)

    with :math:`F^c` the features at the content layer, :math:`G^\ell` Gram matrices
    (:func:`gram_matrix`, divided by C·H·W) and :math:`A^\ell` the style targets — blended over
    several style images with ``blend`` (:func:`style_targets`). The model runs only up to the
    deepest layer used (:func:`layer_features`) and the targets are computed once.

    Every setting not given comes from ``preset`` (:data:`PRESETS`: CS231n's three weight sets,
    mapped onto ``km``'s layers by :func:`preset_layers`). The per-layer loss table printed at the
    start (``verbose``) shows why the style weights span 1 to 300000.

    Args:
        model: a :class:`KitModel` (SqueezeNet in CS231n, VGG16/19 in the paper; ShapesNet offline —
            weaker styles) or a plain ``nn.Module`` (then pass ``content_layer`` and ``style_layers``).
        content: the content photo (anything :func:`load_image` reads).
        styles: one style image or several (default: the preset's painting if downloaded, else
            its shipped stand-in texture, with a warning).
        preset: a name from :data:`PRESETS` or a :class:`StylePreset`.
        blend: weights of the style images (normalised to sum 1; ``(1, 0)`` = the first alone).
        settings: :class:`StyleSettings` overriding the preset; its fields may also be given as
            keywords: ``content_layer``, ``style_layers``, ``content_weight``, ``style_weights``,
            ``tv_weight``, ``image_size``, ``style_size``.
        init: start from the content image, from uniform noise, or from a given tensor.
        optimizer: ``"adam"`` (CS231n: lr 3.0, then ``decayed_lr`` 0.1 from ``decay_lr_at``, 180 of
            200 by default) or ``"lbfgs"`` (Gatys et al.).
        normalize: Gram normalisation (:func:`gram_matrix`).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule`; its fields may also be given as
            keywords: ``steps`` (200), ``lr`` (default 3.0 for Adam, 1.0 for L-BFGS), ``seed`` (of
            the noise start), ``callback`` (``callback(step, image) -> stop?`` every
            ``callback_every`` steps; ``True`` stops early), ``progress``.
        snapshot_every: keep the picture every this many steps in ``result.snapshots`` (0: none).
        verbose: print the loss table before and after.
        mean, std: the input normalisation (default: the KitModel's, else ImageNet's).

    Returns:
        A :class:`StyleResult`; the model is left exactly as it was.

    Example:
        >>> out = style_transfer(km, "chelsea", ["gravel", "brick"], blend=[0.7, 0.3], preset="scream")
        >>> show_images([out.picture])
    """
    km = as_kit_model(model, mean, std)
    setting_kw, schedule_kw = split_options(options, StyleSettings, Schedule)
    given = (settings or StyleSettings()).updated(**setting_kw)
    schedule = (schedule or Schedule(steps=200)).updated(**schedule_kw)
    p = _preset(preset)
    net = km.model
    if (given.content_layer is None or given.style_layers is None) and not km.spec.layers:
        raise ValueError(f"{km.name} is a plain nn.Module: pass content_layer= and style_layers= (layer names)")
    default_content, default_styles = preset_layers(km, p) if km.spec.layers else ("", [])
    c_layer = _layer_name(net, default_content if given.content_layer is None else given.content_layer)
    s_layers = [_layer_name(net, layer) for layer in (default_styles if given.style_layers is None else given.style_layers)]
    s_weights = list(p.style_weights if given.style_weights is None else given.style_weights)
    if len(s_weights) != len(s_layers):
        raise ValueError(f"{len(s_layers)} style layers need {len(s_layers)} style weights, got {len(s_weights)}")
    if styles is None:
        path = asset_path(p.painting)
        styles = path if path is not None else p.stand_in
        if path is None:
            warnings.warn(
                f"{p.painting} is not downloaded (python -m cnnviz_helpers.training.download): "
                f"using the shipped {p.stand_in!r} as style",
                stacklevel=2,
            )
    style_list: list[ImageLike] = list(styles) if isinstance(styles, (list, tuple)) else [cast(ImageLike, styles)]
    c_weight = p.content_weight if given.content_weight is None else given.content_weight
    t_weight = p.tv_weight if given.tv_weight is None else given.tv_weight
    content_img = _load_sized(km, content, given.image_size or p.image_size)
    style_imgs = [_load_sized(km, s, given.style_size or p.style_size) for s in style_list]
    targets = style_targets(km, style_imgs, s_layers, blend=blend, normalize=normalize)
    content_target = layer_features(km, content_img, [c_layer], detach=True)[0]
    objective = _style_objective(km, s_layers, targets, s_weights, normalize, t_weight, (c_layer, content_target, c_weight))
    term_weights = {"content": c_weight} | {f"style {n}": float(w) for n, w in zip(s_layers, s_weights)} | {"tv": t_weight}
    x0 = _init_image(km, init, content_img, schedule.seed)
    return _optimize(km, x0, objective, term_weights, optimizer, schedule, decay_lr_at, decayed_lr, snapshot_every, verbose)


# ---------------------------------------------------------------------------------------------
# Non-parametric synthesis (before CNNs)
# ---------------------------------------------------------------------------------------------


def neighbour_synthesis(
    texture: ImageLike,
    size: int | tuple[int, int] = 64,
    *,
    window: int = 9,
    texture_size: int | None = None,
    tolerance: float = 0.1,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    r"""Grow a texture pixel by pixel from the nearest neighbourhoods of the sample (Efros & Leung 1999).

    A 3×3 patch of the sample is copied to the centre of the output, which then grows outwards ring
    by ring (pixels with the most known neighbours first). For the next pixel :math:`p`, with
    :math:`M` the already-known pixels of its ``window``×``window`` neighbourhood, every sample
    position :math:`q` is scored by the Gaussian-weighted distance

    .. math::  d(p, q) = \sum_{o \in M} g_o \,\lVert I_{out}(p + o) - I_{sample}(q + o)\rVert^2 ,
       \qquad g_o \propto e^{-\lVert o\rVert^2 / 2\sigma^2},\ \sigma = \text{window} / 6.4,

    and :math:`p` copies the centre colour of a sample position chosen at random among those with
    :math:`d \le (1 + \text{tolerance})\,\min_q d` (Efros & Leung's randomised choice). No network,
    no gradients: each pixel costs two matrix–vector products against all sample neighbourhoods.
    (Wei & Levoy 2000 make it much faster with a fixed raster order, an L-shaped neighbourhood,
    a multi-resolution pyramid and tree-structured vector quantisation.)

    Args:
        texture: the example texture (anything :func:`load_image` reads, e.g. ``"gravel"``).
        size: side of the square output, or ``(height, width)``.
        window: odd side of the neighbourhood square; it must span the texture's largest regular
            structure (a period of stripes, a brick), else the result loses it.
        texture_size: shorter side the sample is resized to (default: as loaded, at most 64 px —
            the cost grows with the number of sample pixels).
        tolerance: relative slack of the random choice among the best matches (0: always the best).
        seed: of the seed patch and of the random choices.
        progress: show a progress bar over the pixels.

    Returns:
        The synthesized texture, ``[height, width, 3]`` floats in [0, 1] (for ``plt.imshow``).

    Raises:
        ValueError: ``window`` even or < 3, or larger than the sample.

    Example:
        >>> out = neighbour_synthesis("gravel", 48, window=9, texture_size=48)
        >>> show_images([load_image("gravel", 48), out])
    """
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd number ≥ 3, got {window}")
    img = load_image(texture)
    if texture_size is not None or min(img.size) > 64:
        img = load_image(img, texture_size or 64)
    sample = np.asarray(img, dtype=np.float32) / 255.0
    sh, sw = sample.shape[:2]
    r = window // 2
    if sh <= 2 * r or sw <= 2 * r:
        raise ValueError(f"window {window} does not fit the {sh}×{sw} sample; use a smaller window or a larger texture_size")
    h, w = (size, size) if isinstance(size, int) else size
    oy, ox = (a.ravel() for a in np.mgrid[-r : r + 1, -r : r + 1])
    gauss = np.exp(-(oy**2 + ox**2) / (2 * (window / 6.4) ** 2)).astype(np.float32)
    # every sample position whose whole window lies inside the sample: [P, window², 3]
    qy, qx = (a.ravel() for a in np.mgrid[r : sh - r, r : sw - r])
    bank = sample[qy[:, None] + oy, qx[:, None] + ox]
    bank_sq = (bank**2).sum(2)  # [P, window²]
    bank = bank.reshape(len(qy), -1)
    rng = np.random.default_rng(seed)
    out = np.zeros((h + 2 * r, w + 2 * r, 3), np.float32)  # padded by r: the border is never known
    known = np.zeros(out.shape[:2], bool)
    k = int(rng.integers(len(qy)))
    cy, cx = r + h // 2, r + w // 2
    out[cy - 1 : cy + 2, cx - 1 : cx + 2] = sample[qy[k] - 1 : qy[k] + 2, qx[k] - 1 : qx[k] + 2]
    known[cy - 1 : cy + 2, cx - 1 : cx + 2] = True
    inside = np.zeros_like(known)
    inside[r : r + h, r : r + w] = True
    bar = tqdm(total=h * w, initial=int(known.sum()), desc="pixels", disable=not progress, leave=False)
    while not known[inside].all():
        # the next ring: unknown pixels next to known ones, those with most known neighbours first
        count = np.sum([np.roll(known, (dy, dx), (0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        ring = np.flatnonzero((inside & ~known & (count > 0)).ravel())
        for i in ring[np.argsort(-count.ravel()[ring], kind="stable")]:
            y, x = divmod(int(i), out.shape[1])
            g = gauss * known[y + oy, x + ox]
            g /= g.sum()
            n = out[y + oy, x + ox]  # [window², 3]
            dist = bank_sq @ g - 2 * bank @ (g[:, None] * n).ravel()  # + Σ g|n|², the same for every q
            d_min = dist.min() + float(g @ (n**2).sum(1))
            good = np.flatnonzero(dist <= dist.min() + tolerance * d_min + 1e-6)
            k = good[rng.integers(len(good))]
            out[y, x], known[y, x] = sample[qy[k], qx[k]], True
        bar.update(len(ring))
    bar.close()
    return out[r : r + h, r : r + w]
