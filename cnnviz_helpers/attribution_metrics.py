r"""Attribution maps scored: against the object mask, and by what the model does when pixels go.

A saliency picture *looks* right or wrong; these numbers say how right, per image, so methods can
be compared over hundreds of images with confidence intervals. Every ShapesNet image comes with
its exact object mask, so two ground-truth scores are available:

- :func:`mass_inside` — the share of the attribution mass that falls on the object;
- :func:`pointing_game` — whether the map's maximum is on the object (Zhang et al. 2016, "Top-down
  neural attention by excitation backprop"; here without their 15-pixel tolerance).

Two scores need no mask, only the model (so they work on ImageNet photos too), and measure
*faithfulness* — whether the pixels the map calls important are the ones the model uses:

- :func:`deletion_curve` — remove the pixels in the map's order, most important first: a
  faithful map makes the class probability fall fast (low area under the curve);
- :func:`insertion_curve` — reveal them in that order on a blurred image: a faithful map makes the
  probability rise fast (high area). Both are from Petsiuk et al. 2018, "RISE".

Deleted pixels make images the model never saw in training, so a drop may come from the strange
input rather than from lost evidence; Hooker et al. 2019 ("A benchmark for interpretability
methods in deep neural networks", ROAR) retrain the model on the degraded images to separate the
two. The kit does not retrain (it takes hours); compare against :func:`random_map`, which suffers the
same distribution shift, and read the gap.

Every map is first turned into one non-negative importance per pixel by :func:`importance`
(absolute values summed over channels, upsampled to the image size), so signed maps (Integrated
Gradients, guided Grad-CAM) and low-resolution maps (Grad-CAM) are scored on the same footing.
:func:`confidence_interval` turns the per-image scores into a mean with an interval, and
:func:`score_methods` computes every score of several methods on the same images (a :class:`Scores`
table; the registry's :func:`~cnnviz_helpers.methods.scoring_methods` gives every attribution method of
the kit plus the random baseline).

Example:
    >>> images, labels, masks = make_shapes(500, seed=3)
    >>> x = to_tensor(images)
    >>> maps = saliency_map(km, x, labels)
    >>> print(confidence_interval(mass_inside(maps, masks)))   # mean [low, high] over the 500 images
    >>> deletion_curve(km, x, maps, labels).auc.mean()         # lower is more faithful
    >>> print(score_methods(km, x, masks, methods=scoring_methods(), target=labels).table())
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .core.config import seeded_generator
from .core.images import gaussian_blur
from .core.layers import Hooks
from .engines.folded_bn import fold_batch_norm
from .models.targets import ModelLike, Target, class_targets, model_input, resolve_target, unwrap


def importance(maps: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """One non-negative importance per pixel: ``|maps|`` summed over channels, bilinearly resized to ``size``.

    Args:
        maps: ``[N, H, W]`` maps or ``[N, C, H, W]`` per-channel maps (guided backprop); any
            resolution (a Grad-CAM map of the last conv layer is upsampled as Grad-CAM does).
        size: the image size ``(H, W)``.

    Returns:
        ``[N, H, W]`` float tensor, on the maps' device.
    """
    if maps.ndim not in (3, 4):
        raise ValueError(f"attribution maps must be [N, H, W] or [N, C, H, W], got shape {tuple(maps.shape)}")
    imp = maps.detach().float().abs()
    if imp.ndim == 4:
        imp = imp.sum(1)
    if tuple(imp.shape[-2:]) != tuple(size):
        imp = F.interpolate(imp[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    return imp


def _mask_tensor(masks: torch.Tensor | np.ndarray, imp: torch.Tensor) -> torch.Tensor:
    m = torch.as_tensor(masks).to(imp.device)
    if m.shape != imp.shape:
        raise ValueError(f"object masks {tuple(m.shape)} must be one [H, W] mask per map, {tuple(imp.shape)} (the images' size)")
    return m.bool()


def mass_inside(maps: torch.Tensor, masks: torch.Tensor | np.ndarray) -> torch.Tensor:
    r"""Share of each map's attribution mass that lies on the object: :math:`\sum_{p \in M} a_p / \sum_p a_p`.

    :math:`a` is the map's :func:`importance`. 1 when all attribution is on the object; a map that
    ignores the object scores about the object's area fraction. A map that is zero everywhere says
    nothing and counts as uniform (it scores the area fraction).

    Args:
        maps: ``[N, H, W]`` or ``[N, C, H, W]`` attribution maps (any resolution, see :func:`importance`).
        masks: ``bool [N, H, W]`` object masks at the images' size (tensor or NumPy).

    Returns:
        ``[N]`` shares in [0, 1] (CPU float tensor).
    """
    imp = importance(maps, torch.as_tensor(masks).shape[-2:])
    m = _mask_tensor(masks, imp)
    total = imp.sum((1, 2))
    inside = (imp * m).sum((1, 2))
    area = m.float().mean((1, 2))
    return torch.where(total > 0, inside / total.clamp_min(1e-30), area).cpu()


def pointing_game(maps: torch.Tensor, masks: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Whether each map's maximum lies on the object (the pointing game, Zhang et al. 2016).

    1 for a hit, 0 for a miss. When several pixels share the maximum, the score is the share of
    them on the object (so a constant map scores the object's area fraction, not a free hit).

    Args:
        maps: ``[N, H, W]`` or ``[N, C, H, W]`` attribution maps (any resolution, see :func:`importance`).
        masks: ``bool [N, H, W]`` object masks at the images' size.

    Returns:
        ``[N]`` scores in [0, 1] (CPU float tensor).
    """
    imp = importance(maps, torch.as_tensor(masks).shape[-2:])
    m = _mask_tensor(masks, imp)
    top = imp == imp.amax((1, 2), keepdim=True)
    return ((top & m).sum((1, 2)) / top.sum((1, 2))).float().cpu()


@dataclass
class PixelCurve:
    """A deletion or insertion curve per image: the target probability as pixels go (or come).

    Attributes:
        kind: ``"deletion"`` or ``"insertion"``.
        fractions: ``[S + 1]`` share of the pixels removed (deletion) or revealed (insertion) at each step.
        scores: ``[N, S + 1]`` softmax probability of each image's target class at each step.
        targets: ``[N]`` the class tracked per image.
    """

    kind: str
    fractions: torch.Tensor
    scores: torch.Tensor
    targets: torch.Tensor

    @property
    def auc(self) -> torch.Tensor:
        r"""``[N]`` area under each curve, :math:`\int_0^1 p(f)\,df` by the trapezoid rule (deletion: lower is better)."""
        return torch.trapezoid(self.scores, self.fractions, dim=1)


def _pixel_ranks(imp: torch.Tensor, seed: int) -> torch.Tensor:
    """``[N, P]`` rank of every pixel in the order of decreasing importance (0 = most important).

    Ties (flat regions, e.g. of an upsampled Grad-CAM map) are broken in a random order drawn
    from ``seed``, the same for every image, not in reading order (which would favour the top rows).
    """
    n, p = imp.shape[0], imp[0].numel()
    perm = torch.randperm(p, generator=seeded_generator(seed)).to(imp.device)
    order = perm[torch.argsort(imp.reshape(n, p)[:, perm], dim=1, descending=True, stable=True)]
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(p, device=imp.device).expand(n, p))
    return ranks


def _curve(
    kind: Literal["deletion", "insertion"],
    model: ModelLike,
    x: torch.Tensor,
    maps: torch.Tensor,
    target: Target,
    steps: int,
    baseline: torch.Tensor | str,
    batch_size: int,
    seed: int,
) -> PixelCurve:
    if x.ndim != 4:
        raise ValueError(f"x must be a preprocessed batch [N, 3, H, W], got shape {tuple(x.shape)}")
    if len(maps) != len(x):
        raise ValueError(f"one map per image: {len(maps)} maps for {len(x)} images")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got steps={steps}, batch_size={batch_size}")
    target = resolve_target(model, target)
    net, _, _ = unwrap(model)
    x = model_input(model, x)
    n, (h, w) = len(x), x.shape[-2:]
    if isinstance(baseline, str):
        if baseline not in ("mean", "blur"):
            raise ValueError(f"baseline must be 'mean', 'blur' or a tensor like x, got {baseline!r}")
        fill = torch.zeros_like(x) if baseline == "mean" else gaussian_blur(x, max(h, w) / 20)
    else:
        fill = model_input(model, baseline).expand_as(x)
    ranks = _pixel_ranks(importance(maps.to(x.device), (h, w)), seed).view(n, 1, h, w)
    counts = torch.tensor([round(j * h * w / steps) for j in range(steps + 1)], device=x.device)
    # deletion goes from x to the fill, insertion from the fill to x: pixel p shows `late` once rank < count
    early, late = (x, fill) if kind == "deletion" else (fill, x)
    # the unmodified image is deletion's first step and insertion's last: computed once, with the targets
    intact = 0 if kind == "deletion" else steps
    with Hooks(net), torch.inference_mode():
        run = fold_batch_norm(net)  # a faster copy for the many forward passes (the same outputs)
        logits = torch.cat([run(x[i : i + batch_size]) for i in range(0, n, batch_size)])
        targets = class_targets(logits, target)
        scores = torch.empty(n, steps + 1, device=x.device)
        scores[:, intact] = logits.softmax(1).gather(1, targets[:, None])[:, 0]
        others = torch.tensor([j for j in range(steps + 1) if j != intact])
        pairs = torch.cartesian_prod(torch.arange(n), others).to(x.device)  # (image, step) for every modified image
        for start in range(0, len(pairs), batch_size):
            i, j = pairs[start : start + batch_size].unbind(1)
            shown = ranks[i] < counts[j].view(-1, 1, 1, 1)
            probs = run(torch.where(shown, late[i], early[i])).softmax(1)
            scores[i, j] = probs.gather(1, targets[i, None])[:, 0]
    return PixelCurve(kind, counts.cpu() / (h * w), scores.cpu(), targets.cpu())


def deletion_curve(
    model: ModelLike,
    x: torch.Tensor,
    maps: torch.Tensor,
    target: Target = None,
    *,
    steps: int = 10,
    baseline: torch.Tensor | Literal["mean", "blur"] = "mean",
    batch_size: int = 256,
    seed: int = 0,
) -> PixelCurve:
    r"""Deletion curve (Petsiuk et al. 2018): the target probability as the most important pixels are removed.

    At step :math:`j = 0 \dots S` the :math:`\mathrm{round}(jP/S)` pixels of highest
    :func:`importance` (all channels of a pixel together) are replaced by ``baseline``, and the
    softmax probability of the target class is recorded; :attr:`PixelCurve.auc` is the area under
    it. A map that finds the evidence the model uses makes the probability fall at once: **lower
    is better**. All images and steps are batched (``batch_size`` modified images per forward).

    Args:
        model: a :class:`~cnnviz_helpers.models.loading.KitModel` or a classifier ``nn.Module`` (left unchanged).
        x: preprocessed images ``[N, 3, H, W]``.
        maps: one attribution map per image (``[N, H, W]`` or ``[N, C, H, W]``, any resolution).
        target: the class to track (index, name, one per image), or ``None`` for each image's
            predicted class on the unmodified image.
        steps: number of deletion steps :math:`S` (the curve has :math:`S + 1` points).
        baseline: what a removed pixel becomes: ``"mean"`` — zero in the normalised input, i.e. the
            dataset's mean colour (grey); ``"blur"`` — the image blurred with a Gaussian of
            :math:`\sigma = \max(H, W)/20`; or a tensor broadcastable to ``x`` (normalised like it).
        batch_size: modified images per forward pass.
        seed: the random order among pixels of equal importance.

    Returns:
        :class:`PixelCurve` (``kind="deletion"``).
    """
    return _curve("deletion", model, x, maps, target, steps, baseline, batch_size, seed)


def insertion_curve(
    model: ModelLike,
    x: torch.Tensor,
    maps: torch.Tensor,
    target: Target = None,
    *,
    steps: int = 10,
    baseline: torch.Tensor | Literal["mean", "blur"] = "blur",
    batch_size: int = 256,
    seed: int = 0,
) -> PixelCurve:
    r"""Insertion curve (Petsiuk et al. 2018): the target probability as the most important pixels are revealed.

    Starts from ``baseline`` (by default the image blurred with :math:`\sigma = \max(H, W)/20`, as
    RISE does: a blurred image keeps the colours but loses the shapes) and at step :math:`j`
    shows the :math:`\mathrm{round}(jP/S)` pixels of highest :func:`importance` of the real image.
    A faithful map makes the probability rise at once: **higher is better**. Arguments as
    :func:`deletion_curve`.

    Returns:
        :class:`PixelCurve` (``kind="insertion"``).
    """
    return _curve("insertion", model, x, maps, target, steps, baseline, batch_size, seed)


def random_map(model: ModelLike, x: torch.Tensor, target: Target = None, *, seed: int = 0) -> torch.Tensor:
    """A map of uniform random noise per image: the baseline every attribution method must beat.

    It scores the object's area fraction on :func:`mass_inside` and :func:`pointing_game` on
    average, and deletes / inserts pixels in random order. Takes the arguments of an attribution
    method (``model`` and ``target`` are ignored) so it runs in the same loop as the real ones.

    Returns:
        ``[N, H, W]`` values in [0, 1), on ``x``'s device (the same for the same ``seed``).
    """
    n, _, h, w = x.shape
    return torch.rand(n, h, w, generator=seeded_generator(seed)).to(x.device)


@dataclass(frozen=True)
class Estimate:
    """A mean over images with its confidence interval ``[low, high]`` at ``level``."""

    mean: float
    low: float
    high: float
    level: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def confidence_interval(
    values: torch.Tensor | np.ndarray,
    *,
    level: float = 0.95,
    method: Literal["bootstrap", "normal"] = "bootstrap",
    resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    r"""The mean of per-image scores with a confidence interval over images.

    ``"bootstrap"`` (percentile bootstrap, Efron 1979): resample the :math:`n` images with
    replacement ``resamples`` times and take the :math:`(1 \pm \text{level})/2` quantiles of the
    resampled means — no assumption about the scores' distribution (pointing-game hits are 0/1).
    ``"normal"``: :math:`\bar v \pm z_{(1+\text{level})/2}\, s/\sqrt{n}` with the sample standard
    deviation :math:`s` (the central limit theorem; fine for a few hundred images).

    Args:
        values: ``[n]`` per-image scores (finite).
        level: coverage of the interval, in (0, 1).
        method: ``"bootstrap"`` or ``"normal"``.
        resamples: bootstrap resamples.
        seed: the bootstrap's random draws.
    """
    v = torch.as_tensor(values, dtype=torch.float64).reshape(-1).cpu()
    if len(v) < 2 or not torch.isfinite(v).all():
        raise ValueError(
            f"need at least 2 finite values for an interval, got {len(v)} values (NaN/inf: {not torch.isfinite(v).all()})"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    mean = v.mean().item()
    if method == "normal":
        half = (
            torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor((1 + level) / 2)).item() * v.std().item() / math.sqrt(len(v))
        )
        return Estimate(mean, mean - half, mean + half, level)
    if method != "bootstrap":
        raise ValueError(f"method must be 'bootstrap' or 'normal', got {method!r}")
    idx = torch.randint(len(v), (resamples, len(v)), generator=seeded_generator(seed))
    low, high = torch.quantile(v[idx].mean(1), torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return Estimate(mean, low.item(), high.item(), level)


#: The scores :func:`score_methods` computes, each with whether higher is better.
METRICS: dict[str, bool] = {"mass inside": True, "pointing game": True, "deletion AUC": False, "insertion AUC": True}
#: The scores that need an object mask (ShapesNet); the others need only the model.
MASK_METRICS = ("mass inside", "pointing game")

#: A method as :func:`score_methods` calls it: ``fn(model, x, targets) -> one map per image``.
MapMethod = Callable[[ModelLike, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Scores:
    """Every score of several attribution methods on the same images: what :func:`score_methods` returns.

    Attributes:
        values: metric (a key of :data:`METRICS`) → method → ``[N]`` per-image scores. The mask
            metrics are present only when masks were given.
        curves: ``"deletion"`` / ``"insertion"`` → method → :class:`PixelCurve`.
        targets: ``[N]`` the class explained and tracked in each image.
    """

    values: dict[str, dict[str, torch.Tensor]]
    curves: dict[str, dict[str, PixelCurve]]
    targets: torch.Tensor

    @property
    def methods(self) -> list[str]:
        """The methods, in the order they were given."""
        return list(next(iter(self.values.values())))

    @property
    def metrics(self) -> list[str]:
        """The metrics computed, in the order of :data:`METRICS`."""
        return list(self.values)

    def estimate(self, metric: str, method: str, *, level: float = 0.95) -> Estimate:
        """Mean of ``method``'s per-image ``metric`` with its bootstrap interval (:func:`confidence_interval`)."""
        return confidence_interval(self.values[metric][method], level=level)

    def difference(self, metric: str, method: str, baseline: str, *, level: float = 0.95) -> Estimate:
        """Paired comparison: mean over images of ``method``'s score minus ``baseline``'s on the same image.

        An interval that excludes 0 says the two differ on these images; pairing removes the
        variation between images (an easy image is easy for both), so it is narrower than the gap
        between two separate intervals suggests.
        """
        return confidence_interval(self.values[metric][method] - self.values[metric][baseline], level=level)

    def beats(self, metric: str, method: str, baseline: str = "random", *, level: float = 0.95) -> bool:
        """Whether ``method`` is better than ``baseline`` on ``metric`` on these images: the paired
        interval of :meth:`difference` lies wholly on the better side of 0."""
        d = self.difference(metric, method, baseline, level=level)
        return d.low > 0 if METRICS[metric] else d.high < 0

    def ranking(self, metric: str) -> list[str]:
        """The methods from best to worst on ``metric`` (by mean; lower first for deletion AUC)."""
        means = {m: v.mean().item() for m, v in self.values[metric].items()}
        return sorted(means, key=lambda m: -means[m] if METRICS[metric] else means[m])

    def agreement(self, a: str, b: str) -> float:
        """Spearman's rank correlation between the orderings of the methods by metrics ``a`` and ``b``.

        Each metric orders the methods by mean, best first (:meth:`ranking`); 1: the same order, 0:
        unrelated, -1: reversed. Tied means share their average rank.
        """
        ra, rb = (
            _average_ranks(torch.tensor([self.values[k][m].mean().item() for m in self.methods]), METRICS[k]) for k in (a, b)
        )
        ra, rb = ra - ra.mean(), rb - rb.mean()
        denom = (ra.norm() * rb.norm()).item()
        return (ra @ rb).item() / denom if denom > 0 else 0.0

    def rows(self, *, level: float = 0.95) -> list[tuple[str, str, Estimate]]:
        """The table in long ("tidy") form: one ``(method, metric, estimate)`` per cell."""
        return [(m, k, self.estimate(k, m, level=level)) for m in self.methods for k in self.metrics]

    def table(self, *, level: float = 0.95) -> str:
        """The table as text: a row per method, a column per metric (``mean [low, high]``, ↑ / ↓ = better)."""
        heads = [f"{k} {'↑' if METRICS[k] else '↓'}" for k in self.metrics]
        width = max(len(m) for m in self.methods)
        cells = {(m, k): str(e) for m, k, e in self.rows(level=level)}
        col = max(max(len(c) for c in cells.values()), *(len(h) for h in heads))
        lines = [" " * width + "  " + "  ".join(h.rjust(col) for h in heads)]
        lines += [m.ljust(width) + "  " + "  ".join(cells[m, k].rjust(col) for k in self.metrics) for m in self.methods]
        n = len(self.targets)
        return "\n".join(lines) + f"\n(mean over {n} images [{level:.0%} bootstrap interval])"


def _average_ranks(values: torch.Tensor, higher_is_better: bool) -> torch.Tensor:
    """Rank of each value, 0 for the best, ties given their average rank (float64)."""
    v = values.double() if higher_is_better else -values.double()
    better, tied = (v[None, :] > v[:, None]).sum(1), (v[None, :] == v[:, None]).sum(1)
    return better + (tied - 1) / 2


def score_methods(
    model: ModelLike,
    x: torch.Tensor,
    masks: torch.Tensor | np.ndarray | None = None,
    *,
    methods: Mapping[str, MapMethod],
    target: Target = None,
    steps: int = 10,
    map_batch: int = 50,
    batch_size: int = 256,
    seed: int = 0,
    progress: bool = True,
) -> Scores:
    """Score several attribution methods on the same images: every metric of :data:`METRICS`.

    The classes are fixed once (``target``, or each image's predicted class), every method explains
    them, and the deletion and insertion curves track them. Without ``masks`` (ImageNet photos) only
    the model-based scores are computed (deletion and insertion AUC).

    Args:
        model: a :class:`~cnnviz_helpers.models.loading.KitModel` or a classifier ``nn.Module`` (left unchanged).
        x: preprocessed images ``[N, 3, H, W]``.
        masks: ``bool [N, H, W]`` object masks, or ``None`` when there are none.
        methods: name → ``fn(model, x, targets)`` returning one map per image (``[N, H, W]`` or
            ``[N, C, H, W]``, any resolution); e.g. :func:`~cnnviz_helpers.methods.scoring_methods`.
        target: the class per image, one class, or ``None`` for each image's predicted class.
        steps: steps of the deletion and insertion curves.
        map_batch: images per call of a method (bounds the memory of the backward passes).
        batch_size: modified images per forward pass of the curves.
        seed: the order among pixels of equal importance (:func:`deletion_curve`).
        progress: a progress bar over the methods.

    Returns:
        :class:`Scores`.
    """
    if not methods:
        raise ValueError("methods is empty: pass name → fn(model, x, targets), e.g. methods=scoring_methods()")
    if x.ndim != 4:
        raise ValueError(f"x must be a preprocessed batch [N, 3, H, W], got shape {tuple(x.shape)}")
    if masks is not None and len(masks) != len(x):
        raise ValueError(f"one object mask per image: {len(masks)} masks for {len(x)} images")
    if map_batch < 1:
        raise ValueError(f"map_batch must be positive, got {map_batch}")
    net, _, _ = unwrap(model)
    with Hooks(net), torch.inference_mode():
        logits = torch.cat([net(model_input(model, x[i : i + batch_size])) for i in range(0, len(x), batch_size)])
    targets = class_targets(logits, target, model).cpu()
    names = list(METRICS) if masks is not None else [k for k in METRICS if k not in MASK_METRICS]
    values: dict[str, dict[str, torch.Tensor]] = {k: {} for k in names}
    curves: dict[str, dict[str, PixelCurve]] = {"deletion": {}, "insertion": {}}
    for name, fn in tqdm(methods.items(), desc="scoring", disable=not progress, leave=False):
        maps = torch.cat(
            [fn(model, x[i : i + map_batch], targets[i : i + map_batch]).detach().cpu() for i in range(0, len(x), map_batch)]
        )
        if masks is not None:
            values["mass inside"][name] = mass_inside(maps, masks)
            values["pointing game"][name] = pointing_game(maps, masks)
        for kind, curve in (("deletion", deletion_curve), ("insertion", insertion_curve)):
            curves[kind][name] = curve(model, x, maps, targets, steps=steps, batch_size=batch_size, seed=seed)
            values[f"{kind} AUC"][name] = curves[kind][name].auc
    return Scores(values, curves, targets)
