r"""DeepDream: amplify whatever a layer already sees in an image (lecture section 8).

Mordvintsev, Olah & Tyka (2015) start from a photo and ascend the gradient of
:math:`\tfrac12\lVert a_\ell(I)\rVert_2^2`, the energy of layer :math:`\ell`'s activations. Its
gradient with respect to the activations is the activations themselves, so backpropagating
:math:`a_\ell` gives :math:`\nabla_I`: "whatever you see there, I want more of it". The image is
processed from a coarse *octave* (downscaled by ``octave_scale`` per octave) to the full size;
the details added at each octave are upscaled and re-injected into the next, so the patterns
grow at several scales. Each step rolls the image randomly (jitter), divides the gradient by its
mean absolute value, and clamps to the valid pixel range — on the kit's shared synthesis loop
(:func:`~cnnviz_helpers.core.synthesis.optimize`), whose steps count on across the octaves.

Example:
    >>> km = load_model()
    >>> x = km.preprocess(km.examples[0].image)
    >>> dream = deepdream(km, x, km.spec.layers[2])
    >>> plt.imshow(km.deprocess(dream[0]))
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .core.config import seeded_generator
from .core.layers import capture, check_channel
from .core.options import Schedule
from .core.regularizers import pixel_range, random_jitter
from .core.synthesis import NormalizedGradient, Pixels, clamp_prior, optimize
from .models.targets import ModelLike, Unit, model_device, unit_activation, unwrap

GOOGLE_LR = 1.5 / 255  # the original notebook's step of 1.5 on a 0–255 pixel scale
GOOGLE_JITTER, GOOGLE_SIZE = 32, 224
DREAM = Schedule(steps=10, lr=GOOGLE_LR)  # steps per octave and step size of the original notebook


def octave_sizes(height: int, width: int, octaves: int, octave_scale: float, min_size: int) -> list[tuple[int, int]]:
    """Sizes of the octaves, smallest first, ending with ``(height, width)``.

    Octave ``k`` (counted from the full size) is the image shrunk by ``octave_scale**k``; octaves
    whose shorter side would fall below ``min_size`` are dropped (the minimum-size guard: tiny
    images make deep layers' outputs vanish or the network fail).

    Raises:
        ValueError: when the image itself is smaller than ``min_size``.
    """
    if min(height, width) < min_size:
        raise ValueError(
            f"the image is {height}x{width}; DeepDream needs at least {min_size} pixels a side. "
            f"Load it larger (e.g. km.preprocess(img, size={max(min_size, 64)})) or lower min_size."
        )
    if octaves < 1 or octave_scale <= 1:
        raise ValueError(f"need octaves >= 1 and octave_scale > 1, got {octaves} and {octave_scale}")
    sizes = [(round(height / octave_scale**k), round(width / octave_scale**k)) for k in range(octaves)]
    return [s for s in sizes if min(s) >= min_size][::-1]


def deepdream(
    model: ModelLike,
    image: torch.Tensor,
    layer: str | Unit,
    *,
    octaves: int = 4,
    octave_scale: float = 1.4,
    jitter: int | None = None,
    min_size: int = 32,
    schedule: Schedule | None = None,
    **options: Any,
) -> torch.Tensor:
    r"""DeepDream an image: maximize :math:`\tfrac12\lVert a_\ell\rVert^2` of ``layer`` with octaves and detail re-injection.

    For each octave (smallest first): the octave's base image plus the upscaled detail found so
    far is improved for ``steps`` steps of

    .. math::  I \leftarrow \operatorname{clamp}\Big(I + \frac{\text{lr}}{\sigma}\,
               \frac{g}{\operatorname{mean}|g|}\Big), \qquad g = \nabla_I \tfrac12\lVert a_\ell(\operatorname{roll}(I))\rVert^2 ,

    where σ is the normalisation std (so ``lr`` is in [0, 1] pixel units, as in the original
    notebook) and the forward pass stops at ``layer``. The detail (image minus base) is then
    upscaled into the next octave. Defaults are the original notebook's: 4 octaves of scale 1.4,
    10 steps each, step 1.5/255, jitter 32 px for a 224-px image (scaled with the image size when
    ``jitter=None``).

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or an ``nn.Module`` (ImageNet normalisation;
            :meth:`~cnnviz_helpers.KitModel.wrap` it for another). Left exactly as it was.
        image: normalised image(s) ``[N, 3, H, W]`` (e.g. ``km.preprocess(img)``), any size ≥ ``min_size``.
        layer: the layer to amplify (e.g. one of ``km.spec.layers``; unknown names raise a
            ``KeyError`` with suggestions) — low layers paint strokes and textures, high layers
            objects — or a :class:`~cnnviz_helpers.models.targets.Unit`: amplify only that channel
            (``position=None``: the whole map; ``"center"`` / ``(row, col)`` / ``"max"``: one neuron).
        octaves, octave_scale: number of scales and the factor between them (1.3–1.4 is usual).
        jitter: maximum random roll in pixels; default ``32·min(H, W)/224``.
        min_size: smallest octave side allowed (octaves below it are skipped).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule` (default :data:`DREAM`), or its
            fields as keywords: ``steps`` (per octave, 10), ``lr`` (mean step per pixel on the
            [0, 1] scale, 1.5/255), ``seed`` (jitter offsets), ``callback`` (``callback(step,
            image) -> stop?`` every ``callback_every`` steps and after the last one, the steps
            counted across octaves — ``steps × octaves`` in all — and ``image`` at the current
            octave's size; ``True`` stops and returns the image so far, resized to the input's
            size), ``callback_every``, ``progress``.

    Returns:
        The dreamed normalised image(s), same shape as ``image``.

    Example:
        >>> dream = deepdream(km, km.preprocess(img), km.spec.layers[-2], octaves=4, steps=10)
        >>> show_images([img, km.deprocess(dream[0])])
    """
    schedule = Schedule.resolve(schedule, options, DREAM)
    unit = layer if isinstance(layer, Unit) else None
    name = unit.layer if unit is not None else str(layer)
    net, mean, std = unwrap(model)
    device = model_device(net)
    base = (image.unsqueeze(0) if image.ndim == 3 else image).detach().to(device)
    height, width = base.shape[-2:]
    sizes = octave_sizes(height, width, octaves, octave_scale, min_size)
    max_jitter = round(GOOGLE_JITTER * min(height, width) / GOOGLE_SIZE) if jitter is None else jitter
    generator = seeded_generator(schedule.seed)
    lo, hi = pixel_range(mean, std, base)
    inv_std = 1 / torch.as_tensor(std, dtype=base.dtype, device=device).view(1, -1, 1, 1)
    per_octave = schedule.steps
    total = schedule.updated(steps=per_octave * len(sizes))  # one step count across the octaves

    def loss(x: torch.Tensor) -> torch.Tensor:
        shifted, _ = random_jitter(x, max_jitter, generator)
        acts.run(shifted)
        a = acts[name]
        if unit is not None:  # one channel's map, or one neuron of it
            check_channel(a, unit.channel, name)
            a = a[:, unit.channel] if unit.position is None else unit_activation(a, unit)
        return -(a * a.detach()).sum()  # gradient -a·∂a/∂x = -∇½‖a‖²: backpropagate a itself

    detail = torch.zeros(base.shape[:2] + sizes[0], dtype=base.dtype, device=device)
    with capture(net, name) as acts:
        for k, size in enumerate(sizes):
            octave_base = _resize(base, size, antialias=True)
            param = Pixels(octave_base + _resize(detail, size))
            optimizer = NormalizedGradient([param.variable], lr=GOOGLE_LR if schedule.lr is None else schedule.lr,
                                           norm="mean_abs", scale=inv_std)  # fmt: skip
            steps = range(k * per_octave, (k + 1) * per_octave)
            stopped = optimize(param, loss, optimizer, total, prior=clamp_prior(lo, hi), steps=steps, desc=f"deepdream {name}")
            detail = param.variable.detach() - octave_base  # what this octave added: re-injected, upscaled, into the next
            if stopped:
                break
    return _resize(param.snapshot(), (height, width)).clone(memory_format=torch.contiguous_format)


def _resize(x: torch.Tensor, size: tuple[int, int], antialias: bool = False) -> torch.Tensor:
    """Bilinear resize to ``size`` (``x`` itself when it already has that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)
