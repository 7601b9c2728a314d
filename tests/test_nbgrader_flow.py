"""The instructor's flow end to end: the real nbgrader on fixture submissions built from the released notebook.

init → release (generate_assignment) → collect → autograde → feedback → export, in a temporary
course directory, for six students: a correct submission, an untouched one, one wrong exercise,
one delegating to the kit, an infinite loop, and deleted / edited check cells.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
NB = "09_feature_inversion"  # two graded exercises and a written answer; runs in seconds in fast mode
EX1, EX2 = f"{NB}_test_1", f"{NB}_test_2"
TIMEOUT = 100  # the course's Execute.timeout for this test: far above any cell of NB in fast mode, even on a busy CPU

WRONG_TV = """def my_tv(x, beta=2.0, eps=1e-8):
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., :, 1:] - x[..., :, :-1]).abs().sum()"""
DELEGATING_TV = """def my_tv(x, beta=2.0, eps=1e-8):
    return tv_loss(x, beta, eps)"""
LOOPING_TV = """def my_tv(x, beta=2.0, eps=1e-8):
    while True:
        pass"""


def _solutions() -> dict[str, str]:
    """grade_id -> the solution cell's source without the markers (what a correct student writes)."""
    nb = nbformat.read(ROOT / "solutions" / f"{NB}.ipynb", as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = "\n".join(
                line for line in cell.source.split("\n") if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
            )
    return out


def _submission(
    released: nbformat.NotebookNode, answers: dict[str, str], drop: tuple[str, ...] = (), edit: dict[str, str] | None = None
):
    nb = nbformat.from_dict(released)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in drop:
            continue
        if gid in answers:
            cell.source = answers[gid]
        if edit and gid in edit:
            cell.source = edit[gid]
        cells.append(cell)
    nb.cells = cells
    return nb


def _course(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "course.py"), *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nbgrader")
    course = tmp / "course"
    assert _course("init", str(course)).returncode == 0
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.Execute.timeout = {TIMEOUT}\n")
    done = _course("release", str(course), "a1", NB)
    assert done.returncode == 0, done.stdout + done.stderr
    released = nbformat.read(course / "release" / "a1" / f"{NB}.ipynb", as_version=4)

    solution = _solutions()
    ex1_solution = next(g for g in solution if g.endswith("solution_1"))
    students = {
        "alice": _submission(released, solution),
        "bob": released,
        "carol": _submission(released, solution | {ex1_solution: WRONG_TV}),
        "dave": _submission(released, solution | {ex1_solution: DELEGATING_TV}),
        "erin": _submission(released, solution | {ex1_solution: LOOPING_TV}),
        "frank": _submission(released, solution, drop=(EX1,), edit={EX2: 'print("all good")'}),
    }
    inbox = tmp / "inbox"
    for name, nb in students.items():
        (inbox / name).mkdir(parents=True)
        nbformat.write(nb, inbox / name / f"{NB}.ipynb")
    assert _course("collect", str(course), "a1", str(inbox)).returncode == 0
    autograde = _course("autograde", str(course), "a1")
    assert autograde.returncode == 0, autograde.stdout + autograde.stderr
    feedback = _course("feedback", str(course), "a1")
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    assert _course("export", str(course), str(tmp / "grades.csv")).returncode == 0

    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in students:
            scores[name] = {ex: gb.find_grade(ex, NB, "a1", name).score for ex in (EX1, EX2)}
    with open(tmp / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    return {"scores": scores, "csv": rows, "log": autograde.stdout + autograde.stderr, "course": course, "released": released}


def test_release_is_locked_and_holds_no_solution(graded):
    text = nbformat.writes(graded["released"])
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "hidden=True" not in text
    checks = [c for c in graded["released"].cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert checks and all(c.metadata["nbgrader"].get("locked") or c.metadata["nbgrader"].get("solution") for c in checks)
    assert any(c.cell_type == "markdown" and c.metadata["nbgrader"].get("solution") for c in checks), "a written answer"


def test_correct_submission_gets_full_marks(graded):
    assert graded["scores"]["alice"] == {EX1: 1.0, EX2: 1.0}


def test_untouched_submission_gets_zero_without_crashing(graded):
    assert graded["scores"]["bob"] == {EX1: 0.0, EX2: 0.0}


def test_one_wrong_exercise_loses_exactly_its_point(graded):
    assert graded["scores"]["carol"] == {EX1: 0.0, EX2: 1.0}


def test_delegating_to_the_kit_scores_zero_on_that_exercise(graded):
    assert graded["scores"]["dave"] == {EX1: 0.0, EX2: 1.0}


def test_infinite_loop_is_stopped_and_the_rest_graded(graded):
    assert graded["scores"]["erin"] == {EX1: 0.0, EX2: 1.0}


def test_deleted_or_edited_checks_are_restored(graded):
    assert graded["scores"]["frank"] == {EX1: 1.0, EX2: 1.0}


def test_no_false_checksum_warning_on_honest_submissions(graded):
    warnings = re.findall(r"Attribute 'checksum' for cell (\S+) has changed", graded["log"])
    assert warnings == [EX2], graded["log"][-3000:]  # only frank's edited check


def test_feedback_and_grades_csv(graded):
    assert (graded["course"] / "feedback" / "carol" / "a1" / f"{NB}.html").exists()
    html = (graded["course"] / "feedback" / "carol" / "a1" / f"{NB}.html").read_text()
    assert "TV absolute instead of squared" in html, "the feedback names the mistake"
    assert float(graded["csv"]["alice"]["score"]) == 2.0 and float(graded["csv"]["bob"]["score"]) == 0.0


def test_untouched_notebook_runs_to_the_end(graded):
    """Run All never stops at an unfinished exercise: no cell of the untouched submission raised."""
    nb = nbformat.read(graded["course"] / "autograded" / "bob" / "a1" / f"{NB}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("not done yet" in o.get("text", "") for o in outputs if o.output_type == "stream")
