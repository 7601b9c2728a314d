"""Generate the student notebooks in ``notebooks/`` from the sources in ``solutions/``.

``solutions/*.ipynb`` are the only notebooks anyone edits. They use nbgrader's markers:

- ``### BEGIN SOLUTION`` / ``### END SOLUTION`` in a code cell: the lines between become
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` (in a markdown cell: ``YOUR ANSWER HERE``);
- ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``: removed from the student version;
- a code cell whose first line starts with ``# Self-check`` is an autograded test cell (1 point);
- a markdown cell with a solution is a manually graded written answer (1 point; nbgrader's "manually
  graded answer": ``solution`` and ``grade`` both true); its answer stays in solutions/ only;
- a cell tagged ``solution_only`` (cell metadata ``tags``; in Jupyter: the property inspector's cell
  tags) is left out of the student version and of the notebooks `tools/course.py release` hands out:
  the observations that would answer a question before the student has written an answer.

The student version asks before it tells, and the build enforces it (:func:`check_asks_before_tells`,
an error naming the notebook and the cell). In a markdown cell, a *question* is a prompt (the text
``**Question``) or a written-answer cell (``### BEGIN SOLUTION``); a *notice* cell is one whose first
line, without ``#`` and ``*``, starts with "What to notice" or "Observation". A *section* runs from one
markdown cell that starts with a ``#`` heading to the next. Two rules:

1. every question prompt is followed by its answer cell before the next code cell or heading (a
   prediction is written down before the cell that shows the result runs);
2. a notice cell that comes before a question of its own section must be tagged ``solution_only``
   (it would answer it).

Empty cells are dropped.

The build also normalises the sources: outputs and execution counts are cleared, nbgrader cell
metadata is set from the markers (so ``nbgrader generate_assignment`` / ``autograde`` work on them),
and slide metadata for jupyterlab-slideshow (and RISE) is stamped from rules (:func:`slide_types`: headings
start slides, each figure has a sub-slide of its own, code is hidden while presenting), so every notebook
presents as slides without hand edits. ``explorer.ipynb`` (the live app) is built like
the lecture notebooks.

Translations: for each language of ``tools/i18n.py`` (``zh``), the build also writes ``solutions/zh/`` and
``notebooks/zh/``: the same notebooks with the markdown taken from ``i18n/zh_CN/<notebook>.po`` (a cell
without a current translation stays English) and ``CNNVIZ_LANG`` set in the install cell.

    python tools/build_notebooks.py          # write notebooks/ (and normalise solutions/)
    python tools/build_notebooks.py --check  # exit 1 if anything is out of date (used by the tests)
    python tools/build_notebooks.py 04_occlusion   # just one notebook
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from i18n import LANGUAGES, translate_notebook  # noqa: E402

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
#: The cell tag of observations that only the solutions keep (see the module docstring).
SOLUTION_ONLY = "solution_only"
_NOTICE = re.compile(r"^[#*\s]*(what to notice|observation)", re.I)
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


#: The cell metadata key of jupyterlab-fonts (installed with jupyterlab-slideshow): styles for the notebook.
FONTS_KEY = "@deathbeds/jupyterlab-fonts"
_PRESENTING = "body[data-jp-deck-mode='presenting'] &"
#: CSS that applies only while the deck presents (notebook metadata, read by jupyterlab-fonts): no code,
#: no stderr (warnings, text progress bars), no tqdm widget bar (a progress bar outside the kit's run
#: panels, whose status line has the class ``cnnviz-status``), no figure taller than the screen, and a text
#: cell taller than the screen (13's tables) scrolls inside its slide.
DECK_STYLES = {
    f"{_PRESENTING} .jp-CodeCell .jp-Cell-inputWrapper": {"display": "none"},
    f"{_PRESENTING} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']": {"display": "none"},
    f"{_PRESENTING} .jp-OutputArea-child:has(.widget-hprogress):not(:has(.cnnviz-status))": {"display": "none"},
    f"{_PRESENTING} .jp-RenderedImage > img": {"max-height": "80vh", "max-width": "100%", "width": "auto"},
    f"{_PRESENTING} .jp-MarkdownCell .jp-RenderedMarkdown": {"max-height": "85vh", "overflow-y": "auto"},
}
#: How much text one slide holds, in estimated rendered lines (:func:`text_lines`): about 560 px at 1280×720.
TEXT_LINES_PER_SLIDE = 22
_SHOWS = re.compile(r"\b(print|display|show\w*|plt\.show|\w+_widget)\(")


def text_lines(cell: nbformat.NotebookNode) -> float:
    """Estimated rendered lines of a markdown cell on a slide: ~110 characters a line, headings and
    display maths count double, blank lines half."""
    total = 0.0
    for line in cell.source.splitlines():
        if not line.strip():
            total += 0.5
        elif line.lstrip().startswith(("#", "$$")):
            total += 2
        else:
            total += -(-len(line) // 110)
    return total


def shows_something(cell: nbformat.NotebookNode) -> bool:
    """A code cell with a visible result: it prints, displays or shows (a figure, a widget), or ends with
    an expression. Self-checks and the install cell show nothing an audience needs."""
    src = cell.source.strip()
    if src.startswith(("# Self-check", _INSTALL_MARK)):
        return False
    try:
        body = ast.parse(src).body
    except SyntaxError:  # IPython syntax (a magic): assume it shows something
        return True
    return bool(_SHOWS.search(src)) or (bool(body) and isinstance(body[-1], ast.Expr))


def slide_types(cells: list[nbformat.NotebookNode]) -> list[str | None]:
    """Slide types (``slideshow.slide_type``, read by jupyterlab-slideshow and RISE) from rules, so that every
    notebook presents without hand edits and each slide fits a 1280×720 screen:

    - a markdown cell opening with a ``#`` or ``##`` heading starts a slide, one opening with ``###`` a sub-slide;
    - a code cell that shows something (:func:`shows_something`) is a sub-slide of its own: its figure or widget
      alone on the screen (its code is hidden by :data:`DECK_STYLES`); a code cell that shows nothing is skipped;
    - text after a code cell starts a sub-slide, and so does text that would take a slide past
      :data:`TEXT_LINES_PER_SLIDE` lines;
    - a written answer (``### BEGIN SOLUTION``, not a heading) continues its question's slide.
    """
    types: list[str | None] = []
    lines = 0.0
    for cell in cells:
        if cell.cell_type == "code":
            types.append("subslide" if shows_something(cell) else "skip")
            lines = TEXT_LINES_PER_SLIDE  # the next text starts a sub-slide
            continue
        first = cell.source.lstrip().split("\n", 1)[0]
        answer = first.startswith("### BEGIN SOLUTION")
        if answer:
            kind: str | None = None
        elif first.startswith(("# ", "## ")):
            kind, lines = "slide", 0
        elif first.startswith("### ") or lines + text_lines(cell) > TEXT_LINES_PER_SLIDE:
            kind, lines = "subslide", 0
        else:
            kind = None
        types.append(kind)
        lines += text_lines(cell)
    return types


def is_notice(cell: nbformat.NotebookNode) -> bool:
    """A markdown cell whose first line starts with "What to notice" or "Observation" (after ``#`` / ``*``)."""
    first = cell.source.lstrip().split("\n", 1)[0]
    return cell.cell_type == "markdown" and bool(_NOTICE.match(first))


def is_answer(cell: nbformat.NotebookNode) -> bool:
    """A written-answer cell: markdown with ``### BEGIN SOLUTION``."""
    return cell.cell_type == "markdown" and "### BEGIN SOLUTION" in cell.source


def is_prompt(cell: nbformat.NotebookNode) -> bool:
    """A markdown cell that asks a question (``**Question``) and is not itself the answer cell."""
    return cell.cell_type == "markdown" and "**Question" in cell.source and not is_answer(cell)


def is_solution_only(cell: nbformat.NotebookNode) -> bool:
    """Tagged :data:`SOLUTION_ONLY`: kept in solutions/, left out of every student version."""
    return SOLUTION_ONLY in cell.metadata.get("tags", [])


def _is_heading(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith("#") and not is_answer(cell)


def check_asks_before_tells(nb: nbformat.NotebookNode, name: str) -> None:
    """Raise ``ValueError`` (naming ``name`` and the cell) where the student version would tell before it asks.

    The two rules of the module docstring: a question prompt needs its answer cell before the next code
    cell or heading, and a notice cell before a question of its section must be tagged ``solution_only``.
    """
    cells = nb.cells
    for i, cell in enumerate(cells):
        if not is_prompt(cell):
            continue
        nxt = next(
            (j for j in range(i + 1, len(cells)) if cells[j].cell_type == "code" or _is_heading(cells[j]) or is_answer(cells[j])),
            None,
        )
        if nxt is None or not is_answer(cells[nxt]):
            raise ValueError(
                f"{name}, cell {i}: a question with no answer cell before the next code cell or heading; add a markdown "
                "cell with ### BEGIN SOLUTION / ### END SOLUTION after it (the student writes a prediction there)"
            )
    starts = [i for i, c in enumerate(cells) if _is_heading(c)]
    for lo, hi in zip([0, *starts], [*starts, len(cells)]):
        questions = [i for i in range(lo, hi) if is_prompt(cells[i]) or is_answer(cells[i])]
        for i in range(lo, max(questions, default=lo)):
            if is_notice(cells[i]) and not is_solution_only(cells[i]):
                raise ValueError(
                    f"{name}, cell {i}: a 'What to notice' cell before the question in cell {questions[-1]} of its "
                    f"section would answer it: tag it {SOLUTION_ONLY!r} (or move it after the answer cell)"
                )


def _free_id(nb: nbformat.NotebookNode, stem: str, kind: str, counts: dict[str, int], taken: set[str]) -> str:
    """The next ``{stem}_{kind}_{n}`` that no cell of ``nb`` uses yet."""
    used = taken | {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    while True:
        counts[kind] += 1
        if (grade_id := f"{stem}_{kind}_{counts[kind]}") not in used:
            return grade_id


def normalise(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """Clear outputs, set the kernel, slide metadata (:func:`slide_types`), deck styles (:data:`DECK_STYLES`) and nbgrader metadata on marked
    cells (in place; returns ``nb``)."""
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}, FONTS_KEY: {"styles": {"": DECK_STYLES}}}
    counts = {"solution": 0, "test": 0, "answer": 0}
    nb.cells = [cell for cell in nb.cells if cell.source.strip()]
    taken: set[str] = set()  # grade ids stay unique: a cell inserted before old ones gets a new number
    for cell, slide in zip(nb.cells, slide_types(nb.cells)):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
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
        old = cell.metadata.get("nbgrader", {})
        grade_id = old.get("grade_id")
        if not grade_id or grade_id in taken:
            grade_id = _free_id(nb, stem, kind, counts, taken)
        taken.add(grade_id)
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


def without_solution_only(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without the cells tagged :data:`SOLUTION_ONLY` (what `tools/course.py release` hands to nbgrader)."""
    out = copy.deepcopy(nb)
    out.cells = [cell for cell in out.cells if not is_solution_only(cell)]
    return out


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Solutions replaced by placeholders, hidden tests and ``solution_only`` cells removed."""
    out = without_solution_only(nb)
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

    Raises ``ValueError`` (notebook and cell named) for a source that tells before it asks
    (:func:`check_asks_before_tells`).

    ``only``: notebook names (stems) to build; stale student notebooks are removed only in a full build.
    """
    changed: list[Path] = []
    NOTEBOOKS.mkdir(exist_ok=True)
    sources = sorted(p for p in SOLUTIONS.glob("*.ipynb") if not only or p.stem in only)
    for src in sources:
        nb = stamp_install_cell(normalise(nbformat.read(src, as_version=4), src.stem))
        check_asks_before_tells(nb, src.name)
        outputs = [(src, _text(nb)), (NOTEBOOKS / src.name, _text(student_version(nb)))]
        for lang in LANGUAGES:  # the translations (tools/i18n.py): solutions/zh/, notebooks/zh/
            translated = translate_notebook(nb, src.stem, lang)
            outputs += [
                (SOLUTIONS / lang / src.name, _text(translated)),
                (NOTEBOOKS / lang / src.name, _text(student_version(translated))),
            ]
        for path, text in outputs:
            if not path.exists() or path.read_text() != text:
                changed.append(path)
                if not check:
                    path.parent.mkdir(exist_ok=True)
                    path.write_text(text)
    expected = {s.name for s in sources}
    built = [NOTEBOOKS, *(d / lang for lang in LANGUAGES for d in (SOLUTIONS, NOTEBOOKS))]
    for stale in [] if only else sorted(p for d in built for p in d.glob("*.ipynb")):
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
    try:
        changed = build(check=args.check, only=[Path(n).stem for n in args.names])
    except ValueError as err:  # a notebook that tells before it asks: the message names the notebook and cell
        print(err, file=sys.stderr)
        return 1
    for p in changed:
        print(("out of date: " if args.check else "wrote: ") + str(p.relative_to(ROOT)))
    if args.check and changed:
        print("run `make notebooks` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
