r"""DeepDream: amplify whatever a layer already sees in an image (lecture section 8).

Mordvintsev, Olah & Tyka (2015) start from a photo and ascend the gradient of
:math:`\tfrac12\lVert a_\ell(I)\rVert_2^2`, the energy of layer :math:`\ell`'s activations. Its
gradient with respect to the activations is the activations themselves, so backpropagating
:math:`a_\ell` gives :math:`\nabla_I`: "whatever you see there, I want more of it". The image is
processed from a coarse *octave* (downscaled by ``octave_scale`` per octave) to the full size;
the details added at each octave are upscaled and re-injected into the next, so the patterns
grow at several scales. Each step rolls the image randomly (jitter), divides the gradient by its
mean absolute value, and clamps to the valid pixel range.

Example:
    >>> km = load_model()
    >>> x = km.preprocess(km.examples[0].image)
    >>> dream = deepdream(km, x, km.spec.layers[2])
    >>> plt.imshow(km.deprocess(dream[0]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .core.config import seeded_generator
from .core.images import conv_layout
from .core.layers import capture, check_channel
from .core.options import Callback
from .core.regularizers import pixel_range, random_jitter
from .models.loading import KitModel
from .models.targets import model_device, stop_requested, unwrap

GOOGLE_LR = 1.5 / 255  # the original notebook's step of 1.5 on a 0–255 pixel scale
GOOGLE_JITTER, GOOGLE_SIZE = 32, 224


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
    model: torch.nn.Module | KitModel,
    image: torch.Tensor,
    layer: str,
    *,
    channel: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    steps: int = 10,
    lr: float = GOOGLE_LR,
    octaves: int = 4,
    octave_scale: float = 1.4,
    jitter: int | None = None,
    min_size: int = 32,
    seed: int | None = 0,
    callback: Callback | None = None,
    progress: bool = True,
) -> torch.Tensor:
    r"""DeepDream an image: maximize :math:`\tfrac12\lVert a_\ell\rVert^2` of ``layer`` with octaves and detail re-injection.

    For each octave (smallest first): the octave's base image plus the upscaled detail found so
    far is improved for ``steps`` steps of

    .. math::  I \leftarrow \operatorname{clamp}\Big(I + \frac{\text{lr}}{\sigma}\,
               \frac{g}{\operatorname{mean}|g|}\Big), \qquad g = \nabla_I \tfrac12\lVert a_\ell(\operatorname{roll}(I))\rVert^2 ,

    where the gradient is obtained by backpropagating :math:`a_\ell` itself, σ is the
    normalisation std (so ``lr`` is in [0, 1] pixel units, as in the original notebook) and the
    forward pass stops at ``layer``. The detail (image minus base) is then upscaled into the next
    octave. Defaults are the original notebook's: 4 octaves of scale 1.4, 10 steps each, step
    1.5/255, jitter 32 px for a 224-px image (scaled with the image size when ``jitter=None``).

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` (its ``mean``/``std`` are used) or an
            ``nn.Module`` (ImageNet ``mean``/``std`` unless given). Left exactly as it was.
        image: normalised image(s) ``[N, 3, H, W]`` (e.g. ``km.preprocess(img)``), any size ≥ ``min_size``.
        layer: the layer to amplify (e.g. one of ``km.spec.layers``; unknown names raise a
            ``KeyError`` with suggestions). Low layers paint strokes and textures, high layers objects.
        channel: amplify only this channel of the layer (``None``: all of them).
        steps: gradient steps per octave.
        lr: mean step per pixel on the [0, 1] scale.
        octaves, octave_scale: number of scales and the factor between them (1.3–1.4 is usual).
        jitter: maximum random roll in pixels; default ``32·min(H, W)/224``.
        min_size: smallest octave side allowed (octaves below it are skipped).
        seed: seeds the jitter offsets.
        callback: ``callback(step, image) -> stop?`` after each octave (``image`` at that
            octave's size); returning ``True`` stops after that octave and returns the image so
            far, resized to the input's size.
        progress: show a tqdm progress bar.

    Returns:
        The dreamed normalised image(s), same shape as ``image``.

    Example:
        >>> dream = deepdream(km, km.preprocess(img), km.spec.layers[-2], octaves=4, steps=10)
        >>> show_images([img, km.deprocess(dream[0])])
    """
    net, mean, std = unwrap(model, mean, std)
    device = model_device(net)
    base = (image.unsqueeze(0) if image.ndim == 3 else image).detach().to(device)
    height, width = base.shape[-2:]
    sizes = octave_sizes(height, width, octaves, octave_scale, min_size)
    max_jitter = round(GOOGLE_JITTER * min(height, width) / GOOGLE_SIZE) if jitter is None else jitter
    generator = seeded_generator(seed)
    lo, hi = pixel_range(mean, std, base)
    step_scale = lr / torch.as_tensor(std, dtype=base.dtype, device=device).view(1, -1, 1, 1)

    detail = torch.zeros(base.shape[:2] + sizes[0], dtype=base.dtype, device=device)
    bar = tqdm(total=steps * len(sizes), disable=not progress, desc=f"deepdream {layer}", leave=False)
    with capture(net, layer) as acts, bar:
        for k, size in enumerate(sizes):
            octave_base = _resize(base, size, antialias=True)
            x = conv_layout(octave_base + _resize(detail, size)).requires_grad_(True)
            for _ in range(steps):
                shifted, _ = random_jitter(x, max_jitter, generator)
                acts.run(shifted)
                a = acts[layer]
                if channel is not None:
                    check_channel(a, channel, layer)
                    a = a[:, channel]
                (g,) = torch.autograd.grad(a, x, grad_outputs=a.detach())  # ∇ of ½‖a‖² is a, backpropagated
                with torch.no_grad():
                    g_scale = g.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
                    x.addcdiv_(g * step_scale, g_scale).clamp_(lo, hi)
                bar.update()
            detail = x.detach() - octave_base  # what this octave added: re-injected, upscaled, into the next
            if stop_requested(callback, steps * (k + 1), x.detach().clone(memory_format=torch.contiguous_format)):
                break
    return _resize(x.detach(), (height, width)).clone(memory_format=torch.contiguous_format)


def _resize(x: torch.Tensor, size: tuple[int, int], antialias: bool = False) -> torch.Tensor:
    """Bilinear resize to ``size`` (``x`` itself when it already has that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)
