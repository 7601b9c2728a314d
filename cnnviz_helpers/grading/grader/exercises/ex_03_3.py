"""Exercise 03.3: ``my_unit_patch`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

from .... import patches
from ._common import _m, _normalised
from .spec import Case, Exercise


def _patch(image, top, left, size):
    """The ``size`` x ``size`` crop of ``image`` whose top-left pixel is ``(top, left)``, zero outside the image."""
    _, H, W = image.shape
    out = image.new_zeros(image.shape[0], size, size)
    r0, c0, r1, c1 = max(top, 0), max(left, 0), min(top + size, H), min(left + size, W)  # the box inside the image
    if r1 > r0 and c1 > c0:
        out[:, r0 - top : r1 - top, c0 - left : c1 - left] = image[:, r0:r1, c0:c1]
    return out


def ref_unit_patch(image, row, col, field):
    size, stride, start = field
    return _patch(image, start + row * stride, start + col * stride, size)


def _patch_no_start(image, row, col, field):
    size, stride, _ = field
    return _patch(image, row * stride, col * stride, size)


def _patch_no_stride(image, row, col, field):
    size, _, start = field
    return _patch(image, start + row, start + col, size)


def _patch_swapped(image, row, col, field):
    size, stride, start = field
    return _patch(image, start + col * stride, start + row * stride, size)


def _patch_clipped(image, row, col, field):
    size, stride, start = field
    top, left = start + row * stride, start + col * stride
    return image[:, max(top, 0) : top + size, max(left, 0) : left + size]


def _patch_inclusive(image, row, col, field):
    size, stride, start = field
    return _patch(image, start + row * stride, start + col * stride, size + 1)


def _patch_cases(g):
    return [
        Case("unit (2, 3), field 7 px, stride 2, start -1", (_normalised(g, 1, 3, 16, 16)[0], 2, 3, (7, 2, -1))),
        Case("unit (0, 1): the field starts above the image", (_normalised(g, 1, 3, 20, 20)[0], 0, 1, (11, 4, -3))),
        Case("unit (3, 4) at the bottom-right corner, 12x14", (_normalised(g, 1, 3, 12, 14)[0], 3, 4, (9, 3, -4)), hidden=True),
        Case("unit (1, 2), field 5 px, stride 4, start 0", (_normalised(g, 1, 3, 18, 22)[0], 1, 2, (5, 4, 0)), hidden=True),
    ]


EXERCISE = Exercise(
    "03.3",
    "my_unit_patch",
    "top = start + row*stride, left = start + col*stride; copy the size x size box, zeros where it leaves the image.",
    _patch_cases,
    ref_unit_patch,
    kit=(patches.max_activating_patches,),
    mistakes=(
        _m(
            "start (padding offset) ignored",
            "The box of unit (i, j) begins at start + i*stride: start is negative with padding.",
            _patch_no_start,
        ),
        _m("stride (jump) ignored", "Neighbouring units are `stride` pixels apart: top = start + row*stride.", _patch_no_stride),
        _m(
            "row and column swapped",
            "The row index moves the box down (the image's dim 1), the column index right.",
            _patch_swapped,
        ),
        _m(
            "clipped at the border instead of zero-padded",
            "Where the field leaves the image, keep the patch size x size and fill zeros (the padding the layer saw).",
            _patch_clipped,
        ),
        _m(
            "off by one: the box has size + 1 pixels",
            "Python slices exclude the end: image[:, top : top + size].",
            _patch_inclusive,
        ),
    ),
)
