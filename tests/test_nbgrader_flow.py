"""The instructor's flow end to end: the real nbgrader on fixture submissions built from the released notebook.

init → release (generate_assignment) → collect → autograde → feedback → export → report, in a
temporary course directory: a correct two-notebook submission (timed), an untouched one, one wrong
exercise, one delegating to the kit, a runaway that swallows KeyboardInterrupt, deleted / edited
check cells, and every trick of issue #19 (each must score 0 and be flagged with its own reason).

Each submission is a notebook nbgrader runs in a kernel of its own (seconds each), so tricks that cannot
interfere share one: an answer trick on each of NB's two exercises (the one on exercise 2 is seen only
when exercise 2 is graded; the one on exercise 1 is inert there, so each exercise's flags are its own
trick's), and the tricks outside the answer cells, each in a cell of its own, together (each cell is
read on its own and flagged with its own reason; any of them costs every exercise of the notebook).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parents[1]
NB = "09_feature_inversion"  # two graded exercises and a written answer; runs in seconds in fast mode
NB2 = "10_texture_synthesis"  # the honest student hands in two notebooks (one submission, timed)
EX1, EX2 = f"{NB}_test_1", f"{NB}_test_2"
SOLUTION = {1: f"{NB}_solution_1", 2: f"{NB}_solution_2"}  # the answer cells of NB's exercises 09.1 and 09.2
TIMEOUT = 30  # the course's Execute.timeout for this test: far above any cell of NB in fast mode, even on a busy CPU

WRONG_TV = """def my_tv(x, beta=2.0, eps=1e-8):
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., :, 1:] - x[..., :, :-1]).abs().sum()"""
DELEGATING_TV = """def my_tv(x, beta=2.0, eps=1e-8):
    return tv_loss(x, beta, eps)"""
#: a runaway that nbgrader's interrupt cannot stop
LOOPING_TV = """def my_tv(x, beta=2.0, eps=1e-8):
    while True:
        try:
            pass
        except KeyboardInterrupt:
            pass"""
NO_ANSWER = """def my_tv(x, beta=2.0, eps=1e-8):
    raise NotImplementedError()"""


@dataclass(frozen=True)
class Trick:
    """A trick of issue #19: the answer it hands in for exercise ``exercise`` of NB (``None``: the exercise left
    as released), or a ``cell`` of its own inserted before exercise 1's answer, and the reason it is flagged for."""

    flag: str
    exercise: int | None = None
    answer: str | None = None
    cell: str | None = None


#: the tricks of issue #19 (an answer trick on exercise 2 runs when its answer cell runs: it is also seen when
#: a later exercise is graded, so it is only ever NB's last exercise)
TRICKS = {
    "getsource": Trick(
        "ran or read code at run time (inspect.getsource)",
        1,
        "import inspect\nexec(inspect.getsource(tv_loss).replace('def tv_loss', 'def my_tv'))",
    ),
    "reload": Trick(
        "ran or read code at run time (importlib.reload)",
        1,
        "import importlib\nimport cnnviz_helpers.core.regularizers as r\nmy_tv = importlib.reload(r).tv_loss",
    ),
    "sys_modules": Trick(
        "called the kit's cnnviz_helpers.core.regularizers:tv_loss",
        1,
        "import sys\ndef my_tv(x, beta=2.0, eps=1e-8):\n    return sys.modules['cnnviz_helpers.core.regularizers'].tv_loss(x, beta, eps)",
    ),
    "private_catalogue": Trick(
        "imported cnnviz_helpers.grading.grader.exercises.ex_09_2.ref_inversion_loss",
        2,
        "from cnnviz_helpers.grading.grader.exercises.ex_09_2 import ref_inversion_loss as my_inversion_loss",
    ),
    "captum": Trick(
        "imported captum.attr",
        2,
        "def my_inversion_loss(features, target, image, tv_weight):\n    from captum.attr import Saliency\n    return Saliency",
    ),
    "references": Trick(
        "read the grader's file 09.2.pt",
        2,
        "import os, torch, cnnviz_helpers\n"
        "STORED = torch.load(os.path.join(os.path.dirname(cnnviz_helpers.__file__), 'grading', 'references', '09.2.pt'))\n"
        "def my_inversion_loss(features, target, image, tv_weight):\n    return STORED['cases'][0]['expected']",
    ),
    "code_swap": Trick(
        "used a function's __code__",
        1,
        "def my_tv(x, beta=2.0, eps=1e-8):\n    my_tv.__code__ = SAVED\n    return my_tv(x, beta, eps)",
        "SAVED = tv_loss.__code__",
    ),
    "patch_grade": Trick(
        "changed runner.grade",
        cell="from cnnviz_helpers.grading import runner\nrunner.grade = lambda *a, **k: runner.Result('x', True, 'ok')",
    ),
    "tolerance": Trick(
        "changed an attribute tol",
        cell="from cnnviz_helpers.grading.grader.exercises import EXERCISES\nfor ex in EXERCISES.values():\n"
        "    object.__setattr__(ex, 'tol', float('inf'))",
    ),
    "stderr": Trick("replaced sys.stderr", cell="import sys\nsys.stderr = sys.stdout"),
}
#: submissions that each hand in several tricks of TRICKS (at most one answer per exercise)
TRICKSTERS = {
    "trickster1": ("getsource", "private_catalogue"),
    "trickster2": ("reload", "references"),
    "trickster3": ("sys_modules", "captum"),
    "tamperer": ("code_swap", "patch_grade", "tolerance", "stderr"),  # exercise 2 answered correctly
}
#: 10.2 through the kit's helper that style_loss is built on (style_loss is the sum of gram_losses)
PRIVATE_HELPER = """from cnnviz_helpers.texture_synthesis import gram_losses

def my_style_loss(features, targets, weights):
    return sum(gram_losses(features, targets, weights, True))"""


def _solutions(name: str) -> dict[str, str]:
    """grade_id -> the solution cell's source without the markers (what a correct student writes)."""
    nb = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = "\n".join(
                line for line in cell.source.split("\n") if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
            )
    return out


def _submission(
    released: nbformat.NotebookNode,
    answers: dict[str, str],
    drop: tuple[str, ...] = (),
    edit: dict[str, str] | None = None,
    before: tuple[str, list[str]] | None = None,
):
    """The released notebook with ``answers`` (by grade id), ``drop``ped and ``edit``ed cells, and new
    cells ``before[1]`` inserted before the cell with grade id ``before[0]``."""
    nb = nbformat.from_dict(released)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in drop:
            continue
        if before and gid == before[0]:
            cells += [nbformat.v4.new_code_cell(source) for source in before[1]]
        if gid in answers:
            cell.source = answers[gid]
        if edit and gid in edit:
            cell.source = edit[gid]
        cells.append(cell)
    nb.cells = cells
    return nb


def _trickster(released: nbformat.NotebookNode, solution: dict[str, str], tricks: tuple[str, ...]) -> nbformat.NotebookNode:
    """NB with ``tricks`` handed in together: their answers, their cells before exercise 1's answer."""
    answers = {SOLUTION[TRICKS[t].exercise]: TRICKS[t].answer for t in tricks if TRICKS[t].answer}
    assert len(answers) == len([t for t in tricks if TRICKS[t].answer]), "one answer per exercise"
    cells = [TRICKS[t].cell for t in tricks if TRICKS[t].cell]
    return _submission(released, solution | answers, before=(SOLUTION[1], cells) if cells else None)


def _expected_flag(nb: nbformat.NotebookNode, trick: Trick) -> str:
    """The line of the grades CSV's ``flags`` that names ``trick``: its own cell's index, or its exercise."""
    if trick.cell:
        return f"{NB} cell {next(i for i, c in enumerate(nb.cells) if c.source == trick.cell)}: {trick.flag}"
    return f"{NB} exercise 09.{trick.exercise}: {trick.flag}"


def _children_cpu() -> float:
    """CPU seconds used so far by this process's finished children (and theirs: nbgrader, kernels, the grader)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _course(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "course.py"), *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nbgrader")
    course = tmp / "course"
    assert _course("init", str(course)).returncode == 0
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.Execute.timeout = {TIMEOUT}\n")
    done = _course("release", str(course), "a1", NB, NB2)
    assert done.returncode == 0, done.stdout + done.stderr
    released = nbformat.read(course / "release" / "a1" / f"{NB}.ipynb", as_version=4)
    released2 = nbformat.read(course / "release" / "a1" / f"{NB2}.ipynb", as_version=4)

    solution, solution2 = _solutions(NB), _solutions(NB2)
    ex2_solution2 = next(g for g in solution2 if g.endswith("solution_2"))
    students = {
        "alice": _submission(released, solution),
        "bob": released,
        "carol": _submission(released, solution | {SOLUTION[1]: WRONG_TV}),
        "dave": _submission(released, solution | {SOLUTION[1]: DELEGATING_TV}),
        "erin": _submission(released, solution | {SOLUTION[1]: LOOPING_TV}),
        "frank": _submission(released, solution, drop=(EX1,), edit={EX2: 'print("all good")'}),
    }
    for name, tricks in TRICKSTERS.items():
        students[name] = _trickster(released, solution, tricks)
    inbox = tmp / "inbox"
    for name, nb in students.items():
        (inbox / name).mkdir(parents=True)
        nbformat.write(nb, inbox / name / f"{NB}.ipynb")
    nbformat.write(_submission(released2, solution2), inbox / "alice" / f"{NB2}.ipynb")
    (inbox / "helper").mkdir()
    nbformat.write(_submission(released2, solution2 | {ex2_solution2: PRIVATE_HELPER}), inbox / "helper" / f"{NB2}.ipynb")
    assert _course("collect", str(course), "a1", str(inbox)).returncode == 0

    start, cpu = time.perf_counter(), _children_cpu()
    one = _course("autograde", str(course), "a1", "--student", "alice")
    alice_seconds, alice_cpu = time.perf_counter() - start, _children_cpu() - cpu
    assert one.returncode == 0, one.stdout + one.stderr
    others = [f"--student={name}" for name in [*students, "helper"] if name != "alice"]  # alice is graded already
    autograde = _course("autograde", str(course), "a1", *others)
    assert autograde.returncode == 0, autograde.stdout + autograde.stderr
    feedback = _course("feedback", str(course), "a1")
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    assert _course("export", str(course), str(tmp / "grades.csv")).returncode == 0
    report = _course("report", str(course))

    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in [*students, "helper"]:
            nb, ids = (NB2, (f"{NB2}_test_1", f"{NB2}_test_2")) if name == "helper" else (NB, (EX1, EX2))
            scores[name] = {ex: gb.find_grade(ex, nb, "a1", name).score for ex in ids}
        scores["alice2"] = {ex: gb.find_grade(ex, NB2, "a1", "alice").score for ex in (f"{NB2}_test_1", f"{NB2}_test_2")}
    with open(tmp / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    return {
        "scores": scores,
        "csv": rows,
        "exercises": {s: e["exercises"] for s, e in json.loads((course / "reports" / "a1.json").read_text())["students"].items()},
        "submissions": students,
        "log": autograde.stdout + autograde.stderr,
        "course": course,
        "released": released,
        "alice_seconds": alice_seconds,
        "alice_cpu": alice_cpu,
        "report": report.stdout,
    }


def test_release_is_locked_and_holds_no_solution(graded):
    text = nbformat.writes(graded["released"])
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "hidden=True" not in text
    checks = [c for c in graded["released"].cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert checks and all(c.metadata["nbgrader"].get("locked") or c.metadata["nbgrader"].get("solution") for c in checks)
    assert any(c.cell_type == "markdown" and c.metadata["nbgrader"].get("solution") for c in checks), "a written answer"


def test_correct_submission_gets_full_marks(graded):
    assert graded["scores"]["alice"] == {EX1: 1.0, EX2: 1.0}
    assert graded["scores"]["alice2"] == {f"{NB2}_test_1": 1.0, f"{NB2}_test_2": 1.0}
    assert not graded["csv"]["alice"]["flags"]


def test_one_two_notebook_submission_is_graded_within_a_minute(graded):
    """nbgrader's run of both notebooks and the grader together: under a minute of CPU time (the wall time on an
    idle machine; the test machine may be shared, so its wall time is only printed)."""
    print(f"alice: {graded['alice_seconds']:.0f} s wall, {graded['alice_cpu']:.0f} s CPU")
    assert graded["alice_cpu"] < 60, graded


def test_every_trick_is_handed_in_exactly_once():
    handed_in = [t for tricks in TRICKSTERS.values() for t in tricks]
    assert sorted(handed_in) == sorted(TRICKS)
    for tricks in TRICKSTERS.values():  # a cell trick costs every exercise: it would hide an answer trick's zero
        assert len({bool(TRICKS[t].cell) for t in tricks}) == 1, tricks


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_each_trick_scores_zero_and_is_flagged(graded, trick):
    """Its exercise (a trick outside the answer cells: every exercise of the notebook) scores 0, and the grades
    CSV and the report name the trick's own cell or exercise with its own reason."""
    student = next(s for s, tricks in TRICKSTERS.items() if trick in tricks)
    t = TRICKS[trick]
    zeroed = (EX1, EX2) if t.cell else (f"{NB}_test_{t.exercise}",)
    assert all(graded["scores"][student][ex] == 0.0 for ex in zeroed), graded["scores"][student]
    line = _expected_flag(graded["submissions"][student], t)
    assert line in graded["csv"][student]["flags"].split(" | "), graded["csv"][student]["flags"]
    assert f"a1\t{student}\t{line}" in graded["report"].splitlines()


@pytest.mark.parametrize("student", [s for s, tricks in TRICKSTERS.items() if not any(TRICKS[t].cell for t in tricks)])
def test_tricks_handed_in_together_are_flagged_only_on_their_own_exercise(graded, student):
    """Each exercise's flags are its own trick's: the trick on exercise 1 is not what zeroes exercise 2."""
    exercises = graded["exercises"][student]
    for trick in TRICKSTERS[student]:
        t = TRICKS[trick]
        own, other = exercises[f"{NB} 09.{t.exercise}"], exercises[f"{NB} 09.{3 - t.exercise}"]
        assert own["score"] == 0.0 and t.flag in own["flags"], own
        assert t.flag not in other["flags"], other


def test_the_kits_private_helper_scores_zero_and_is_flagged(graded):
    assert graded["scores"]["helper"] == {f"{NB2}_test_1": 1.0, f"{NB2}_test_2": 0.0}
    assert "10.2: called the kit's cnnviz_helpers.texture_synthesis:gram_losses" in graded["csv"]["helper"]["flags"], graded[
        "csv"
    ]["helper"]


def test_feedback_never_contradicts_its_score(graded):
    """The stderr trick (with the kernel's check passing exercise 1: its code is the kit's): the check cell shows
    the grader's verdict, not the kernel's "Score 1.0" or "not done"."""
    html = (graded["course"] / "feedback" / "tamperer" / "a1" / f"{NB}.html").read_text()
    assert "Grader: 0 / 1 point" in html and "Grader: 1 / 1" not in html.split(EX1)[0]
    nb = nbformat.read(graded["course"] / "autograded" / "tamperer" / "a1" / f"{NB}.ipynb", as_version=4)
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == EX1)
    assert [o.text.split(".")[0] for o in check.outputs] == ["Grader: 0 / 1 point"]


def test_untouched_submission_gets_zero_without_crashing(graded):
    assert graded["scores"]["bob"] == {EX1: 0.0, EX2: 0.0}


def test_one_wrong_exercise_loses_exactly_its_point(graded):
    assert graded["scores"]["carol"] == {EX1: 0.0, EX2: 1.0}


def test_delegating_to_the_kit_scores_zero_on_that_exercise(graded):
    assert graded["scores"]["dave"] == {EX1: 0.0, EX2: 1.0}


def test_runaway_that_swallows_interrupts_costs_only_its_own_point(graded):
    assert graded["scores"]["erin"] == {EX1: 0.0, EX2: 1.0}
    assert float(graded["csv"]["erin"]["score"]) == 1.0


def test_deleted_or_edited_checks_are_restored(graded):
    assert graded["scores"]["frank"] == {EX1: 1.0, EX2: 1.0}


def test_no_false_checksum_warning_on_honest_submissions(graded):
    warnings = re.findall(r"Attribute 'checksum' for cell (\S+) has changed", graded["log"])
    assert warnings == [EX2], graded["log"][-3000:]  # only frank's edited check (alice's timed run is not in this log)


def test_feedback_and_grades_csv(graded):
    assert (graded["course"] / "feedback" / "carol" / "a1" / f"{NB}.html").exists()
    html = (graded["course"] / "feedback" / "carol" / "a1" / f"{NB}.html").read_text()
    assert "TV absolute instead of squared" in html, "the feedback names the mistake"
    assert float(graded["csv"]["alice"]["score"]) == 4.0 and float(graded["csv"]["bob"]["score"]) == 0.0


def test_untouched_notebook_runs_to_the_end(graded):
    """Run All never stops at an unfinished exercise: no cell of the untouched submission raised."""
    nb = nbformat.read(graded["course"] / "autograded" / "bob" / "a1" / f"{NB}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("not done yet" in o.get("text", "") for o in outputs if o.output_type == "stream")


def test_grades_come_from_the_grader_not_the_kernel(graded):
    """Each check cell of the autograded notebook holds the grader's verdict, and the gradebook its score."""
    nb = nbformat.read(graded["course"] / "autograded" / "carol" / "a1" / f"{NB}.ipynb", as_version=4)
    texts = [c.outputs[0].text for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in (EX1, EX2)]
    assert texts[0].startswith("Grader: 0 / 1 point") and "drawn at grading time" in texts[1]
