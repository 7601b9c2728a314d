"""The grade of every exercise, decided by the grader after nbgrader's autograde (``tools/course.py autograde``).

For each submitted notebook of an assignment: every exercise's answer cell (found in the submission
by its nbgrader id) is run by :mod:`.sandbox` in a fresh child process on inputs drawn from a seed
chosen now, the score is written into the gradebook for the exercise's check cell (whatever the
notebook's own cell printed), the check cell's output in the autograded notebook is replaced by the
grader's message (so the feedback never shows a score its message contradicts), and every flag is
recorded in ``COURSE/reports/ASSIGNMENT.json`` for ``tools/course.py export`` and ``report``. The
feedback is in the course's language (``CNNVIZ_LANG`` when grading); the flags in the report stay English.

    python -m cnnviz_helpers.grading.grader.autograde COURSE ASSIGNMENT [--student S ...]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from ...core.i18n import N_, Message, _, english
from .exercises import EXERCISES
from .sandbox import Sandbox, Verdict, flagged, grade_answer, notebook_imports
from .tamper import scan

CHECK = re.compile(r'check\("([0-9a-z.]+)"')
#: the flag every exercise of a notebook gets when one of its other cells tampers with the checks
TAMPERED: Message = (N_("the notebook tampers with its checks (see its flags)"), {})


@dataclass
class Task:
    """One exercise of a notebook: its key, its check cell's id and the answer cells the child runs."""

    key: str
    test_id: str
    answer_ids: list[str]  # the notebook's answer cells up to and including the exercise's own


def _grade_id(cell: Any) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def tasks(source: nbformat.NotebookNode) -> list[Task]:
    """The graded exercises of an instructor's notebook, in order."""
    answers = [
        (_grade_id(c), c.source)
        for c in source.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution") and _grade_id(c)
    ]
    out = []
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        match = CHECK.search(cell.source) if cell.cell_type == "code" and meta.get("grade") else None
        if not match or match.group(1) not in EXERCISES:
            continue
        key = match.group(1)
        own = next(i for i, (_, src) in enumerate(answers) if _defines(src, EXERCISES[key].function))
        out.append(Task(key, meta["grade_id"], [str(gid) for gid, _ in answers[: own + 1]]))
    return out


def _defines(source: str, name: str) -> bool:
    try:
        return any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.parse(source).body)
    except SyntaxError:
        return False


def grade_notebook(
    box: Sandbox, source: nbformat.NotebookNode, submitted: nbformat.NotebookNode, seed: int
) -> tuple[dict[str, Verdict], list[str]]:
    """Every exercise of one submitted notebook: ``({test_id: verdict}, notebook-wide flags)``."""
    preamble = notebook_imports([c.source for c in source.cells if c.cell_type == "code" and not _grade_id(c)])
    by_id = {_grade_id(c): c.source for c in submitted.cells if _grade_id(c)}
    instructor = {c.source for c in source.cells}
    answer_ids = {gid for t in tasks(source) for gid in t.answer_ids}
    notebook_flags = [
        f"cell {i}: {english(reason)}"
        for i, c in enumerate(submitted.cells)
        if c.cell_type == "code" and c.source not in instructor and _grade_id(c) not in answer_ids
        for reason in scan(c.source)
    ]
    verdicts = {}
    for task in tasks(source):
        ex = EXERCISES[task.key]
        cells = [by_id.get(gid, "") for gid in task.answer_ids]
        own = scan(cells[-1])
        verdict = flagged(ex, own) if own else grade_answer(box, ex, cells, preamble, seed)
        if notebook_flags:
            verdict = flagged(ex, verdict.reasons + [TAMPERED], own_code=bool(verdict.reasons))
        verdicts[task.test_id] = verdict
    return verdicts, notebook_flags


def _feedback_output(verdict: Verdict) -> nbformat.NotebookNode:
    """The check cell's only output in the autograded notebook: the grader's own message."""
    score = _("Grader: {score:g} / 1 point.").format(score=verdict.score)
    text = f"{score} {verdict.message}\n"
    return nbformat.v4.new_output("stream", name="stdout" if verdict.score else "stderr", text=text)


def grade_assignment(course: Path, assignment: str, students: list[str] | None = None, seed: int | None = None) -> dict[str, Any]:
    """Grade every submission of ``assignment`` (or only ``students``'); returns and saves the report."""
    from nbgrader.api import Gradebook, MissingEntry

    seed = secrets.randbelow(2**31) if seed is None else seed
    source_dir = course / "source" / assignment
    sources = {p.stem: nbformat.read(p, as_version=4) for p in sorted(source_dir.glob("*.ipynb"))}
    report_path = course / "reports" / f"{assignment}.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.exists() else {"students": {}}
    report["seed"] = seed
    submitted_root = course / "submitted"
    names = students or sorted(p.name for p in submitted_root.iterdir() if (p / assignment).is_dir())
    with Sandbox() as box, Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in names:
            entry: dict[str, Any] = {"exercises": {}, "flags": []}
            for nb_name, source in sources.items():
                path = submitted_root / student / assignment / f"{nb_name}.ipynb"
                if not path.exists():
                    continue
                verdicts, notebook_flags = grade_notebook(box, source, nbformat.read(path, as_version=4), seed)
                entry["flags"] += [f"{nb_name} {flag}" for flag in notebook_flags]
                for test_id, v in verdicts.items():
                    entry["exercises"][f"{nb_name} {v.key}"] = {"score": v.score, "message": v.message, "flags": v.flags}
                    entry["flags"] += [f"{nb_name} exercise {v.key}: {flag}" for flag in v.flags]
                    try:
                        grade = gb.find_grade(test_id, nb_name, assignment, student)
                    except MissingEntry:
                        entry["flags"].append(f"{nb_name}: not in the gradebook (nbgrader's autograde failed on it)")
                        continue
                    grade.auto_score = v.score * grade.max_score
                    gb.db.commit()
                _rewrite_outputs(course / "autograded" / student / assignment / f"{nb_name}.ipynb", verdicts)
            entry["flags"] = list(dict.fromkeys(entry["flags"]))
            report["students"][student] = entry
            print(f"graded {student}: " + ", ".join(f"{k} {e['score']:g}" for k, e in entry["exercises"].items()), flush=True)
    report_path.parent.mkdir(exist_ok=True)
    report_path.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report


def _rewrite_outputs(path: Path, verdicts: dict[str, Verdict]) -> None:
    """Put the grader's message in place of each check cell's output in the autograded notebook."""
    if not path.exists():
        return
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        verdict = verdicts.get(_grade_id(cell) or "")
        if verdict is not None:
            cell.outputs = [_feedback_output(verdict)]
    nbformat.write(nb, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("course", type=Path)
    parser.add_argument("assignment")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    args = parser.parse_args()
    grade_assignment(args.course.expanduser().resolve(), args.assignment, args.student)
    return 0


if __name__ == "__main__":
    sys.exit(main())
