"""Grade the notebooks with nbgrader: one command per step of the instructor's flow.

    python tools/course.py init ~/cnnviz-course                        # course dir + nbgrader_config.py
    python tools/course.py release ~/cnnviz-course a1 05_saliency_and_guided_backprop 10_texture_synthesis
    python tools/course.py collect ~/cnnviz-course a1 ~/Downloads/a1   # <student>/<notebook>.ipynb
    python tools/course.py autograde ~/cnnviz-course a1
    python tools/course.py feedback ~/cnnviz-course a1
    python tools/course.py export ~/cnnviz-course grades.csv         # + a `flags` column
    python tools/course.py report ~/cnnviz-course                      # every flag: student, exercise, reason
    python tools/course.py time-cells [NOTEBOOK ...]                   # slowest cells (sizes Execute.timeout)

The course directory lives outside the repository (it holds the gradebook, student names and
grades); the Makefile wraps each step (`make release COURSE=... ASSIGNMENT=... NOTEBOOKS=...`).
Needs the instructor extra: `pip install -e '.[instructor]'`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from build_notebooks import without_solution_only  # noqa: E402

TEMPLATE = ROOT / "course" / "nbgrader_config.py"


def _course(path: str) -> Path:
    course = Path(path).expanduser().resolve()
    if course == ROOT or ROOT in course.parents:
        sys.exit(f"the course directory must be outside the repository ({ROOT}): it holds student names and grades")
    return course


def nbgrader(course: Path, *args: str, check: bool = True) -> int:
    """Run ``nbgrader ARGS`` in the course directory (where it finds nbgrader_config.py); exit on failure
    unless ``check`` is false (then return its exit status)."""
    if not (course / "nbgrader_config.py").exists():
        sys.exit(f"{course} is not a course directory: run `python tools/course.py init {course}` first")
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        # nbgrader runs `alembic` (its database migrations) from PATH: the environment's own, also when not activated
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env)
    if done.returncode and check:
        sys.exit(done.returncode)
    return done.returncode


def init(course: Path) -> None:
    """Create the course directory with the kit's nbgrader_config.py (kept if it exists)."""
    course.mkdir(parents=True, exist_ok=True)
    config = course / "nbgrader_config.py"
    if config.exists():
        print(f"kept {config}")
    else:
        shutil.copy(TEMPLATE, config)
        print(f"wrote {config}")


def release(course: Path, assignment: str, notebooks: list[str]) -> None:
    """Copy the chosen solution notebooks to source/ASSIGNMENT and generate the locked student versions."""
    source = course / "source" / assignment
    source.mkdir(parents=True, exist_ok=True)
    for name in notebooks:
        path = ROOT / "solutions" / f"{Path(name).stem}.ipynb"
        if not path.exists():
            sys.exit(
                f"no notebook {path.name} in solutions/ (choose from: {', '.join(p.stem for p in sorted((ROOT / 'solutions').glob('*.ipynb')))})"
            )
        # nbgrader clears the solutions; the observations only solutions/ keeps are left out here
        nbformat.write(without_solution_only(nbformat.read(path, as_version=4)), source / path.name)
    nbgrader(course, "generate_assignment", assignment, "--force")
    print(f"hand out {course / 'release' / assignment} (locked notebooks, no solutions, no hidden tests)")


def collect(course: Path, assignment: str, submissions: Path) -> None:
    """Copy ``SUBMISSIONS/<student>/*.ipynb`` into ``submitted/<student>/ASSIGNMENT/``."""
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    for student in students:
        target = course / "submitted" / student.name / assignment
        target.mkdir(parents=True, exist_ok=True)
        for nb in student.glob("*.ipynb"):
            shutil.copy(nb, target / nb.name)
    print(f"collected {len(students)} submission(s) of {assignment}")


def autograde(course: Path, assignment: str, students: list[str]) -> None:
    """nbgrader's autograde (runs the notebooks: outputs for the feedback), then the grader scores every exercise.

    The scores come from :mod:`cnnviz_helpers.grading.grader` (each answer in its own process, on inputs
    drawn now), never from what a student's kernel printed; its flags go to ``COURSE/reports/``.
    """
    only = []
    if students:  # nbgrader takes one --student (a glob): leave out everyone else instead
        submitted = sorted(p.name for p in (course / "submitted").iterdir() if (p / assignment).is_dir())
        others = [s for s in submitted if s not in students]
        only = [f"--CourseDirectory.student_id_exclude={','.join(others)}"] if others else []
    if nbgrader(course, "autograde", assignment, "--create", "--force", *only, check=False):
        print("nbgrader's autograde reported errors (above); the grader scores every submission anyway", file=sys.stderr)
    sys.path.insert(0, str(ROOT))
    from cnnviz_helpers.grading.grader.autograde import grade_assignment

    grade_assignment(course, assignment, students or None)


def _flags(course: Path) -> dict[tuple[str, str], list[str]]:
    """``{(assignment, student): flags}`` from the grader's reports."""
    out = {}
    for path in sorted((course / "reports").glob("*.json")):
        for student, entry in json.loads(path.read_text())["students"].items():
            out[path.stem, student] = entry["flags"]
    return out


def export(course: Path, csv_path: Path) -> None:
    """nbgrader's grades CSV with one more column, ``flags``: each submission's flags (exercise and reason)."""
    nbgrader(course, "export", "--to", str(csv_path))
    flags = _flags(course)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0]) + ["flags"] if rows else ["flags"]
    for row in rows:
        row["flags"] = " | ".join(flags.get((row["assignment"], row["student_id"]), []))
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    flagged = sum(bool(r["flags"]) for r in rows)
    print(f"wrote {csv_path} ({len(rows)} rows, {flagged} with flags)")


def report(course: Path) -> None:
    """Print every flagged submission: assignment, student, exercise and reason."""
    flags = _flags(course)
    for (assignment, student), reasons in flags.items():
        for reason in reasons:
            print(f"{assignment}\t{student}\t{reason}")
    if not any(flags.values()):
        print("no flags")


def time_cells(names: list[str]) -> None:
    """Run solution notebooks and print each one's slowest cell (in the current CNNVIZ_FAST mode)."""
    from nbclient import NotebookClient

    paths = [ROOT / "solutions" / f"{Path(n).stem}.ipynb" for n in names] or sorted((ROOT / "solutions").glob("*.ipynb"))
    slowest = 0.0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=3600, resources={"metadata": {"path": str(ROOT / "solutions")}})
        times: list[tuple[float, int]] = []
        with client.setup_kernel():
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    t0 = time.perf_counter()
                    client.execute_cell(cell, i)
                    times.append((time.perf_counter() - t0, i))
        t, i = max(times)
        slowest = max(slowest, t)
        print(f"{path.stem:40s} slowest cell {i:3d}: {t:6.1f} s   (notebook {sum(s for s, _ in times):6.1f} s)", flush=True)
    print(f"slowest cell overall: {slowest:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("init").add_argument("course")
    p = sub.add_parser("release")
    p.add_argument("course")
    p.add_argument("assignment")
    p.add_argument("notebooks", nargs="+")
    p = sub.add_parser("collect")
    p.add_argument("course")
    p.add_argument("assignment")
    p.add_argument("submissions")
    p = sub.add_parser("autograde")
    p.add_argument("course")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", default=[], help="only this student (repeatable)")
    p = sub.add_parser("feedback")
    p.add_argument("course")
    p.add_argument("assignment")
    sub.add_parser("report").add_argument("course")
    p = sub.add_parser("export")
    p.add_argument("course")
    p.add_argument("csv")
    sub.add_parser("time-cells").add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    if args.step == "time-cells":
        time_cells(args.notebooks)
        return 0
    course = _course(args.course)
    if args.step == "init":
        init(course)
    elif args.step == "release":
        release(course, args.assignment, args.notebooks)
    elif args.step == "collect":
        collect(course, args.assignment, Path(args.submissions).expanduser())
    elif args.step == "autograde":
        autograde(course, args.assignment, args.student)
    elif args.step == "feedback":
        nbgrader(course, "generate_feedback", args.assignment, "--force")
    elif args.step == "export":
        export(course, Path(args.csv).expanduser().resolve())
    elif args.step == "report":
        report(course)
    return 0


if __name__ == "__main__":
    sys.exit(main())
