"""Maximally activating patches: which pieces of which images excite one channel of a layer the most.

The lecture (Zeiler & Fergus 2014; Springenberg et al. 2015) picks a layer and a channel, runs a
dataset through the network and keeps the image regions behind the strongest activations. A unit
of a convolutional layer only sees part of the input — its *receptive field* — so each activation
is shown as the crop of the image under that field. Deeper layers see larger regions.

Receptive fields are computed *exactly* from the network's own layers (kernel size, stride,
padding, dilation of every convolution and pooling on the way) by :mod:`.receptive_field` — no
guessing from layer names.

Example:
    >>> rf = receptive_field(km.model, "features.10")
    >>> rf.size, rf.stride, rf.box(3, 4, image_size=(64, 64))
    >>> top = max_activating_patches(km.model, x, "features.10", channel=5, k=9)
    >>> show_images(list(km.deprocess(top.patches)))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .core.layers import capture, check_channel
from .engines.receptive_field import ReceptiveField, receptive_field
from .models.targets import ModelLike, model_device, unwrap


@dataclass
class TopPatches:
    """The ``k`` strongest activations of one channel over a dataset, strongest first.

    Attributes:
        values: ``[k]`` activation values.
        image_index: ``[k]`` index of the image in the streamed dataset.
        position: ``[k, 2]`` ``(row, col)`` of the unit in the layer's feature map.
        boxes: ``[k, 4]`` ``(top, left, bottom, right)`` of each unit's receptive field, clipped to the image.
        patches: ``[k, 3, size_h, size_w]`` the receptive-field crops (normalised like the input;
            where the field hangs over the border the crop is 0, i.e. the mean colour).
        field: the layer's :class:`ReceptiveField`.
    """

    values: torch.Tensor
    image_index: torch.Tensor
    position: torch.Tensor
    boxes: torch.Tensor
    patches: torch.Tensor
    field: ReceptiveField


def _crop(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, field: ReceptiveField) -> torch.Tensor:
    """Receptive-field crops ``[n, C, size_h, size_w]`` of unit ``(rows[i], cols[i])`` in ``images[i]`` (0 outside)."""
    (sh, sw), (jh, jw), (ah, aw) = field.size, field.stride, field.start
    pad = (max(0, -aw), max(0, sw), max(0, -ah), max(0, sh))  # left, right, top, bottom: enough for any unit
    padded = F.pad(images, pad)
    top = (ah + rows * jh + pad[2]).tolist()
    left = (aw + cols * jw + pad[0]).tolist()
    if not top:
        return padded[:0, :, :sh, :sw]
    return torch.stack([img[:, t : t + sh, c : c + sw] for img, t, c in zip(padded, top, left)])


@torch.inference_mode()
def max_activating_patches(
    model: ModelLike,
    data: torch.Tensor | Iterable[torch.Tensor],
    layer: str,
    channel: int,
    k: int = 9,
    batch_size: int = 64,
    per_image: bool = True,
    progress: bool = True,
) -> TopPatches:
    """Stream a dataset once and return the ``k`` input patches that excite ``layer``'s ``channel`` most.

    Each batch goes through the network only up to ``layer`` (:func:`cnnviz_helpers.capture`
    with ``stop=True``, in ``torch.inference_mode``); the running top-``k`` is merged with the
    batch's candidates, and the winners' receptive fields (:func:`receptive_field`) are cropped
    from the batch right away, so the dataset is never held in memory. Ties are broken by dataset
    order (image, then row-major position), exactly as a stable full sort of all activations.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or an ``nn.Module`` (left unchanged: no hooks, same modes).
        data: preprocessed images ``[N, 3, H, W]`` (split into ``batch_size`` batches) or any
            iterable of such batches (e.g. a generator that loads and preprocesses on the fly).
        layer: a convolutional layer name (its output must be a feature map).
        channel: the channel to rank.
        k: how many patches.
        per_image: keep at most one patch per image (its strongest unit) — the usual choice, it
            avoids nine shifted copies of one object; ``False`` ranks every unit of every image.
        progress: show a progress bar.

    Returns:
        A :class:`TopPatches` (strongest first).

    Raises:
        KeyError: unknown layer.  IndexError: channel out of range.  ValueError: empty data.

    Example:
        >>> x = km.preprocess([e.image for e in km.examples])
        >>> top = max_activating_patches(km.model, x, "features.6", channel=3, k=4)
        >>> show_images(list(km.deprocess(top.patches)), titles=[f"{v:.2f}" for v in top.values])
    """
    model = unwrap(model)[0]
    device = model_device(model)
    field = receptive_field(model, layer)
    batches = data.split(batch_size) if isinstance(data, torch.Tensor) else data
    values = torch.empty(0)
    index = torch.empty(0, 3, dtype=torch.long)  # (image, row, col) of each kept unit
    patches: torch.Tensor | None = None
    seen = 0
    with capture(model, layer, stop=True, detach=True) as acts:
        for x in tqdm(batches, desc=f"{layer}[{channel}]", disable=not progress):
            x = x.to(device)
            acts.run(x)
            out = acts[layer]
            check_channel(out, channel, layer)
            a = out[:, channel].float().cpu()  # [B, h, w]
            b, h, w = a.shape
            if per_image:
                cand_v, flat = a.flatten(1).max(dim=1)  # first maximum of each image
                cand_img = torch.arange(b)
            else:
                cand_v = a.flatten()
                cand_img, flat = torch.arange(b).repeat_interleave(h * w), torch.arange(h * w).repeat(b)
            if len(cand_v) > k:  # only candidates >= the k-th largest can enter (ties included)
                keep = cand_v >= cand_v.topk(k).values[-1]
                cand_v, cand_img, flat = cand_v[keep], cand_img[keep], flat[keep]
            cand = torch.stack([cand_img + seen, flat // w, flat % w], dim=1)
            # stable sort: earlier (already kept) entries win ties, as in a full stable sort of everything
            order = torch.cat([values, cand_v]).sort(descending=True, stable=True).indices[:k]
            new = order >= len(values)
            fresh = cand[order[new] - len(values)]
            crops = _crop(x[fresh[:, 0] - seen], fresh[:, 1].to(x.device), fresh[:, 2].to(x.device), field).cpu()
            merged = torch.empty((len(order), *crops.shape[1:]), dtype=crops.dtype)
            if patches is not None and (~new).any():
                merged[~new] = patches[order[~new]]
            merged[new] = crops
            values, index, patches = torch.cat([values, cand_v])[order], torch.cat([index, cand])[order], merged
            seen += b
    if patches is None:
        raise ValueError("data is empty: pass at least one image")
    shape = (x.shape[-2], x.shape[-1])
    boxes = torch.tensor([field.box(int(r), int(c), shape) for _, r, c in index.tolist()], dtype=torch.long).view(-1, 4)
    return TopPatches(values, index[:, 0], index[:, 1:], boxes, patches, field)
