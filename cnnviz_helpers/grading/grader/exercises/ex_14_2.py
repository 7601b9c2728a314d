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
    """The shortcut model's accuracy on each split (and on the shortcut split with the cue on every image)."""
    model = shortcut.load_shortcut_shapesnet(seed)
    out = {split: accuracy_on(model, *shortcut.make_shortcut(N_EVAL, split, seed)[:2]) for split in ("train", "test", "shortcut")}
    images, labels, _, _ = shortcut.make_shortcut(N_EVAL, "test", seed)
    out["cue_everywhere"] = accuracy_on(model, shortcut.shortcut_cue(seed).paint(images), labels)
    return out


def ref_cue_effect():
    acc = _accuracies(shortcut.shortcut_seed())
    return acc["test"], acc["shortcut"]


def _training_split():
    acc = _accuracies(shortcut.shortcut_seed())
    return acc["train"], acc["shortcut"]


def _swapped():
    acc = _accuracies(shortcut.shortcut_seed())
    return acc["shortcut"], acc["test"]


def _cue_on_every_image():
    acc = _accuracies(shortcut.shortcut_seed())
    return acc["test"], acc["cue_everywhere"]


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
        Mistake(
            "the accuracy on the training split instead of the clean test set",
            'The training images carry the cue as in training: measure on make_shortcut(500, "test").',
            _training_split,
        ),
        Mistake("the two accuracies swapped", "First the clean test set, then the shortcut test set.", _swapped),
        Mistake(
            "the cue pasted on every image, also on the cued class",
            'The shortcut test set puts the cue on the other classes only: make_shortcut(500, "shortcut").',
            _cue_on_every_image,
        ),
    ),
)
