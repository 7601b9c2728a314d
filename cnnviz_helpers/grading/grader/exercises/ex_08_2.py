"""Exercise 08.2: ``my_octave_sizes`` — its cases, correct answer, classic mistakes and the kit functions it blocks."""

from __future__ import annotations

import torch

from .... import deepdream
from ._common import _m
from .spec import Case, Exercise


def ref_octave_sizes(height, width, octaves, scale, min_size):
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in range(octaves)]
    return [s for s in sizes if min(s) >= min_size][::-1]


def _octaves_largest_first(height, width, octaves, scale, min_size):
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in range(octaves)]
    return [s for s in sizes if min(s) >= min_size]


def _octaves_unfiltered(height, width, octaves, scale, min_size):
    return [(round(height / scale**k), round(width / scale**k)) for k in range(octaves)][::-1]


def _octave_cases(g):
    def case(i):
        h, w = (int(v) for v in torch.randint(32, 600, (2,), generator=g))
        n = int(torch.randint(2, 7, (1,), generator=g))
        s = round(1.2 + 0.8 * float(torch.rand(1, generator=g, dtype=torch.float64)), 3)
        return Case(f"{h}x{w}, {n} octaves of {s}", (h, w, n, s, 24), hidden=i >= 6)

    return [Case("224x224, 4 octaves of 1.4", (224, 224, 4, 1.4, 32))] + [case(i) for i in range(20)]


EXERCISE = Exercise(
    "08.2",
    "my_octave_sizes",
    "sizes round(h/scale**k), round(w/scale**k), drop those below min_size, smallest first.",
    _octave_cases,
    ref_octave_sizes,
    kit=(deepdream.octave_sizes,),
    exact=True,
    mistakes=(
        _m("largest octave first", "DeepDream starts on the smallest image: reverse the list.", _octaves_largest_first),
        _m("octaves below min_size kept", "Leave out the sizes whose shorter side is below min_size.", _octaves_unfiltered),
    ),
)
