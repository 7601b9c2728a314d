"""The grading package: correct answers pass, every catalogued mistake is named, the kit is out of reach."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch

from cnnviz_helpers.grading import EXERCISES, grade, rel_error
from cnnviz_helpers.grading.make_references import stale

KEYS = sorted(EXERCISES)
MISTAKES = [(key, m) for key in KEYS for m in EXERCISES[key].mistakes]


def _copy(fn):
    """A new function object with ``fn``'s code (so blocking the reference does not block the answer)."""
    return type(fn)(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


def test_references_are_up_to_date():
    assert stale() == [], "run `python -m cnnviz_helpers.grading.make_references` and commit the files"


def test_rel_error_is_cs231n_with_a_scale_floor():
    x = torch.tensor([1.0, 2.0, 0.0])
    assert rel_error(x, x) == 0.0
    assert rel_error(
        torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 2.002], dtype=torch.float64)
    ) == pytest.approx(0.002 / 4.002)
    # an entry that should be 0 off by float32 round-off is judged on the output's scale
    assert rel_error(torch.tensor([1e-9, 1.0]), torch.tensor([0.0, 1.0])) < 1e-6


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("hidden", [False, True])
def test_correct_answer_passes_in_float32(key, hidden):
    result = grade(key, _copy(EXERCISES[key].reference), hidden=hidden, namespace={})
    assert result.passed, result.message


@pytest.mark.parametrize("key, mistake", MISTAKES, ids=[f"{k}-{m.name}" for k, m in MISTAKES])
def test_each_catalogued_mistake_is_named(key, mistake):
    result = grade(key, _copy(mistake.answer), namespace={})
    assert not result.passed
    assert result.mistake == mistake.name and mistake.name in result.message, result.message


@pytest.mark.parametrize("key", KEYS)
def test_unfinished_exercise_is_one_line_and_scores_nothing(key):
    def unfinished(*args):
        raise NotImplementedError()

    result = grade(key, unfinished, namespace={})
    assert not result.passed and result.unfinished
    assert "\n" not in result.message and EXERCISES[key].function in result.message


@pytest.mark.parametrize("key", KEYS)
def test_delegating_to_the_answer_key_scores_nothing(key):
    ex = EXERCISES[key]
    reference = ex.reference

    def delegate(*args):
        return reference(*args)

    result = grade(key, delegate, namespace={})
    assert not result.passed and "your own code" in result.message, result.message
    # the answer key works again afterwards
    assert grade(key, _copy(reference), namespace={}).passed


@pytest.mark.parametrize(
    "key, call",
    [
        ("05.1", "lambda m, x, t: saliency_map(m, x, t)"),
        ("10.1", "lambda f: gram_matrix(f)"),
        ("06.2", "lambda x, p: clip_small_norm(x, p)"),
        ("12.1", "lambda x, eps: F.instance_norm(x, eps=eps)"),
        ("02.1", "lambda f, k: nearest_neighbors(f, k)"),
    ],
)
def test_calling_the_kit_scores_nothing_under_any_name(key, call):
    from torch.nn import functional as F  # noqa: F401

    from cnnviz_helpers.core.regularizers import clip_small_norm  # noqa: F401
    from cnnviz_helpers.last_layer import nearest_neighbors  # noqa: F401
    from cnnviz_helpers.saliency import saliency_map  # noqa: F401
    from cnnviz_helpers.texture_synthesis import gram_matrix  # noqa: F401

    namespace = dict(locals())
    answer = eval(call, namespace)  # noqa: S307
    result = grade(key, answer, namespace=namespace)
    assert not result.passed and "your own code" in result.message, result.message
    for fn in EXERCISES[key].kit:
        assert inspect.unwrap(fn).__code__.co_name != "_blocked"


def test_style_loss_check_uses_a_correct_gram_not_the_students():
    ns = {"my_gram_matrix": lambda f: torch.zeros(1)}  # a broken Gram from exercise 10.1
    loss = EXERCISES["10.2"].reference

    def my_style_loss(features, targets, weights):
        return sum(w * (ns["my_gram_matrix"](f) - a).pow(2).sum() for f, a, w in zip(features, targets, weights))

    assert grade("10.2", my_style_loss, namespace=ns).passed
    assert ns["my_gram_matrix"](torch.ones(2)).shape == (1,), "the student's own Gram is back afterwards"
    assert loss is EXERCISES["10.2"].reference


def test_an_error_in_the_answer_is_feedback_not_a_crash():
    result = grade("10.1", lambda f: f.reshape(-1) @ f, namespace={})
    assert not result.passed and "raised RuntimeError" in result.message


#: notebooks with fewer than two graded code exercises: setup, the summary (no method of its own), and
#: 07b (added late; one exercise so far)
MINIMUM_EXERCISES = {"00_setup": 1, "07b_adversarial_defences": 1, "13_summary": 0}
NOTEBOOKS = sorted(
    (Path(__file__).resolve().parents[1] / "solutions").glob("[0-9]*.ipynb")
)  # the lecture notebooks (not the explorer app)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_graded_exercises_and_a_written_question(path):
    """≥ 2 graded code exercises (except MINIMUM_EXERCISES), ≥ 1 written answer, valid nbgrader cells, no empty cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    tests = [c for c, m in zip(nb.cells, meta) if m and m["grade"] and c.cell_type == "code"]
    answers = [c for c, m in zip(nb.cells, meta) if m and m["grade"] and m["solution"] and c.cell_type == "markdown"]
    assert len(tests) >= MINIMUM_EXERCISES.get(path.stem, 2)
    assert answers and all(m.get("points", 0) > 0 for m in meta if m and m["grade"])
    assert all(c.source.strip() for c in nb.cells), "empty cell"
    keys = [m.group(1) for c in tests for m in [re.search(r'check\("([0-9a-z.]+)"', c.source)] if m]
    assert len(keys) == len(tests) and set(keys) <= set(EXERCISES), keys
    nbgrader_format = pytest.importorskip("nbgrader.nbgraderformat")
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            nbgrader_format.MetadataValidator().validate_cell(cell)


def test_every_exercise_is_checked_in_its_notebook():
    text = "".join(p.read_text() for p in NOTEBOOKS)
    assert all(f'check(\\"{key}\\"' in text for key in EXERCISES)
