r"""Network Dissection (Bau et al. 2017): which concept, if any, each unit of a layer detects.

Bau, Zhou, Khosla, Oliva & Torralba, "Network Dissection: Quantifying Interpretability of Deep
Visual Representations", CVPR 2017. For every unit :math:`k` of a layer:

1. its activation maps :math:`A_k(x)` over a dataset, and the threshold :math:`T_k` that only
   the top :math:`1 - q` of all its activations (every image, every position) exceed, :math:`q = 0.995`;
2. each map bilinearly upsampled to the image size, :math:`S_k(x)`, and thresholded: the unit's
   region :math:`M_k(x) = S_k(x) > T_k`;
3. its intersection over union with every concept :math:`c`'s pixel mask :math:`L_c(x)`, summed
   over the whole dataset (not averaged per image):

   .. math:: \mathrm{IoU}_{k,c} = \frac{\sum_x |M_k(x) \cap L_c(x)|}{\sum_x |M_k(x) \cup L_c(x)|}

The unit's label is its best concept; it counts as a *detector* when that IoU exceeds 0.04 (the
paper's threshold). Per layer the paper reports the number of *unique detectors* (distinct
concepts among the detectors' labels) and the share of units per concept category.

Bau et al. use the Broden dataset (pixel labels of objects, parts, materials, textures, colours);
here the ground truth is free: the ShapesNet generator knows every object, colour and background
element it drew (:class:`~cnnviz_helpers.datasets.shapes.Concepts`, from
``make_shapes(n, seed, concepts=True)``).

Cost: two batched forward passes over the dataset for all layers together (the first finds the
thresholds, the second counts the overlaps), no per-image loop. The threshold is *exact*: the
pass keeps each unit's :math:`\lfloor(1-q)M\rfloor + 1` largest activations (:math:`M` = images ×
positions) in a running ``topk``, where the paper's code uses an approximate streaming quantile.
The overlaps are counted from the few active pixels only (``bincount``), not by multiplying masks.

Example:
    >>> images, labels, masks, concepts = make_shapes(1000, seed=3, concepts=True)
    >>> x = to_tensor(images)
    >>> result = dissect(km, x, concepts)                  # every layer of km.spec.layers
    >>> result.label("features.14", 7)                    # (concept, category, IoU) of unit 7
    >>> result.unique_detectors("features.14"), result.category_shares("features.14")
    >>> top = top_images(km, x, result, "features.14", 7)  # its best images, regions to outline
    >>> top = dissect_unit(km, "features.14", 7, images=500)  # the same from the kit's concept images
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .core.layers import capture
from .datasets.shapes import CONCEPT_CATEGORIES, CONCEPT_NAMES, Concepts, make_shapes
from .datasets.shapesnet import TEST_SEED, ShapesNet
from .models.loading import KitModel
from .models.targets import ModelLike, model_input, unwrap

#: Bau et al.'s IoU above which a unit counts as a detector of its best concept.
DETECTOR_IOU = 0.04


@dataclass
class Dissection:
    """The result of :func:`dissect`: per layer, every unit's threshold and IoU with every concept.

    Attributes:
        layers: the dissected layers.
        quantile: :math:`q`; a unit's region is where its activation exceeds its top-:math:`(1-q)` threshold.
        thresholds: ``{layer: [U]}`` each unit's threshold :math:`T_k`.
        iou: ``{layer: [U, K]}`` each unit's IoU with each of the K concepts of ``names``.
        image_max: ``{layer: [N, U]}`` each unit's largest activation in each image (ranks its top images).
        names, categories: the concepts (:data:`~cnnviz_helpers.datasets.shapes.CONCEPT_NAMES`) and their categories.
    """

    layers: tuple[str, ...]
    quantile: float
    thresholds: dict[str, torch.Tensor]
    iou: dict[str, torch.Tensor]
    image_max: dict[str, torch.Tensor]
    names: tuple[str, ...] = CONCEPT_NAMES
    categories: tuple[str, ...] = CONCEPT_CATEGORIES

    def _iou(self, layer: str) -> torch.Tensor:
        if layer not in self.iou:
            raise KeyError(f"{layer!r} was not dissected; the layers are {', '.join(self.layers)}")
        return self.iou[layer]

    def best(self, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(concept index [U], IoU [U])``: every unit's best concept and its IoU."""
        iou, concept = self._iou(layer).max(1)
        return concept, iou

    def label(self, layer: str, unit: int) -> tuple[str, str, float]:
        """``(concept, category, IoU)`` of one unit's best concept."""
        iou = self._iou(layer)
        if not 0 <= unit < len(iou):
            raise IndexError(f"{layer} has {len(iou)} units: unit must be in 0..{len(iou) - 1}, got {unit}")
        k = int(iou[unit].argmax())
        return self.names[k], self.categories[k], float(iou[unit, k])

    def detectors(self, layer: str, min_iou: float = DETECTOR_IOU) -> torch.Tensor:
        """``bool [U]``: the units whose best IoU exceeds ``min_iou`` (Bau et al.: 0.04)."""
        return self.best(layer)[1] > min_iou

    def unique_detectors(self, layer: str, min_iou: float = DETECTOR_IOU) -> int:
        """The number of distinct concepts that some detector unit of ``layer`` is labelled with."""
        concept, _ = self.best(layer)
        return len(set(concept[self.detectors(layer, min_iou)].tolist()))

    def category_shares(self, layer: str, min_iou: float = DETECTOR_IOU) -> dict[str, float]:
        """Share of ``layer``'s units that are detectors of a concept of each category.

        ``{"shape": ..., "texture": ..., "colour": ..., "background": ...}``; the shares add up to
        the share of detector units (the rest detect nothing above ``min_iou``).
        """
        concept, _ = self.best(layer)
        det = self.detectors(layer, min_iou)
        cats = [self.categories[k] for k in concept[det].tolist()]
        return {c: cats.count(c) / len(concept) for c in dict.fromkeys(self.categories)}


def _layers(model: ModelLike, layers: str | Sequence[str] | None) -> list[str]:
    if layers is None:
        if not isinstance(model, KitModel) or not model.spec.layers:
            raise ValueError("pass layers=[...] (names from layer_names(model)): only a KitModel knows its layers")
        return list(model.spec.layers)
    return [layers] if isinstance(layers, str) else list(layers)


def _by_unit(a: torch.Tensor) -> torch.Tensor:
    """``[B, U, h, w]`` activations → ``[U, B*h*w]``."""
    return a.transpose(0, 1).reshape(a.shape[1], -1)


def _check_layer_output(layer: str, a: torch.Tensor) -> None:
    if a.ndim != 4:
        raise ValueError(f"layer {layer!r} outputs shape {tuple(a.shape)}; dissection needs [N, C, h, w] feature maps")


def _thresholds(
    model: ModelLike, x: torch.Tensor, layers: list[str], quantile: float, batch_size: int
) -> dict[str, torch.Tensor]:
    """Pass 1 of :func:`dissect`: each unit's exact threshold :math:`T_k` over ``x`` (``{layer: [U]}``).

    Each unit keeps its largest floor((1 - q) M) + 1 activations (M: images × positions) in a running ``topk``.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    net, _, _ = unwrap(model)
    top: dict[str, torch.Tensor] = {}
    with capture(net, layers, detach=True) as acts:
        for start in range(0, len(x), batch_size):
            with torch.inference_mode():
                acts.run(model_input(model, x[start : start + batch_size]))
            for name in layers:
                a = acts[name]
                _check_layer_output(name, a)
                keep = math.floor((1 - quantile) * len(x) * a[0, 0].numel()) + 1
                values = _by_unit(a) if name not in top else torch.cat([top[name], _by_unit(a)], 1)
                top[name] = values.topk(min(keep, values.shape[1]), dim=1, sorted=False).values
    return {name: t.amin(1) for name, t in top.items()}


def dissect(
    model: ModelLike,
    x: torch.Tensor,
    concepts: Concepts,
    layers: str | Sequence[str] | None = None,
    *,
    quantile: float = 0.995,
    batch_size: int = 64,
) -> Dissection:
    """Network Dissection of every unit of ``layers`` over the images ``x`` with their concept labels.

    Args:
        model: a :class:`~cnnviz_helpers.models.loading.KitModel` or ``nn.Module`` (left unchanged).
        x: preprocessed images ``[N, 3, H, W]``.
        concepts: their concept labels at the same size (``make_shapes(N, seed, concepts=True)``).
        layers: layer names with ``[N, C, h, w]`` outputs; default: the KitModel's ``spec.layers``.
        quantile: :math:`q`; each unit's region is its top :math:`1 - q` of activations (paper: 0.995).
        batch_size: images per forward pass (memory: ``batch_size × units × H × W`` floats for the
            upsampled maps of the widest layer).

    Returns:
        :class:`Dissection`.
    """
    names = _layers(model, layers)
    labels = torch.as_tensor(concepts.labels).long()
    if labels.shape[0] != len(x) or labels.shape[-2:] != x.shape[-2:]:
        raise ValueError(
            f"concepts {tuple(labels.shape)} must label the {len(x)} images of size {tuple(x.shape[-2:])} (same N, H, W)"
        )
    net, _, _ = unwrap(model)
    n, size, k_all = len(x), tuple(x.shape[-2:]), len(CONCEPT_NAMES)

    thresholds = _thresholds(model, x, names, quantile, batch_size)

    # pass 2: overlaps of the thresholded, upsampled maps with every concept, summed over the dataset
    inter = {name: torch.zeros(len(thresholds[name]) * k_all, dtype=torch.long) for name in names}
    active = {name: torch.zeros(len(thresholds[name]), dtype=torch.long) for name in names}
    image_max: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    with capture(net, names, detach=True) as acts:
        for start in range(0, n, batch_size):
            with torch.inference_mode():
                acts.run(model_input(model, x[start : start + batch_size]))
            lab = labels[start : start + batch_size]
            for name in names:
                a = acts[name].float().cpu()
                image_max[name].append(a.amax((2, 3)))
                region = _upsample(a, size) > thresholds[name].cpu().view(1, -1, 1, 1)
                b, u, i, j = region.nonzero(as_tuple=True)
                active[name] += torch.bincount(u, minlength=len(active[name]))
                for plane in lab[b, :, i, j].unbind(1):  # the object, colour and background label of each pixel
                    on = plane >= 0
                    inter[name] += torch.bincount(u[on] * k_all + plane[on], minlength=len(inter[name]))
    sizes = torch.bincount(labels[labels >= 0], minlength=k_all)  # pixels of each concept
    iou = {}
    for name in names:
        overlap = inter[name].view(-1, k_all).double()
        union = active[name][:, None] + sizes[None, :] - overlap
        iou[name] = torch.where(union > 0, overlap / union.clamp_min(1), 0.0)
    return Dissection(
        layers=tuple(names),
        quantile=quantile,
        thresholds={k: v.cpu() for k, v in thresholds.items()},
        iou=iou,
        image_max={k: torch.cat(v) for k, v in image_max.items()},
    )


def mask_iou(
    model: ModelLike,
    x: torch.Tensor,
    masks: np.ndarray | torch.Tensor,
    layer: str,
    *,
    quantile: float = 0.995,
    batch_size: int = 64,
) -> torch.Tensor:
    """Every unit's IoU with one concept given by its pixel masks: Network Dissection for a concept of your own.

    The units' regions are :func:`dissect`'s (each unit's top :math:`1 - q` of activations over ``x``,
    upsampled); the IoU is summed over the dataset as in :func:`dissect`. For a concept the generator does
    not label, e.g. notebook 14's mark (:func:`~cnnviz_helpers.datasets.shortcut.make_shortcut`'s cue masks).

    Args:
        model: a :class:`~cnnviz_helpers.models.loading.KitModel` or ``nn.Module`` (left unchanged).
        x: preprocessed images ``[N, 3, H, W]``.
        masks: ``bool [N, H, W]``, the concept's pixels in each image (all False where it is absent).
        layer: a layer with ``[N, C, h, w]`` outputs.
        quantile: :math:`q` (paper: 0.995).
        batch_size: images per forward pass.

    Returns:
        ``[U]`` float64: each unit's IoU with the masks; above :data:`DETECTOR_IOU` Bau et al. would call it a detector.
    """
    mask = torch.as_tensor(masks).bool()
    if mask.shape != (len(x), *x.shape[-2:]):
        raise ValueError(f"masks {tuple(mask.shape)} must be [N, H, W] for the {len(x)} images of size {tuple(x.shape[-2:])}")
    threshold = _thresholds(model, x, [layer], quantile, batch_size)[layer]
    net, _, _ = unwrap(model)
    inter = active = torch.zeros(len(threshold), dtype=torch.float64)
    with capture(net, layer, detach=True) as acts:
        for start in range(0, len(x), batch_size):
            with torch.inference_mode():
                acts.run(model_input(model, x[start : start + batch_size]))
            region = _upsample(acts[layer].float().cpu(), tuple(x.shape[-2:])) > threshold.cpu().view(1, -1, 1, 1)
            inter = inter + (region & mask[start : start + batch_size, None]).sum((0, 2, 3))
            active = active + region.sum((0, 2, 3))
    union = active + mask.sum() - inter
    return torch.where(union > 0, inter / union.clamp_min(1), 0.0)


def _upsample(a: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Bilinear upsampling of ``[B, U, h, w]`` maps to the image ``size`` (as Bau et al.)."""
    return a if tuple(a.shape[-2:]) == size else F.interpolate(a, size=size, mode="bilinear", align_corners=False)


@dataclass
class TopImages:
    """One unit's most activating images, as Bau et al. draw them.

    Attributes:
        layer, unit: the unit.
        images: ``[k, 3, H, W]`` the images, as given to :func:`top_images` (draw them with ``km.deprocess``).
        indices: ``[k]`` indices of the images in the dissected dataset, strongest first.
        maps: ``[k, H, W]`` the unit's activation maps, upsampled to the image size.
        regions: ``bool [k, H, W]`` where the map exceeds the unit's threshold (outline these).
        concept, category, iou: the unit's label (its best concept) and that IoU.
        dissection: the :class:`Dissection` the unit comes from (its layer's detectors and category shares).
    """

    layer: str
    unit: int
    images: torch.Tensor
    indices: torch.Tensor
    maps: torch.Tensor
    regions: torch.Tensor
    concept: str
    category: str
    iou: float
    dissection: Dissection


def top_images(model: ModelLike, x: torch.Tensor, result: Dissection, layer: str, unit: int, k: int = 8) -> TopImages:
    """The ``k`` images of ``x`` where ``unit`` of ``layer`` fires most (its largest activation), with its regions.

    Args:
        model: the dissected model.
        x: the images it was dissected on (``[N, 3, H, W]``).
        result: what :func:`dissect` returned.
        layer, unit: the unit.
        k: how many images.
    """
    concept, category, iou = result.label(layer, unit)  # checks layer and unit
    strength = result.image_max[layer][:, unit]
    if len(strength) != len(x):
        raise ValueError(f"x has {len(x)} images but the dissection saw {len(strength)}: pass the same images")
    indices = strength.topk(min(k, len(x))).indices
    net, _, _ = unwrap(model)
    with capture(net, layer, detach=True) as acts, torch.inference_mode():
        acts.run(model_input(model, x[indices]))
        maps = _upsample(acts[layer][:, unit : unit + 1].float().cpu(), tuple(x.shape[-2:]))[:, 0]
    regions = maps > result.thresholds[layer][unit]
    return TopImages(layer, unit, x[indices], indices, maps, regions, concept, category, iou, result)


@lru_cache(maxsize=2)
def _shapes_with_concepts(n: int, seed: int) -> tuple[np.ndarray, Concepts]:
    images, _, _, concepts = make_shapes(n, seed, concepts=True)
    return images, concepts


def concept_images(model: ModelLike, n: int = 1000, seed: int = TEST_SEED) -> tuple[torch.Tensor, Concepts]:
    """``n`` ShapesNet images with their concept labels, normalised for ``model``: what :func:`dissect` needs.

    The images are the held-out test images (``seed``) of :func:`~cnnviz_helpers.datasets.shapes.make_shapes`;
    generating them takes about a second per hundred, so the last two sets asked for are kept.

    Raises:
        ValueError: ``model`` is not a ShapesNet. Only the ShapesNet generator knows what it drew;
            photos (ImageNet) come without concept labels (Bau et al. labelled the Broden dataset by hand).
    """
    net, mean, std = unwrap(model)
    if not isinstance(net, ShapesNet):
        raise ValueError(
            f"Network Dissection here needs concept labels, and only ShapesNet's generator draws them: "
            f"{type(net).__name__} sees photos, which have none — dissect load_model('shapesnet')"
        )
    images, concepts = _shapes_with_concepts(n, seed)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1), concepts


#: The last dissections of :func:`dissect_unit`, by model, weights, layer and image count (another unit of the
#: same layer is then only :func:`top_images`: a widget or the explorer stepping through units does not dissect again).
_DISSECTIONS: OrderedDict[tuple, Dissection] = OrderedDict()


def _weights_key(model: ModelLike) -> tuple:
    """The network's identity and the float64 sum of each parameter: a training step changes the key."""
    net, _, _ = unwrap(model)
    with torch.no_grad():
        return (id(net), *(float(p.double().sum()) for p in net.parameters()))


def dissect_unit(model: ModelLike, layer: str, unit: int, *, images: int = 500, k: int = 8) -> TopImages:
    """Dissect ``layer`` over ``images`` concept images (:func:`concept_images`) and return ``unit``'s top ``k`` images.

    The one call behind the registry's "network dissection" entry (the explorer, the notebook's widget). The
    last four dissections are kept: another unit of a layer already dissected, with the same weights and
    image count, costs only its top images.
    """
    x, concepts = concept_images(model, images)
    key = (_weights_key(model), layer, images)
    if key not in _DISSECTIONS:
        _DISSECTIONS[key] = dissect(model, x, concepts, layer)
        while len(_DISSECTIONS) > 4:
            _DISSECTIONS.popitem(last=False)
    _DISSECTIONS.move_to_end(key)
    return top_images(model, x, _DISSECTIONS[key], layer, unit, k)
