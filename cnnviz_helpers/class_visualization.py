r"""Class and unit visualization: synthesize the image a network likes most (lecture section 6).

Simonyan et al. (2014) start from noise and follow the gradient of a class score *with respect to
the image*:

.. math::  I^* = \arg\max_I \; s_y(I) - \lambda \lVert I \rVert_2^2 ,

with CS231n's recipe: normalised-gradient ascent steps, random jitter, clamping to the valid pixel
range after every step and a light Gaussian blur every few steps. Yosinski et al. (2015) add more
image priors (L2 decay, stronger blur, clipping pixels with small norm or small contribution),
each a switch here, and apply the same procedure to any unit of any layer
(``class_visualization(km, Unit(layer, channel))``): low layers give edges and colour blobs, high
layers object parts.
``parameterization="fft"`` optimizes a decorrelated-colour Fourier spectrum instead of pixels
(Olah et al. 2017, Lucid), an "advanced" prior that needs no blur.

One class can be recognised in several guises (a whole object, a close-up, a group …).
:func:`multifaceted_visualization` (Nguyen, Yosinski & Clune 2016) clusters the images that score
highest for the class by their penultimate-layer features (k-means) and starts one ascent from the
mean image of each cluster (:func:`facet_starts`), so each run climbs towards a different facet.

The CS231n hyper-parameters are for 224-px ImageNet models. For a model of another input size
``S`` (e.g. the offline 64-px ShapesNet) the size-dependent ones are scaled when left at ``None``:
jitter ``16·S/224`` pixels and learning rate ``25·S/224`` — with a normalised gradient the step
length is the learning rate, so this keeps the change *per pixel* the same.

Example:
    >>> km = load_model()
    >>> img = class_visualization(km, km.class_names[0], steps=100)   # normalised [1, 3, S, S]
    >>> plt.imshow(km.deprocess(img[0]))
    >>> unit = class_visualization(km, Unit(km.spec.layers[1], 5))     # one unit of a layer
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from .core.config import seeded_generator
from .core.layers import Hooks, capture
from .core.options import ImagePriors, Schedule, split_options
from .core.regularizers import random_jitter
from .core.synthesis import Fourier, NormalizedGradient, Pixels, image_priors, optimize, start_image
from .engines.scores import target_scores
from .models.loading import KitModel
from .models.targets import ModelLike, Target, Unit, class_targets, model_device, single_class, unit_activation, unwrap

CS231N_SIZE = 224  # the input size the CS231n hyper-parameters were chosen for
CS231N_LR, CS231N_JITTER = 25.0, 16
CS231N_L2_REG, UNIT_L2_REG = 1e-3, 1e-4  # unit activations are smaller than class scores (see class_visualization)
FFT_LR = 0.05  # Adam learning rate for the Fourier parameterization (Lucid's default)
Score = Literal["score", "probability", "log_probability"]


def class_visualization(
    model: ModelLike,
    target: Target | Unit,
    *,
    objective: Score = "score",
    parameterization: Literal["pixel", "fft"] = "pixel",
    init: Literal["noise", "zeros"] | torch.Tensor = "noise",
    size: int | None = None,
    priors: ImagePriors | None = None,
    schedule: Schedule | None = None,
    **options: Any,
) -> torch.Tensor:
    r"""Synthesize an image that maximizes one class score or one unit (Simonyan et al. 2014; Yosinski et al. 2015).

    Each step computes :math:`\nabla_I \big(s(\tilde I) - \lambda \lVert I\rVert^2\big)` on a
    randomly rolled copy :math:`\tilde I` of the image, moves the image by ``lr`` along the
    *normalised* gradient, then applies the image priors in this order: L2 decay, clamp to the
    valid pixel range, blur (every ``blur_every`` steps), clip small-norm pixels, clip
    small-contribution pixels (:func:`~cnnviz_helpers.core.synthesis.image_priors`). The defaults
    reproduce CS231n (λ = 1e-3, lr 25, 100 steps, blur every 10 with σ 0.5, jitter 16, clamp) for
    224-px models and scale for other sizes (see the module docstring). Yosinski et al. (2015)
    suggest e.g. ``decay=1e-4, blur_every=4, blur_sigma=1.0, clip_norm=10``.

    With a :class:`~cnnviz_helpers.models.targets.Unit` the score is that unit's activation: the
    channel's spatial mean (``position=None``: the feature anywhere in the image), its centre
    neuron (``"center"``: the feature inside that neuron's receptive field), one ``(row, col)``
    neuron, or the largest value (``"max"``); a fully connected layer's unit is the unit itself
    (leave its position ``None``).
    The forward pass stops at the unit's layer. A unit's activation is much smaller than a class
    score, so its default λ is ten times smaller (1e-4; with 1e-3 the image fades to grey). A unit
    after a ReLU that is off everywhere at the start has zero gradient and stays off — likely for
    a centre neuron: pick a unit that responds to the start image or the layer before the ReLU.
    For a centre neuron with a small receptive field set ``jitter=0``.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` (then normalisation, ``size`` and class names
            come from it) or any classifier ``nn.Module`` (ImageNet normalisation, 224 px; wrap it
            with :meth:`~cnnviz_helpers.KitModel.wrap` for another). Left exactly as it was.
        target: class index, class name (with a KitModel), a one-element list / tensor, or a
            :class:`~cnnviz_helpers.models.targets.Unit` (an unknown layer raises a ``KeyError``
            with close names, a channel out of range an ``IndexError``).
        objective: for a class: ``"score"`` (pre-softmax logit, recommended), ``"probability"``
            (softmax) or ``"log_probability"``. Raising a probability can also be done by
            *lowering the other classes*, and its gradient vanishes once the class wins.
        parameterization: ``"pixel"`` (optimize the pixels) or ``"fft"`` (a Fourier spectrum with
            1/f scaling through Lucid's colour decorrelation and a sigmoid, updated with Adam; the
            pixel-space priors do not apply to it).
        init: ``"noise"`` (standard normal in normalised units, as CS231n), ``"zeros"`` (the mean
            colour) or a normalised ``[1, 3, size, size]`` start image (pixels only).
        size: side of the square image to synthesize.
        priors: :class:`~cnnviz_helpers.core.options.ImagePriors`, or its fields as keywords:
            ``l2_reg`` (λ), ``jitter`` (default ``16·size/224``), ``blur_every`` / ``blur_sigma``
            (every 10 steps, σ 0.5, for pixels; off for ``"fft"``), ``decay``, ``clip_norm``,
            ``clip_contribution`` (percentiles).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule`, or its fields as keywords:
            ``steps`` (100), ``lr`` (L2 length of a step; default ``25·size/224`` for pixels, 0.05
            (Adam) for ``"fft"``), ``seed`` (start noise and jitter), ``callback``
            (``callback(step, image) -> stop?`` every ``callback_every`` steps and after the last;
            ``True`` stops early and keeps the image so far), ``callback_every`` (10), ``progress``.
            Each group comes either as an object or as keywords, not both.

    Returns:
        The synthesized normalised image ``[1, 3, size, size]`` (detached, on the model's device);
        show it with ``km.deprocess(img[0])``.

    Example:
        >>> img = class_visualization(km, "tarantula")      # or km.class_names[0] offline
        >>> km.predict(img)[0][0]                            # the network is convinced
        >>> img = class_visualization(km, 3, decay=1e-4, blur_every=4, blur_sigma=1.0, clip_norm=10)
        >>> edge = class_visualization(km, Unit(km.spec.layers[0], 5))                  # an edge detector
        >>> part = class_visualization(km, Unit(km.spec.layers[-1], 5, "center"), jitter=0)
    """
    prior_kw, schedule_kw = split_options(options, ImagePriors, Schedule)
    is_unit = isinstance(target, Unit)
    priors = ImagePriors.resolve(priors, prior_kw)
    if priors.l2_reg is None:
        priors = priors.updated(l2_reg=UNIT_L2_REG if is_unit else CS231N_L2_REG)
    schedule = Schedule.resolve(schedule, schedule_kw)
    net = unwrap(model)[0]
    if isinstance(target, Unit):
        acts = capture(net, target.layer)
        unit = target

        def score(x: torch.Tensor) -> torch.Tensor:
            acts.run(x)
            return unit_activation(acts[unit.layer], unit).sum()

        return _ascent(model, acts, score, size, priors, schedule, parameterization, init, f"{unit.layer}:{unit.channel}")
    index = single_class(model, target)
    name = model.class_names[index] if isinstance(model, KitModel) and model.class_names else index
    return _ascent(model, Hooks(net), _class_score(net, index, objective), size, priors, schedule, parameterization, init,
                   f"class {name}")  # fmt: skip


def _class_score(net: nn.Module, index: int, objective: Score) -> Callable[[torch.Tensor], torch.Tensor]:
    """The objective of class ``index``: its score, probability or log-probability, summed over the batch."""
    if objective not in ("score", "probability", "log_probability"):
        raise ValueError(f"objective must be 'score', 'probability' or 'log_probability', got {objective!r}")

    def score(x: torch.Tensor) -> torch.Tensor:
        if objective == "score":  # only this class's score is computed (see scores.target_scores)
            return target_scores(net, x, index).sum()
        logits = net(x)
        class_targets(logits, index)  # a clear error for an index out of range
        return (logits.softmax(1) if objective == "probability" else logits.log_softmax(1))[:, index].sum()

    return score


def _ascent(
    model: ModelLike,
    context: Hooks,
    score: Callable[[torch.Tensor], torch.Tensor],
    size: int | None,
    priors: ImagePriors,
    schedule: Schedule,
    parameterization: str,
    init: str | torch.Tensor,
    desc: str,
) -> torch.Tensor:
    """Gradient ascent on ``score`` (with jitter and an L2 penalty) on the shared synthesis loop."""
    net, mean, std = unwrap(model)
    size = size or (model.input_size if isinstance(model, KitModel) else CS231N_SIZE)
    device = model_device(net)
    generator = seeded_generator(schedule.seed)
    jitter = round(CS231N_JITTER * size / CS231N_SIZE) if priors.jitter is None else priors.jitter
    l2_reg = priors.l2_reg or 0.0
    param: Pixels | Fourier
    if parameterization == "pixel":
        param = Pixels(start_image(init, size, generator, device))  # type: ignore[arg-type]
        lr = CS231N_LR * size / CS231N_SIZE if schedule.lr is None else schedule.lr
        optimizer: torch.optim.Optimizer = NormalizedGradient([param.variable], lr=lr)
        prior = image_priors(priors, mean, std, blur_default=10)
    elif parameterization == "fft":
        if priors.blur_every or priors.decay or priors.clip_norm or priors.clip_contribution:
            raise ValueError(
                "blur_every, decay, clip_norm and clip_contribution act on pixels; with parameterization='fft' "
                "the image is a function of its spectrum — set them to 0"
            )
        if not (isinstance(init, str) and init in ("noise", "zeros")):
            raise ValueError("with parameterization='fft', init must be 'noise' or 'zeros'")
        param = Fourier(size, mean, std, device, generator, noise=init == "noise")
        optimizer = torch.optim.Adam([param.variable], lr=FFT_LR if schedule.lr is None else schedule.lr)
        prior = None
    else:
        raise ValueError(f"parameterization must be 'pixel' or 'fft', got {parameterization!r}")

    def loss(x: torch.Tensor) -> torch.Tensor:
        shifted, _ = random_jitter(x, jitter, generator)
        value = score(shifted)
        return -(value - l2_reg * x.pow(2).sum()) if l2_reg else -value

    optimize(param, loss, optimizer, schedule, prior=prior, context=context, desc=desc)
    return param.snapshot()


@dataclass
class FacetStarts:
    """Result of :func:`facet_starts`.

    Attributes:
        starts: ``[k, 3, S, S]`` normalised mean image of each cluster (the ascent's start points).
        top: ``[n_top]`` indices (into the given images) of the highest-scoring images, best first.
        cluster: ``[n_top]`` cluster of each of them (0 … k-1).
        features: ``[n_top, D]`` their features at the clustering layer.
    """

    starts: torch.Tensor
    top: torch.Tensor
    cluster: torch.Tensor
    features: torch.Tensor


@dataclass
class Facets:
    """Result of :func:`multifaceted_visualization`: ``images[k]`` was synthesized from ``starts.starts[k]``."""

    images: torch.Tensor
    starts: FacetStarts


def kmeans(points: torch.Tensor, k: int, iterations: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means with k-means++ seeding: ``(labels [N], centroids [k, D])``.

    Stops when no label changes. A cluster that loses all its points takes the point farthest from
    its centroid, so exactly ``k`` non-empty clusters are returned.
    """
    if not 1 <= k <= len(points):
        raise ValueError(f"k must be in 1..{len(points)} (the number of points), got {k}")
    g = torch.Generator().manual_seed(seed)
    centroids = points[torch.randint(len(points), (1,), generator=g)]
    while len(centroids) < k:  # k-means++: far points are more likely to seed the next cluster
        d2 = torch.cdist(points, centroids).amin(1) ** 2
        centroids = torch.cat([centroids, points[torch.multinomial(d2 + 1e-12, 1, generator=g)]])
    labels = torch.full((len(points),), -1)
    for _ in range(iterations):
        new = torch.cdist(points, centroids).argmin(1)
        for c in range(k):
            if not (new == c).any():
                new[torch.cdist(points, centroids[new]).diagonal().argmax()] = c
        if torch.equal(new, labels):
            break
        labels = new
        centroids = torch.stack([points[labels == c].mean(0) for c in range(k)])
    return labels, centroids


def facet_starts(
    model: ModelLike, images: torch.Tensor, target: Target, *, n_facets: int = 3, n_top: int = 30,
    layer: str | None = None, seed: int = 0, batch_size: int = 64,
) -> FacetStarts:  # fmt: skip
    """The start images of multifaceted visualization (Nguyen, Yosinski & Clune 2016).

    Scores every image for ``target``, keeps the ``n_top`` highest, clusters their features at
    ``layer`` (spatially averaged when 4-D) into ``n_facets`` groups with :func:`kmeans`, and
    returns each group's mean image. (The paper keeps the top 15 % of the class's training
    images, embeds their fc7 features with t-SNE and uses k = 10.)

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or a classifier ``nn.Module`` (left as it was).
        images: normalised candidate images ``[N, 3, S, S]`` (e.g. a labelled set's images).
        target: class index, or name with a KitModel.
        n_facets: number of clusters k.
        n_top: how many of the highest-scoring images are clustered.
        layer: the feature layer; default the KitModel's ``spec.penultimate`` (required otherwise).
        seed: of the k-means seeding.
        batch_size: images per forward pass.

    Returns:
        A :class:`FacetStarts`.
    """
    net = unwrap(model)[0]
    index = single_class(model, target)
    if layer is None:
        if not isinstance(model, KitModel):
            raise TypeError("give layer= (the feature layer to cluster) when the model is a plain nn.Module")
        layer = model.spec.penultimate
    if not n_facets <= n_top <= len(images):
        raise ValueError(f"need n_facets ≤ n_top ≤ number of images, got {n_facets}, {n_top}, {len(images)}")
    device = next(net.parameters()).device
    with torch.no_grad(), Hooks(net):
        scores = torch.cat([target_scores(net, b.to(device), index).float().cpu() for b in images.split(batch_size)])
    top = scores.argsort(descending=True)[:n_top]
    with capture(net, layer, detach=True) as acts:
        feats = []
        for b in images[top].split(batch_size):
            acts.run(b.to(device))
            out = acts[layer]
            feats.append((out.mean((-2, -1)) if out.ndim == 4 else out.flatten(1)).float().cpu())
    features = torch.cat(feats)
    cluster, _ = kmeans(features, n_facets, seed=seed)
    chosen = images[top].cpu()
    starts = torch.stack([chosen[cluster == c].mean(0) for c in range(n_facets)]).to(images.device)
    return FacetStarts(starts=starts, top=top, cluster=cluster, features=features)


def multifaceted_visualization(
    model: ModelLike, images: torch.Tensor, target: Target, *, n_facets: int = 3, n_top: int = 30,
    layer: str | None = None, seed: int = 0, schedule: Schedule | None = None, **kwargs: Any,
) -> Facets:  # fmt: skip
    """One class visualization per facet of the class (Nguyen, Yosinski & Clune 2016).

    :func:`facet_starts` finds ``n_facets`` groups among the images the network scores highest for
    ``target``; :func:`class_visualization` then starts from each group's mean image instead of
    noise. The paper also biases the image towards its centre and uses many more steps.

    Args:
        model, images, target, n_facets, n_top, layer, seed: as in :func:`facet_starts`; facet
            ``k`` is synthesized with seed ``seed + k``.
        schedule: as in :func:`class_visualization` (or its fields as keywords, ``steps=`` …).
        **kwargs: the other options of :func:`class_visualization` (``l2_reg``, ``blur_every``,
            ``objective`` …; not ``init``).

    Returns:
        :class:`Facets`: ``images[k]`` (``[k, 3, S, S]``, normalised) grown from ``starts.starts[k]``.

    Example:
        >>> data = image_set(km, n=200)
        >>> facets = multifaceted_visualization(km, km.preprocess(data.images), "disk", steps=50)
        >>> show_images([km.deprocess(f) for f in facets.images])
    """
    if "init" in kwargs:
        raise TypeError("multifaceted_visualization starts from the cluster means; do not pass init")
    starts = facet_starts(model, images, target, n_facets=n_facets, n_top=n_top, layer=layer, seed=seed)
    schedule_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in Schedule.__dataclass_fields__}
    schedule = Schedule.resolve(schedule, schedule_kw)
    size = images.shape[-1]
    out = [
        class_visualization(model, target, init=s[None], size=size, schedule=schedule.updated(seed=seed + k), **kwargs)
        for k, s in enumerate(starts.starts)
    ]
    return Facets(images=torch.cat(out), starts=starts)
