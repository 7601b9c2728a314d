"""Generate the student notebooks in ``notebooks/`` from the sources in ``solutions/``.

``solutions/*.ipynb`` are the only notebooks anyone edits. They use nbgrader's markers:

- ``### BEGIN SOLUTION`` / ``### END SOLUTION`` in a code cell: the lines between become
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` (in a markdown cell: ``YOUR ANSWER HERE``);
- ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``: removed from the student version;
- a code cell whose first line starts with ``# Self-check`` is an autograded test cell (1 point);
- a markdown cell with a solution is a manually graded written answer (1 point; nbgrader's "manually
  graded answer": ``solution`` and ``grade`` both true); its answer stays in solutions/ only.

Empty cells are dropped.

The build also normalises the sources: outputs and execution counts are cleared, nbgrader cell
metadata is set from the markers (so ``nbgrader generate_assignment`` / ``autograde`` work on them),
and slide metadata for RISE / jupyterlab_rise is stamped from the headings (:func:`slide_type`), so
every notebook presents as slides without hand edits. ``explorer.ipynb`` (the live app) is built like
the lecture notebooks.

    python tools/build_notebooks.py          # write notebooks/ (and normalise solutions/)
    python tools/build_notebooks.py --check  # exit 1 if anything is out of date (used by the tests)
    python tools/build_notebooks.py 04_occlusion   # just one notebook
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, NOTEBOOKS = ROOT / "solutions", ROOT / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

#: Where a notebook opened outside a checkout (Colab, a hub without the kit) installs the kit from: any
#: `pip install` argument (a git URL, a wheel URL). Change it for your copy of the kit, then `make notebooks`.
KIT_SOURCE = "cnnviz @ git+https://github.com/cnnviz/cnnviz.git"
_INSTALL_MARK = "# Install the course kit"
INSTALL_CELL = f"""{_INSTALL_MARK} where it is missing (Colab, a fresh Jupyter); does nothing where it is installed (`make lab`).
import importlib.util, subprocess, sys

if importlib.util.find_spec("cnnviz_helpers") is None:
    print("installing the cnnviz course kit (about a minute) …")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {KIT_SOURCE!r}], check=True)
    importlib.invalidate_caches()"""

_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[^\n]*\n?", re.M | re.S)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def _nbgrader_meta(kind: str, grade_id: str) -> dict:
    base = {"schema_version": 3, "task": False, "grade_id": grade_id}
    if kind == "solution":
        return base | {"solution": True, "grade": False, "locked": False}
    if kind == "answer":  # a written answer, graded by hand (nbgrader rejects ungraded markdown solutions)
        return base | {"solution": True, "grade": True, "locked": False, "points": 1}
    if kind == "test":
        return base | {"solution": False, "grade": True, "locked": True, "points": 1}
    return base | {"solution": False, "grade": False, "locked": False}


def slide_type(cell: nbformat.NotebookNode) -> str | None:
    """RISE / jupyterlab_rise slide type from a simple rule: a markdown cell opening with a ``#`` or ``##``
    heading starts a slide, one opening with ``###`` a sub-slide; other cells continue the slide (no metadata).
    A written answer (``### BEGIN SOLUTION``, not a heading) continues its question's slide."""
    if cell.cell_type != "markdown" or cell.source.lstrip().startswith("### BEGIN SOLUTION"):
        return None
    first = cell.source.lstrip().split("\n", 1)[0]
    if first.startswith(("# ", "## ")):
        return "slide"
    return "subslide" if first.startswith("### ") else None


def normalise(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """Clear outputs, set the kernel, slide metadata (:func:`slide_type`) and nbgrader metadata on marked
    cells (in place; returns ``nb``)."""
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    counts = {"solution": 0, "test": 0, "answer": 0}
    nb.cells = [cell for cell in nb.cells if cell.source.strip()]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        slide = slide_type(cell)
        if slide:
            cell.metadata["slideshow"] = {"slide_type": slide}
        else:
            cell.metadata.pop("slideshow", None)
        src = cell.source
        if "### BEGIN SOLUTION" in src:
            kind = "answer" if cell.cell_type == "markdown" else "solution"
        elif cell.cell_type == "code" and (src.lstrip().startswith("# Self-check") or "### BEGIN HIDDEN TESTS" in src):
            kind = "test"
        else:
            cell.metadata.pop("nbgrader", None)
            continue
        counts[kind] += 1
        old = cell.metadata.get("nbgrader", {})
        grade_id = old.get("grade_id") or f"{stem}_{kind}_{counts[kind]}"
        cell.metadata["nbgrader"] = _nbgrader_meta(kind, grade_id) | (
            {"points": old["points"]} if kind in ("test", "answer") and "points" in old else {}
        )
    return nb


def stamp_install_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make the first code cell :data:`INSTALL_CELL` (updated in place when present, else inserted); returns ``nb``."""
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    if first < len(nb.cells) and nb.cells[first].source.startswith(_INSTALL_MARK):
        nb.cells[first].source = INSTALL_CELL
    else:
        nb.cells.insert(first, nbformat.v4.new_code_cell(INSTALL_CELL, id="install-kit"))
    return nb


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Solutions replaced by placeholders, hidden tests removed."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source = _SOLUTION.sub("YOUR ANSWER HERE\n", cell.source)
        else:
            cell.source = _SOLUTION.sub(lambda m: f"{m[1]}# YOUR CODE HERE\n{m[1]}raise NotImplementedError()\n", cell.source)
            cell.source = _HIDDEN.sub("", cell.source)
        cell.source = cell.source.rstrip("\n")
    return out


def _text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def build(check: bool = False, only: list[str] | None = None) -> list[Path]:
    """Build (or, with ``check``, only compare); returns the files that were / would be changed.

    ``only``: notebook names (stems) to build; stale student notebooks are removed only in a full build.
    """
    changed: list[Path] = []
    NOTEBOOKS.mkdir(exist_ok=True)
    sources = sorted(p for p in SOLUTIONS.glob("*.ipynb") if not only or p.stem in only)
    for src in sources:
        nb = stamp_install_cell(normalise(nbformat.read(src, as_version=4), src.stem))
        for path, text in ((src, _text(nb)), (NOTEBOOKS / src.name, _text(student_version(nb)))):
            if not path.exists() or path.read_text() != text:
                changed.append(path)
                if not check:
                    path.write_text(text)
    expected = {s.name for s in sources}
    for stale in [] if only else sorted(NOTEBOOKS.glob("*.ipynb")):
        if stale.name not in expected:
            changed.append(stale)
            if not check:
                stale.unlink()
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if notebooks/ or solutions/ are out of date")
    parser.add_argument("names", nargs="*", help="only these notebooks (e.g. 04_occlusion); default: all")
    args = parser.parse_args()
    changed = build(check=args.check, only=[Path(n).stem for n in args.names])
    for p in changed:
        print(("out of date: " if args.check else "wrote: ") + str(p.relative_to(ROOT)))
    if args.check and changed:
        print("run `make notebooks` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
