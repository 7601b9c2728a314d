r"""Class and unit visualization: synthesize the image a network likes most (lecture section 6).

Simonyan et al. (2014) start from noise and follow the gradient of a class score *with respect to
the image*:

.. math::  I^* = \arg\max_I \; s_y(I) - \lambda \lVert I \rVert_2^2 ,

with CS231n's recipe: normalised-gradient ascent steps, random jitter, clamping to the valid pixel
range after every step and a light Gaussian blur every few steps. Yosinski et al. (2015) add more
image priors (L2 decay, stronger blur, clipping pixels with small norm or small contribution),
each a switch here, and apply the same procedure to any unit of any layer
(:func:`unit_visualization`): low layers give edges and colour blobs, high layers object parts.
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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from tqdm.auto import trange

from .core.config import seeded_generator
from .core.images import conv_layout
from .core.layers import Hooks, capture, check_channel
from .core.options import ImagePriors, Schedule, split_options
from .core.regularizers import blur_every as blur_step
from .core.regularizers import clip_small_contribution, clip_small_norm, l2_decay, pixel_range, random_jitter
from .engines.scores import target_scores
from .models.loading import KitModel
from .models.targets import ModelLike, Target, class_targets, model_device, single_class, stop_requested, unwrap

CS231N_SIZE = 224  # the input size the CS231n hyper-parameters were chosen for
CS231N_LR, CS231N_JITTER = 25.0, 16
CS231N_L2_REG, UNIT_L2_REG = 1e-3, 1e-4  # unit activations are smaller than class scores (see unit_visualization)
FFT_LR = 0.05  # Adam learning rate for the Fourier parameterization (Lucid's default)

# Lucid's colour decorrelation: square root of the ImageNet colour covariance (columns are the
# principal colour directions), scaled so that its largest column has norm 1.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


def class_visualization(
    model: ModelLike,
    target: Target,
    *,
    objective: Literal["score", "probability", "log_probability"] = "score",
    priors: ImagePriors | None = None,
    schedule: Schedule | None = None,
    parameterization: Literal["pixel", "fft"] = "pixel",
    init: Literal["noise", "zeros"] | torch.Tensor = "noise",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    size: int | None = None,
    **options: Any,
) -> torch.Tensor:
    r"""Synthesize an image that maximizes one class score (Simonyan et al. 2014, CS231n's recipe).

    Each step computes :math:`\nabla_I \big(s_y(\tilde I) - \lambda \lVert I\rVert^2\big)` on a
    randomly rolled copy :math:`\tilde I` of the image, moves the image by ``lr`` along the
    *normalised* gradient, then applies the image priors in this order: L2 decay, clamp to the
    valid pixel range, blur (every ``blur_every`` steps), clip small-norm pixels, clip
    small-contribution pixels. The defaults reproduce CS231n (λ = 1e-3, lr 25, 100 steps, blur
    every 10 with σ 0.5, jitter 16, clamp) for 224-px models and scale for other sizes (see the
    module docstring). Yosinski et al. (2015) suggest e.g. ``decay=1e-4, blur_every=4,
    blur_sigma=1.0, clip_norm=10``.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` (then ``mean``, ``std``, ``size`` and class
            names come from it) or any classifier ``nn.Module`` (ImageNet ``mean``/``std`` and
            224 px unless given). Left exactly as it was (modes, ``requires_grad``, no hooks).
        target: class index, class name (with a KitModel), or a one-element list / tensor.
        objective: ``"score"`` (pre-softmax logit, recommended), ``"probability"`` (softmax) or
            ``"log_probability"``. Raising a probability can also be done by *lowering the other
            classes*, and its gradient vanishes once the class wins — both give worse images.
        priors: the image priors (:class:`~cnnviz_helpers.core.options.ImagePriors`); any of its
            fields may also be given as a keyword:
            ``l2_reg`` (λ, default 1e-3), ``jitter`` (maximum random roll in pixels, default
            ``16·size/224``), ``blur_every`` / ``blur_sigma`` (default every 10 steps, σ 0.5, for
            pixels; off for ``"fft"``), ``decay``, ``clip_norm``, ``clip_contribution`` (percentiles).
        schedule: the optimisation schedule (:class:`~cnnviz_helpers.core.options.Schedule`); any of
            its fields may also be given as a keyword: ``steps`` (100), ``lr`` (step length, the L2
            norm of the change; default ``25·size/224`` for pixels, 0.05 (Adam) for ``"fft"``),
            ``seed`` (start noise and jitter; ``None``: not repeatable), ``callback``
            (``callback(step, image) -> stop?`` every ``callback_every`` steps and after the last;
            returning ``True`` stops early and keeps the image so far), ``callback_every`` (10),
            ``progress`` (tqdm bar).
        parameterization: ``"pixel"`` (optimize the pixels) or ``"fft"`` (optimize a Fourier
            spectrum with 1/f scaling, mapped through Lucid's colour decorrelation and a sigmoid;
            updated with Adam; the pixel-space priors do not apply to it).
        init: ``"noise"`` (standard normal in normalised units, as CS231n), ``"zeros"`` (the mean
            colour) or a normalised ``[1, 3, size, size]`` start image (pixels only).
        mean, std: the input normalisation; they define the valid pixel range.
        size: side of the square image to synthesize.

    Returns:
        The synthesized normalised image ``[1, 3, size, size]`` (detached, on the model's device);
        show it with ``km.deprocess(img[0])``.

    Example:
        >>> img = class_visualization(km, "tarantula")      # or km.class_names[0] offline
        >>> km.predict(img)[0][0]                            # the network is convinced
        >>> img = class_visualization(km, 3, decay=1e-4, blur_every=4, blur_sigma=1.0, clip_norm=10)
    """
    index = single_class(model, target)
    net, mean, std, size = _resolve(model, mean, std, size)
    priors, schedule = _options(priors, schedule, options, CS231N_L2_REG)

    def score(x: torch.Tensor) -> torch.Tensor:
        if objective == "score":  # only this class's score is computed (see scores.target_scores)
            return target_scores(net, x, index).sum()
        logits = net(x)
        class_targets(logits, index)  # a clear error for an index out of range
        if objective == "probability":
            return logits.softmax(1)[:, index].sum()
        if objective == "log_probability":
            return logits.log_softmax(1)[:, index].sum()
        raise ValueError(f"objective must be 'score', 'probability' or 'log_probability', got {objective!r}")

    return _gradient_ascent(
        Hooks(net),
        score,
        net,
        mean,
        std,
        size,
        priors,
        schedule,
        parameterization,
        init,
        f"class {model.class_names[index]}" if isinstance(model, KitModel) else f"class {index}",
    )


def unit_visualization(
    model: ModelLike,
    layer: str,
    channel: int,
    *,
    neuron: Literal["mean", "center"] = "mean",
    priors: ImagePriors | None = None,
    schedule: Schedule | None = None,
    parameterization: Literal["pixel", "fft"] = "pixel",
    init: Literal["noise", "zeros"] | torch.Tensor = "noise",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    size: int | None = None,
    **options: Any,
) -> torch.Tensor:
    r"""Synthesize an image that maximizes one unit (channel) of any layer (Yosinski et al. 2015).

    Same procedure and priors as :func:`class_visualization`, with the objective replaced by the
    activation of channel ``channel`` of ``layer``: its spatial mean (``neuron="mean"``: the
    feature anywhere in the image) or only its centre neuron (``neuron="center"``: the feature
    inside that neuron's receptive field). The forward pass stops at ``layer`` — nothing deeper
    is computed. For a fully connected layer (output ``[N, C]``) ``channel`` is the unit and
    ``neuron`` does not matter.

    A unit's activation is typically much smaller than a class score, so the default L2 weight is
    ten times smaller than CS231n's (``l2_reg=1e-4``; with 1e-3 the prior wins and the image fades
    to grey). A unit after a ReLU that is off everywhere at the start has zero gradient and stays
    off — likely for ``neuron="center"``: then pick a unit that responds to the start image, or the
    layer just before the ReLU (e.g. the BatchNorm/conv output; the kit records it before an
    in-place ReLU overwrites it). For a centre neuron with a small receptive field set
    ``jitter=0``: jitter slides the image under that one neuron and smears what it could build.

    Args:
        model, priors, schedule, parameterization, init, mean, std, size, options: as in
            :func:`class_visualization` (keywords such as ``steps=``, ``l2_reg=``, ``jitter=``).
        layer: a layer name from :func:`~cnnviz_helpers.layer_names` (e.g. one of ``km.spec.layers``);
            an unknown name raises a ``KeyError`` listing close names.
        channel: the channel (unit); out of range raises an ``IndexError`` with the valid range.
        neuron: ``"mean"`` or ``"center"``.

    Returns:
        The synthesized normalised image ``[1, 3, size, size]``.

    Example:
        >>> low = unit_visualization(km, km.spec.layers[0], 5)     # an edge / colour detector
        >>> high = unit_visualization(km, km.spec.layers[-1], 5)   # an object part
        >>> show_images([km.deprocess(low[0]), km.deprocess(high[0])])
    """
    net, mean, std, size = _resolve(model, mean, std, size)
    priors, schedule = _options(priors, schedule, options, UNIT_L2_REG)
    if neuron not in ("mean", "center"):
        raise ValueError(f"neuron must be 'mean' or 'center', got {neuron!r}")
    acts = capture(net, layer)

    def activation(x: torch.Tensor) -> torch.Tensor:
        acts.run(x)
        a = acts[layer]
        check_channel(a, channel, layer)
        a = a[:, channel]
        if a.ndim == 1:  # a fully connected layer: the unit itself
            return a.sum()
        if neuron == "center":
            return a[:, a.shape[1] // 2, a.shape[2] // 2].sum()
        return a.flatten(1).mean(1).sum()

    return _gradient_ascent(
        acts, activation, net, mean, std, size, priors, schedule, parameterization, init, f"{layer}:{channel}"
    )


def _options(
    priors: ImagePriors | None, schedule: Schedule | None, options: dict[str, Any], l2_reg: float
) -> tuple[ImagePriors, Schedule]:
    """The priors and schedule from the option objects and the keyword shortcuts (keywords win)."""
    prior_kw, schedule_kw = split_options(options, ImagePriors, Schedule)
    priors = (priors or ImagePriors()).updated(**prior_kw)
    if priors.l2_reg is None:
        priors = priors.updated(l2_reg=l2_reg)
    return priors, (schedule or Schedule()).updated(**schedule_kw)


def _resolve(
    model: ModelLike, mean: Sequence[float] | None, std: Sequence[float] | None, size: int | None
) -> tuple[nn.Module, Sequence[float], Sequence[float], int]:
    """The ``nn.Module`` and its normalisation / input size (from the KitModel, else ImageNet's and 224)."""
    net, mean, std = unwrap(model, mean, std)
    return net, mean, std, size or (model.input_size if isinstance(model, KitModel) else CS231N_SIZE)


class _Pixels:
    """The image itself is the variable, updated by normalised-gradient ascent (CS231n)."""

    def __init__(self, x: torch.Tensor, lr: float) -> None:
        self.variable = x.requires_grad_(True)
        self.lr = lr

    def image(self) -> torch.Tensor:
        return self.variable

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        self.variable.addcdiv_(grad, grad.norm().clamp_min(1e-12), value=self.lr)


class _Fourier:
    """Lucid's image: a 1/f-scaled Fourier spectrum → decorrelated colours → sigmoid, updated with Adam."""

    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float], device: torch.device,
                 generator: torch.Generator, noise: bool, lr: float) -> None:  # fmt: skip
        fy, fx = torch.fft.fftfreq(size), torch.fft.rfftfreq(size)
        freqs = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt()
        self.scale = (1.0 / freqs.clamp_min(1.0 / size)).to(device)[None, None, :, :, None]
        shape = (1, 3, size, size // 2 + 1, 2)
        spectrum = torch.randn(shape, generator=generator) * 0.01 if noise else torch.zeros(shape)
        self.variable = spectrum.to(device).requires_grad_(True)
        self.size = size
        self.color = _COLOR_SQRT.to(device)
        self.mean = torch.as_tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.as_tensor(std, device=device).view(1, -1, 1, 1)
        self.optimizer = torch.optim.Adam([self.variable], lr=lr)

    def image(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.variable * self.scale)
        spatial = torch.fft.irfftn(spectrum, s=(self.size, self.size), norm="ortho") / 4  # Lucid's constant
        rgb = torch.sigmoid(torch.einsum("nchw,dc->ndhw", spatial, self.color))
        return (rgb - self.mean) / self.std

    def step(self, grad: torch.Tensor) -> None:
        self.variable.grad = -grad  # ascent
        self.optimizer.step()


def _gradient_ascent(
    context: AbstractContextManager[Any],
    objective: Callable[[torch.Tensor], torch.Tensor],
    net: nn.Module,
    mean: Sequence[float],
    std: Sequence[float],
    size: int,
    priors: ImagePriors,
    schedule: Schedule,
    parameterization: str,
    init: str | torch.Tensor,
    desc: str,
) -> torch.Tensor:
    """The loop shared by class and unit visualization: ``objective`` is maximized inside ``context``."""
    device = model_device(net)
    generator = seeded_generator(schedule.seed)
    jitter = round(CS231N_JITTER * size / CS231N_SIZE) if priors.jitter is None else priors.jitter
    lr = schedule.lr
    if parameterization == "pixel":
        blur_every = 10 if priors.blur_every is None else priors.blur_every
        if isinstance(init, torch.Tensor):
            if init.shape != (1, 3, size, size):
                raise ValueError(f"init must be a normalised [1, 3, {size}, {size}] tensor, got {tuple(init.shape)}")
            x = init.detach().clone()
        elif init in ("noise", "zeros"):
            x = torch.randn(1, 3, size, size, generator=generator) if init == "noise" else torch.zeros(1, 3, size, size)
        else:
            raise ValueError(f"init must be 'noise', 'zeros' or a tensor, got {init!r}")
        x = conv_layout(x.to(device))
        param: _Pixels | _Fourier = _Pixels(x, CS231N_LR * size / CS231N_SIZE if lr is None else lr)
    elif parameterization == "fft":
        blur_every = 0 if priors.blur_every is None else priors.blur_every
        if blur_every or priors.decay or priors.clip_norm or priors.clip_contribution:
            raise ValueError(
                "blur_every, decay, clip_norm and clip_contribution act on pixels; with parameterization='fft' "
                "the image is a function of its spectrum — set them to 0"
            )
        if not (isinstance(init, str) and init in ("noise", "zeros")):
            raise ValueError("with parameterization='fft', init must be 'noise' or 'zeros'")
        param = _Fourier(size, mean, std, device, generator, init == "noise", FFT_LR if lr is None else lr)
    else:
        raise ValueError(f"parameterization must be 'pixel' or 'fft', got {parameterization!r}")
    lo, hi = pixel_range(mean, std, param.image().detach())  # the valid pixel range, per channel
    l2_reg = priors.l2_reg or 0.0

    with context:
        for t in trange(schedule.steps, disable=not schedule.progress, desc=desc, leave=False):
            with torch.enable_grad():
                x = param.image()
                shifted, _ = random_jitter(x, jitter, generator)
                value = objective(conv_layout(shifted))
                loss = value - l2_reg * x.pow(2).sum() if l2_reg else value
                (grad,) = torch.autograd.grad(loss, param.variable)
            param.step(grad)
            if isinstance(param, _Pixels):
                with torch.no_grad():
                    x = l2_decay(param.variable, priors.decay).clamp_(lo, hi)
                    x = blur_step(x, t, blur_every, priors.blur_sigma)
                    x = clip_small_norm(x, priors.clip_norm)
                    x = clip_small_contribution(x, grad, priors.clip_contribution)
                    if x is not param.variable:
                        param.variable.copy_(x)
            if schedule.report(t + 1) and stop_requested(schedule.callback, t + 1, _snapshot(param)):
                break
    return _snapshot(param)


def _snapshot(param: _Pixels | _Fourier) -> torch.Tensor:
    """The current image, detached, in the ordinary memory layout."""
    return param.image().detach().clone(memory_format=torch.contiguous_format)


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
    layer: str | None = None, seed: int = 0, **kwargs: Any,
) -> Facets:  # fmt: skip
    """One class visualization per facet of the class (Nguyen, Yosinski & Clune 2016).

    :func:`facet_starts` finds ``n_facets`` groups among the images the network scores highest for
    ``target``; :func:`class_visualization` then starts from each group's mean image instead of
    noise. The paper also biases the image towards its centre and uses many more steps.

    Args:
        model, images, target, n_facets, n_top, layer, seed: as in :func:`facet_starts`.
        **kwargs: passed to :func:`class_visualization` (``steps``, ``l2_reg``, ``blur_every`` …;
            not ``init``).

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
    size = images.shape[-1]
    out = [
        class_visualization(model, target, init=s[None], size=size, seed=seed + k, **kwargs) for k, s in enumerate(starts.starts)
    ]
    return Facets(images=torch.cat(out), starts=starts)
