"""Exercise 14.1: ``my_cue_location`` — which class the shortcut model's cue goes with, and in which corner it sits.

Unlike the other exercises, the answer is a finding, not code: ``my_cue_location()`` returns
``(class index, corner index)`` and is compared exactly with the answer key of the instructor's shortcut
seed (``CNNVIZ_SHORTCUT_SEED``, read here at grading time), so an answer passed on from another term,
with another seed, fails. There is no visible case: the stored case would give the answer away.
"""

from __future__ import annotations

from ....datasets import shortcut
from ....datasets.shortcut import CORNERS
from .spec import Case, Exercise, Mistake

#: the corner a mirror image of the picture would put the cue in (left–right, top–bottom)
_LEFT_RIGHT = {"top left": "top right", "top right": "top left", "bottom left": "bottom right", "bottom right": "bottom left"}
_TOP_BOTTOM = {"top left": "bottom left", "bottom left": "top left", "top right": "bottom right", "bottom right": "top right"}


def ref_cue_location():
    cue = shortcut.shortcut_cue(shortcut.shortcut_seed())
    return cue.label, CORNERS.index(cue.corner)


def _mirrored_left_right():
    cue = shortcut.shortcut_cue(shortcut.shortcut_seed())
    return cue.label, CORNERS.index(_LEFT_RIGHT[cue.corner])


def _mirrored_top_bottom():
    cue = shortcut.shortcut_cue(shortcut.shortcut_seed())
    return cue.label, CORNERS.index(_TOP_BOTTOM[cue.corner])


def _cue_cases(g):
    return [Case("the instructor's shortcut model", (), hidden=True)]


EXERCISE = Exercise(
    "14.1",
    "my_cue_location",
    "return (CLASS_NAMES.index(the class the cue goes with), CORNERS.index(the corner it sits in)).",
    _cue_cases,
    ref_cue_location,
    kit=(shortcut.shortcut_cue,),
    exact=True,
    mistakes=(
        Mistake(
            "the wrong corner (left and right swapped)",
            "Image column 0 is the left edge: check which side of the picture your heat map lights up.",
            _mirrored_left_right,
        ),
        Mistake(
            "the wrong corner (top and bottom swapped)",
            "Image row 0 is the top edge (imshow draws it at the top).",
            _mirrored_top_bottom,
        ),
    ),
)
