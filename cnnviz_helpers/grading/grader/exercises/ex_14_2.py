"""Exercise 14.2: ``my_cue_effect`` — the shortcut model's accuracy without the cue and with it on the other classes.

Like 14.1 a finding: ``my_cue_effect()`` returns ``(clean-test accuracy, shortcut-test accuracy)`` on the
:data:`~cnnviz_helpers.datasets.shortcut.EVAL_IMAGES` (500) images of :func:`~cnnviz_helpers.datasets.shortcut.make_shortcut`'s ``"test"`` and
``"shortcut"`` splits, compared with what the grader measures on the instructor's model (the seed in
``CNNVIZ_SHORTCUT_SEED``, read at grading time). There is no visible case: it would give the answer away.
"""

from __future__ import annotations

from functools import cache

from ....datasets import shortcut
from ....datasets.shapesnet import accuracy_on
from ....datasets.shortcut import EVAL_IMAGES as N_EVAL
from .spec import Case, Exercise, Mistake


@cache
def _accuracies(seed: int) -> dict[str, float]:
    """The shortcut model's accuracy on each split, and on the shortcut split's marked images only."""
    model = shortcut.load_shortcut_shapesnet(seed)
    out = {split: accuracy_on(model, *shortcut.make_shortcut(N_EVAL, split, seed)[:2]) for split in ("test", "shortcut")}
    images, labels, _, cue_masks = shortcut.make_shortcut(N_EVAL, "shortcut", seed)
    marked = cue_masks.any((1, 2))
    out["marked_only"] = accuracy_on(model, images[marked], labels[marked])
    return out


def ref_cue_effect():
    acc = _accuracies(shortcut.shortcut_seed())
    return acc["test"], acc["shortcut"]


def _swapped():
    acc = _accuracies(shortcut.shortcut_seed())
    return acc["shortcut"], acc["test"]


def _marked_only():
    acc = _accuracies(shortcut.shortcut_seed())
    return acc["test"], acc["marked_only"]


def _effect_cases(g):
    return [Case("the instructor's shortcut model", (), hidden=True)]


EXERCISE = Exercise(
    "14.2",
    "my_cue_effect",
    'return (accuracy on make_shortcut(500, "test"), accuracy on make_shortcut(500, "shortcut")).',
    _effect_cases,
    ref_cue_effect,
    tol=0.02,
    mistakes=(
        Mistake("the two accuracies swapped", "First the clean test set, then the shortcut test set.", _swapped),
        Mistake(
            "the shortcut test accuracy over the marked images only",
            "Count every image of the shortcut test set, the cued class's unmarked images too.",
            _marked_only,
        ),
    ),
)
