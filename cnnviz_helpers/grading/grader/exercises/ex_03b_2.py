"""Exercise 03b.2: ``my_concept_iou`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import dissection
from ._common import _m, _rand
from .spec import Case, Exercise


def ref_concept_iou(maps, threshold, masks):
    region = (maps > threshold).to(masks.dtype)[:, None]  # [N, 1, H, W]
    inter = (region * masks).sum((0, 2, 3))
    union = (region + masks - region * masks).sum((0, 2, 3))
    return inter / union


def _iou_per_image_mean(maps, threshold, masks):
    region = (maps > threshold).to(masks.dtype)[:, None]
    inter = (region * masks).sum((2, 3))
    union = (region + masks - region * masks).sum((2, 3))
    return (inter / union.clamp_min(1)).mean(0)


def _share_of_concept(maps, threshold, masks):
    region = (maps > threshold).to(masks.dtype)[:, None]
    return (region * masks).sum((0, 2, 3)) / masks.sum((0, 2, 3))


def _union_without_overlap(maps, threshold, masks):
    region = (maps > threshold).to(masks.dtype)[:, None]
    return (region * masks).sum((0, 2, 3)) / (region + masks).sum((0, 2, 3))


def _iou_cases(g):
    def case(label, n, k, h, w, hidden=False):
        maps = _rand(g, n, h, w) ** 2
        threshold = maps.flatten().quantile(0.8)
        masks = (_rand(g, n, k, h, w) > 0.7).to(torch.float64)
        masks[:, 0] = (maps > maps.flatten().quantile(0.75)).to(torch.float64)  # a concept the unit detects
        return Case(label, (maps, threshold, masks), hidden)

    return [case("5 maps 8x8, 4 concepts", 5, 4, 8, 8), case("3 maps 6x9, 5 concepts", 3, 5, 6, 9, hidden=True)]


EXERCISE = Exercise(
    "03b.2",
    "my_concept_iou",
    "region = maps > threshold; per concept, the intersection and union summed over every image and pixel, then divided.",
    _iou_cases,
    ref_concept_iou,
    kit=(dissection.dissect,),
    mistakes=(
        _m(
            "IoU of each image averaged, instead of summed over the dataset",
            "Bau et al. sum the intersections and the unions over all images first, then divide once.",
            _iou_per_image_mean,
        ),
        _m(
            "intersection over the concept's area instead of over the union",
            "Divide by the union: the region's pixels plus the concept's pixels minus the overlap.",
            _share_of_concept,
        ),
        _m(
            "union counted as the sum of both areas",
            "Subtract the intersection once: |M ∪ L| = |M| + |L| − |M ∩ L|.",
            _union_without_overlap,
        ),
    ),
)
