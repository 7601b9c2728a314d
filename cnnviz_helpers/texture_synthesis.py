"""Texture synthesis (lecture section 10): Gram matrices, and textures grown with or without a network.

Before the network: :func:`neighbour_synthesis`, non-parametric texture synthesis by nearest
neighbourhoods (Efros & Leung 1999; Wei & Levoy 2000), the method the lecture shows before Gram matrices.

With the network (Gatys et al. 2015), the building blocks that style transfer
(:mod:`.style_transfer`) and fast style transfer (:mod:`.fast_style`) reuse:

- :func:`gram_matrix`     channel co-occurrence statistics of a feature map, divided by C·H·W;
- :func:`layer_features`  the outputs of a few layers, running the model only up to the deepest one;
- :func:`style_targets`   the (optionally blended) Gram matrices of one or several example images;
- :func:`gram_losses`     one weighted squared Gram difference per layer;
- :func:`optimize_pixels` Gatys' pixel optimisation (Adam with CS231n's schedule, or L-BFGS) on the
  kit's shared synthesis loop (:func:`~cnnviz_helpers.core.synthesis.optimize`), with the loss of
  every term at every step (:class:`StyleResult`).

The method: :func:`texture_synthesis` — match Gram matrices starting from noise.

Example:
    >>> km = load_model()
    >>> out = texture_synthesis(km, "gravel", steps=50)
    >>> show_images([load_image("gravel", 128), out.picture])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .core.config import seeded_generator
from .core.images import ImageLike, load_image
from .core.layers import capture, get_layer
from .core.options import Schedule
from .core.regularizers import pixel_range, tv_loss
from .core.synthesis import Pixels, clamp_prior, optimize, stage_layers
from .models.loading import KitModel
from .models.targets import ModelLike, as_kit_model, model_device, unwrap

Layer = Union[str, int]
Normalization = Union[bool, Literal["chw", "hw", "none"]]


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


def resolve_layer(model: nn.Module, layer: Layer) -> str:
    """``"features.3"`` for ``3`` (CS231n indexes ``model.features``); names are checked (with suggestions)."""
    name = f"features.{layer}" if isinstance(layer, int) else layer
    get_layer(model, name)
    return name


def layer_features(model: ModelLike, x: torch.Tensor, layers: Sequence[Layer], *, detach: bool = False) -> list[torch.Tensor]:
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
    names = [resolve_layer(net, layer) for layer in layers]
    with capture(net, names, stop=True, detach=detach) as acts:
        acts.run(x)
        return [acts[n] for n in names]


def style_targets(
    model: nn.Module | KitModel,
    styles: torch.Tensor | Sequence[torch.Tensor],
    layers: Sequence[Layer],
    *,
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


def gram_losses(
    features: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    weights: Sequence[float] | float,
    normalize: Normalization,
) -> list[torch.Tensor]:
    r"""One weighted squared Gram difference :math:`w_\ell \sum_{c,d} (G^\ell_{cd} - A^\ell_{cd})^2` per layer.

    Args:
        features: the activations at the layers, one ``[N, C, H, W]`` tensor per layer.
        targets: the target Gram matrices, same order (``[C, C]``, ``[1, C, C]`` or ``[N, C, C]``).
        weights: :math:`w_\ell`, one per layer (or one number for all).
        normalize: Gram normalisation, as in :func:`gram_matrix` (must match the targets').
    """
    ws = [float(weights)] * len(features) if isinstance(weights, (int, float)) else [float(w) for w in weights]
    if not len(features) == len(targets) == len(ws):
        raise ValueError(
            f"a Gram loss needs one target and one weight per layer: got {len(features)} feature maps, "
            f"{len(targets)} targets, {len(ws)} weights"
        )
    terms = []
    for f, a, w in zip(features, targets, ws):
        g = gram_matrix(f, normalize)
        if g.shape[-2:] != a.shape[-2:]:
            raise ValueError(f"Gram matrix {tuple(g.shape)} and target {tuple(a.shape)} differ: same layers, same order?")
        terms.append(w * (g - a).pow(2).sum())
    return terms


def _gram_objective(
    km: KitModel, layers: list[str], targets: list[torch.Tensor], weights: Sequence[float], normalize: Normalization,
    tv_weight: float,
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:  # fmt: skip
    """Gatys' texture objective as named terms: one Gram term per layer, TV (optional)."""

    def objective(x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = dict(zip((f"style {n}" for n in layers), gram_losses(layer_features(km, x, layers), targets, weights, normalize)))
        if tv_weight:
            terms["tv"] = tv_weight * tv_loss(x)
        return terms

    return objective


def default_layers(km: KitModel) -> list[str]:
    """The layers a Gram loss uses by default: the first four of ``km.spec.layers``, or for a plain
    ``nn.Module`` the ends of its first four resolution stages (:func:`~cnnviz_helpers.core.synthesis.stage_layers`)."""
    return list(km.spec.layers[:4]) if km.spec.layers else stage_layers(km.model, km.input_size)[:4]


# ---------------------------------------------------------------------------------------------
# Optimisation
# ---------------------------------------------------------------------------------------------


@dataclass
class StyleResult:
    """What :func:`texture_synthesis` and :func:`~cnnviz_helpers.style_transfer.style_transfer` return.

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


def optimize_pixels(
    km: KitModel,
    start: torch.Tensor,
    objective: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    weights: dict[str, float],
    schedule: Schedule,
    *,
    optimizer: Literal["adam", "lbfgs"] = "adam",
    decay_lr_at: int | None = None,
    decayed_lr: float = 0.1,
    snapshot_every: int = 0,
    verbose: bool = False,
) -> StyleResult:
    """Optimise the pixels of ``start`` to minimise the sum of the named terms ``objective(image)`` (Gatys et al.).

    Adam follows CS231n: ``lr`` (default 3.0) until ``decay_lr_at`` (default 90 % of the steps,
    180 of 200), then ``decayed_lr``, with the image clamped to valid pixels until the decay.
    L-BFGS (Gatys et al.) takes one iteration per step, unconstrained (clamping would break its
    curvature estimates; the final picture is clipped to [0, 1]). The loop is the kit's shared
    one (:func:`~cnnviz_helpers.core.synthesis.optimize`): the schedule's callback may stop the run
    early, and the result is then the image so far.

    Args:
        km: the network (its normalisation gives the valid pixel range and the pictures).
        start: the normalised start image ``[1, 3, H, W]``.
        objective: image → ``{term name: weighted loss}``.
        weights: the weight of each term (for the loss table and :attr:`StyleResult.weights`).
        schedule: steps, lr, callback, progress.
        optimizer: ``"adam"`` or ``"lbfgs"``.
        decay_lr_at, decayed_lr: Adam's learning-rate drop (step, new rate).
        snapshot_every: keep the picture every this many steps (0: none).
        verbose: print the loss table at the start and at the end.

    Returns:
        A :class:`StyleResult` with every term's value at every step, plus the final one.
    """
    steps, lr = schedule.steps, schedule.lr
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    decay_at = round(0.9 * steps) if decay_lr_at is None else decay_lr_at
    lo, hi = pixel_range(km.mean, km.std, start)
    if optimizer == "adam" and decay_at > 0:
        start = torch.maximum(torch.minimum(start, hi), lo)  # CS231n clamps before each step until the decay
    param = Pixels(start, channels_last=False)
    opt: torch.optim.Optimizer
    if optimizer == "adam":
        opt = torch.optim.Adam([param.variable], lr=3.0 if lr is None else lr)
        first_lr = opt.param_groups[0]["lr"]
        lr_at: Callable[[int], float] | None = lambda t: first_lr if t < decay_at else decayed_lr  # noqa: E731
        prior = clamp_prior(lo, hi, until=decay_at)
    else:
        # one iteration per step, no tolerances (we choose the number of steps; losses can be tiny) and,
        # as in the neural-style implementations, no line search: in float32 it often fails on these losses
        opt = torch.optim.LBFGS([param.variable], lr=1.0 if lr is None else lr, max_iter=1, history_size=50,
                                tolerance_grad=0.0, tolerance_change=0.0)  # fmt: skip
        lr_at, prior = None, None
    losses: dict[str, list[float]] = {}
    snapshots: list[tuple[int, np.ndarray]] = []

    def snap(t: int) -> None:
        if snapshot_every and (t % snapshot_every == 0 or t == steps - 1):
            snapshots.append((t, km.deprocess(param.variable.detach())[0]))

    optimize(param, objective, opt, schedule, prior=prior, lr_at=lr_at, record=losses, observe=snap,
             desc=f"{optimizer} on pixels")  # fmt: skip
    done = len(losses["total"])
    if verbose:
        print("loss terms at the start:\n" + loss_table({k: v[0] for k, v in losses.items() if k != "total"}, weights))
    with torch.no_grad():
        final = {k: float(v) for k, v in objective(param.variable).items()}
    final["total"] = sum(final.values())
    for k, v in final.items():
        losses[k].append(v)
    if verbose:
        print(f"after {done} {optimizer} steps:\n" + loss_table({k: v for k, v in final.items() if k != "total"}, weights))
    out = param.snapshot()
    return StyleResult(out, km.deprocess(out)[0], losses, weights, snapshots)


def load_sized(km: KitModel, img: ImageLike, size: int) -> torch.Tensor:
    """Preprocess ``img`` with its shorter side resized to ``size`` (aspect ratio kept, no crop)."""
    pil = load_image(img)
    scale = size / min(pil.size)
    return km.preprocess(pil, size=(max(1, round(pil.height * scale)), max(1, round(pil.width * scale))))


def noise_image(km: KitModel, like: torch.Tensor, seed: int | None) -> torch.Tensor:
    """Uniformly random pixels, normalised, with the shape, dtype and device of ``like``."""
    noise = torch.rand(like.shape, generator=seeded_generator(seed)).to(like.device, like.dtype)
    lo, hi = pixel_range(km.mean, km.std, like)
    return lo + noise * (hi - lo)


def texture_synthesis(
    model: ModelLike,
    texture: ImageLike,
    layers: Sequence[Layer] | None = None,
    *,
    weights: Sequence[float] | None = None,
    size: int | None = None,
    texture_size: int | None = None,
    tv_weight: float = 0.0,
    optimizer: Literal["adam", "lbfgs"] = "lbfgs",
    normalize: Normalization = True,
    schedule: Schedule | None = None,
    snapshot_every: int = 0,
    verbose: bool = False,
    **options: Any,
) -> StyleResult:
    r"""Synthesize a new texture by matching Gram matrices, starting from noise (Gatys et al. 2015).

    Minimises :math:`\sum_\ell w_\ell \lVert G^\ell(x) - G^\ell(\text{texture})\rVert_F^2` over the
    pixels of a noise image :math:`x`. Shallow layers alone reproduce colours and fine grain; adding
    deeper layers brings larger structures (compare ``layers=km.spec.layers[:1]``, ``[:2]`` …).

    Args:
        model: a :class:`KitModel` (ShapesNet offline) or a plain ``nn.Module`` (ImageNet
            normalisation, 224 px; :meth:`~cnnviz_helpers.KitModel.wrap` it for another).
        texture: the example texture (anything :func:`load_image` reads, e.g. ``"gravel"``).
        layers: layers whose Gram matrices are matched (default :func:`default_layers`: the first
            four of ``km.spec.layers``; for a plain ``nn.Module`` the last layer of each of its
            first four resolution stages).
        weights: one per layer; default: each layer weighted by 1 / its loss at the noise start, so
            every layer starts at 1 (the raw magnitudes differ by orders of magnitude).
        size: side of the square output (default ``km.input_size``).
        texture_size: shorter side the texture is resized to (default ``size``); a smaller value
            shrinks its elements (fewer pixels per stone or brick), and they stay that small in the result.
        tv_weight: optional total-variation weight (:func:`~cnnviz_helpers.core.regularizers.tv_loss`).
        optimizer: ``"lbfgs"`` (Gatys; fewer, costlier steps) or ``"adam"`` (CS231n schedule).
        normalize: Gram normalisation (:func:`gram_matrix`).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule`, or its fields as keywords:
            ``steps`` (100), ``lr`` (default 1.0 for L-BFGS, 3.0 for Adam), ``seed`` (of the noise
            image), ``callback`` (``callback(step, image) -> stop?`` every ``callback_every`` steps
            and after the last, ``image`` the normalised current image; ``True`` stops early),
            ``callback_every``, ``progress``.
        snapshot_every: keep the picture every this many steps in ``result.snapshots`` (0: none).
        verbose: print the loss table before and after.

    Returns:
        A :class:`StyleResult`.

    Example:
        >>> out = texture_synthesis(km, "gravel", steps=50)
        >>> show_images([load_image("gravel", 128), out.picture])
    """
    km = as_kit_model(model)
    schedule = Schedule.resolve(schedule, options)
    names = [resolve_layer(km.model, layer) for layer in (default_layers(km) if layers is None else layers)]
    size = size or km.input_size
    targets = style_targets(km, load_sized(km, texture, texture_size or size), names, normalize=normalize)
    x0 = noise_image(km, torch.empty(1, 3, size, size, device=model_device(km)), schedule.seed)
    if weights is None:
        with torch.no_grad():
            start = _gram_objective(km, names, targets, [1.0] * len(names), normalize, 0.0)(x0)
        weights = [1.0 / max(float(v), 1e-30) for v in start.values()]
    objective = _gram_objective(km, names, targets, weights, normalize, tv_weight)
    term_weights = {f"style {n}": float(w) for n, w in zip(names, weights)} | ({"tv": tv_weight} if tv_weight else {})
    return optimize_pixels(km, x0, objective, term_weights, schedule, optimizer=optimizer, snapshot_every=snapshot_every,
                           verbose=verbose)  # fmt: skip


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
