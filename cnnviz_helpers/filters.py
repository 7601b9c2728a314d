"""First-layer filters and activation maps: the two things you can look at directly.

The first convolution works on RGB pixels, so its weights *are* small RGB pictures (Krizhevsky et
al. 2012; Zeiler & Fergus 2014): oriented edges, colour blobs, opponent colours. Deeper filters have
dozens or hundreds of input channels and cannot be drawn as one colour picture: :func:`layer_kernels`
draws each of their input channels as a small grey kernel (the lecture's layer-2/3 weights), which
shows weights but not what they mean, since the inputs are themselves feature maps. So for deeper
layers we mostly look at what the filters *produce*, the activation (feature) maps of one image.

Example:
    >>> plt.imshow(first_layer_filters(km.model))                 # the conv1 filters as a grid
    >>> maps = activation_maps(km.model, km.preprocess(img), "features.6")
    >>> plt.imshow(image_grid(maps[:16]), cmap="gray")
    >>> zero_maps(maps).float().mean()                            # fraction of all-zero maps after ReLU
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .core.images import image_grid
from .core.layers import capture, check_channel, first_conv, get_layer
from .models.targets import ModelLike, model_device, unwrap


def filter_images(weight: torch.Tensor) -> np.ndarray:
    """Convolution weights ``[out, in, kh, kw]`` → one picture per filter, each min–max normalised on its own.

    With 3 input channels the pictures are RGB (``[out, kh, kw, 3]``); otherwise the input channels
    are averaged into greyscale (``[out, kh, kw]``). Normalising each filter separately shows its
    *pattern*; a shared scale would let the strongest filter wash out the others.

    Example:
        >>> filter_images(torch.randn(64, 3, 3, 3)).shape
        (64, 3, 3, 3)
    """
    w = weight.detach().float().cpu()
    w = w.permute(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(1)
    lo = w.flatten(1).min(1).values.view(-1, *[1] * (w.ndim - 1))
    hi = w.flatten(1).max(1).values.view(-1, *[1] * (w.ndim - 1))
    return ((w - lo) / (hi - lo).clamp_min(1e-12)).numpy()


def first_layer_filters(model: ModelLike, ncols: int | None = None) -> np.ndarray:
    """The first ``Conv2d`` of ``model`` (wherever it is: ``features.0``, ``conv1`` …) as an image grid.

    Each filter is normalised on its own (:func:`filter_images`) and tiled with a 1-pixel white
    border. Show it with ``plt.imshow(grid, interpolation="nearest")`` — the filters are only a
    few pixels wide.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or any network with a ``Conv2d`` (not modified).
        ncols: tiles per row (default: a square grid).

    Returns:
        ``H x W x 3`` (RGB first layer) or ``H x W`` array in [0, 1].

    Example:
        >>> name, conv = first_conv(km.model)
        >>> plt.imshow(first_layer_filters(km.model), interpolation="nearest"); plt.title(name)
    """
    _, conv = first_conv(unwrap(model)[0])
    return image_grid(filter_images(conv.weight), ncols=ncols, per_image_norm=False)


def layer_kernels(
    model: ModelLike, layer: str, filters: Sequence[int] | None = None, in_channels: Sequence[int] | None = None
) -> np.ndarray:
    """The weights of any ``Conv2d`` as a grid of grey kernels: one row per filter, one column per input channel.

    Each filter (row) is scaled on its own and symmetrically, ``0.5 + w / (2 max |w|)``: mid-grey is
    a zero weight, white the filter's largest positive and black its largest negative one, so within a
    row the input channels compare directly.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or an ``nn.Module`` (not modified).
        layer: name of a ``Conv2d`` (e.g. ``"features.4"`` of ShapesNet, ``"layer1.0.conv1"`` of ResNet).
        filters: which output filters (rows), default the first 8.
        in_channels: which input channels (columns), default the first 16.

    Returns:
        ``H x W`` array in [0, 1] with 1-pixel NaN borders between kernels (drawn blank by
        ``plt.imshow(grid, cmap="gray", vmin=0, vmax=1)``).

    Raises:
        KeyError: unknown layer.  TypeError: not a ``Conv2d``.  IndexError: a filter or channel out of range.

    Example:
        >>> plt.imshow(layer_kernels(km.model, "features.4"), cmap="gray", vmin=0, vmax=1)
    """
    conv = get_layer(unwrap(model)[0], layer)
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"{layer} is a {type(conv).__name__}; pick a Conv2d (layer_names(model, nn.Conv2d) lists them)")
    w = conv.weight.detach().float().cpu()
    rows, cols = (
        list(filters if filters is not None else range(min(8, w.shape[0]))),
        list(in_channels if in_channels is not None else range(min(16, w.shape[1]))),
    )
    for what, idx, n in (("filter", rows, w.shape[0]), ("input channel", cols, w.shape[1])):
        if bad := [i for i in idx if not 0 <= i < n]:
            raise IndexError(f"{layer} has {n} {what}s: indices must be in 0..{n - 1}, got {bad}")
    w = w[rows][:, cols]
    scale = w.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    kernels = (0.5 + w / (2 * scale)).numpy()
    kh, kw = kernels.shape[-2:]
    grid = np.full((len(rows) * (kh + 1) + 1, len(cols) * (kw + 1) + 1), np.nan)
    for i in range(len(rows)):
        for j in range(len(cols)):
            grid[1 + i * (kh + 1) : (i + 1) * (kh + 1), 1 + j * (kw + 1) : (j + 1) * (kw + 1)] = kernels[i, j]
    return grid


@torch.inference_mode()
def activation_maps(model: ModelLike, x: torch.Tensor, layer: str, channels: Sequence[int] | None = None) -> torch.Tensor:
    """The feature maps ``[C, h, w]`` that ``layer`` produces for one image (on the CPU, detached).

    The forward pass stops at ``layer`` (:func:`cnnviz_helpers.capture`), so deep layers of a big
    network cost no more than they must.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or an ``nn.Module`` (left unchanged).
        x: one preprocessed image ``[1, 3, H, W]`` or ``[3, H, W]``.
        layer: layer name (see ``km.spec.layers`` or :func:`cnnviz_helpers.layer_names`).
        channels: which channels to return (default all), e.g. ``range(16)``.

    Raises:
        KeyError: unknown layer (with close names).  IndexError: a channel out of range.

    Example:
        >>> maps = activation_maps(km.model, x, km.spec.layers[0], channels=range(16))
        >>> plt.imshow(image_grid(maps), cmap="gray")
    """
    model = unwrap(model)[0]
    x = x.unsqueeze(0) if x.ndim == 3 else x
    with capture(model, layer, detach=True) as acts:
        acts.run(x[:1].to(model_device(model)))
        out = acts[layer]
    if out.ndim != 4:
        raise ValueError(f"{layer} outputs shape {tuple(out.shape)}, not feature maps [N, C, h, w]; pick a convolutional layer")
    if channels is not None:
        channels = list(channels)
        for c in channels:
            check_channel(out, c, layer)
        out = out[:, channels]
    return out[0].float().cpu()


def zero_maps(maps: torch.Tensor) -> torch.Tensor:
    """``[C]`` booleans: which of the maps ``[C, h, w]`` are zero everywhere (a ReLU switched the whole channel off).

    Example:
        >>> zero_maps(activation_maps(km.model, x, "features.2")).float().mean()   # fraction of "dead" maps
    """
    return maps.flatten(1).eq(0).all(1)
