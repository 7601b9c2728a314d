"""The student notebooks ask before they tell: `solution_only` cells are stripped, and the build refuses a
notice cell that would answer a question, or a question with nowhere to write the answer."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_notebooks as bn  # noqa: E402

SOURCES = sorted((ROOT / "solutions").glob("*.ipynb"))


def _md(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _nb(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


ANSWER = "### BEGIN SOLUTION\nBecause the field grows.\n### END SOLUTION"


def test_solution_only_cells_are_stripped_from_the_student_version_only():
    nb = _nb(
        _md("## Patches"),
        nbformat.v4.new_code_cell("x = 1"),
        _md("**Question (written, 1 point).** Why so large?"),
        _md(ANSWER),
        _md("**What to notice.** The field grows with depth.", bn.SOLUTION_ONLY),
        _md("**What to notice.** Compare the two rows."),
    )
    bn.normalise(nb, "t")
    bn.check_asks_before_tells(nb, "t.ipynb")
    student = bn.student_version(nb)
    text = "\n".join(c.source for c in student.cells)
    assert "The field grows with depth" not in text and "Because the field grows" not in text
    assert "YOUR ANSWER HERE" in text and "Compare the two rows" in text
    assert len(student.cells) == len(nb.cells) - 1
    assert any("The field grows with depth" in c.source for c in nb.cells)  # the solutions keep it
    assert bn.without_solution_only(nb).cells[-1].source.endswith("Compare the two rows.")


@pytest.mark.parametrize("first_line", ["**What to notice.**", "**What to notice**", "### What to notice", "Observation:"])
def test_an_unmarked_notice_before_a_question_fails_the_build_naming_notebook_and_cell(first_line):
    nb = _nb(
        _md("## Patches"),
        nbformat.v4.new_code_cell("x = 1"),
        _md(f"{first_line} The field grows with depth."),
        _md("**Question (written, 1 point).** Why so large?"),
        _md(ANSWER),
    )
    with pytest.raises(ValueError, match=r"03_patches\.ipynb, cell 2: .*solution_only"):
        bn.check_asks_before_tells(nb, "03_patches.ipynb")
    nb.cells[2].metadata["tags"] = [bn.SOLUTION_ONLY]
    bn.check_asks_before_tells(nb, "03_patches.ipynb")


def test_a_notice_between_a_prompt_and_its_answer_cell_fails_too():
    nb = _nb(_md("**Question.** Why?"), _md("**What to notice.** Because."), _md(ANSWER))
    with pytest.raises(ValueError, match=r"cell 1"):
        bn.check_asks_before_tells(nb, "t.ipynb")


def test_notices_after_the_answer_or_in_another_section_are_allowed():
    nb = _nb(
        _md("## One"),
        _md("**What to notice.** Section one's result."),
        _md("## Two"),
        _md("**Question (written, 1 point).** Predict the result."),
        _md(ANSWER),
        nbformat.v4.new_code_cell("x = 1"),
        _md("**What to notice.** Compare with your prediction."),
    )
    bn.check_asks_before_tells(nb, "t.ipynb")


@pytest.mark.parametrize("after", [nbformat.v4.new_code_cell("show()"), _md("## Next section"), None])
def test_a_question_without_an_answer_cell_before_the_result_fails(after):
    cells = [_md("## Video"), _md("**Question.** What could flicker?")] + ([after] if after is not None else [])
    with pytest.raises(ValueError, match=r"t\.ipynb, cell 1: a question with no answer cell"):
        bn.check_asks_before_tells(_nb(*cells), "t.ipynb")
    bn.check_asks_before_tells(_nb(*cells[:2], _md(ANSWER), *cells[2:]), "t.ipynb")


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_source_asks_before_it_tells(src):
    bn.check_asks_before_tells(nbformat.read(src, as_version=4), src.name)


def _sections(cells):
    starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("#")]
    return [cells[a:b] for a, b in zip([0, *starts], [*starts, len(cells)])]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_student_notebook_holds_no_answer_and_no_observation_before_an_answer_cell(src):
    """Read the generated student notebook itself: no answer text, no solution-only text, and no notice cell
    before a written-answer cell (``YOUR ANSWER HERE``) of its section."""
    solution = nbformat.read(src, as_version=4)
    student = nbformat.read(ROOT / "notebooks" / src.name, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    for cell in solution.cells:
        if bn.is_solution_only(cell):
            assert cell.source.strip() not in text, f"{src.name}: solution-only text in the student version"
        if bn.is_answer(cell):
            answer = bn._SOLUTION.search(cell.source)[0].split("\n", 1)[1].rsplit("### END SOLUTION", 1)[0].strip()
            assert answer not in text, f"{src.name}: an answer in the student version"
    for section in _sections(student.cells):
        slots = [i for i, c in enumerate(section) if c.cell_type == "markdown" and "YOUR ANSWER HERE" in c.source]
        notices = [i for i, c in enumerate(section) if bn.is_notice(c)]
        assert not slots or not notices or min(notices) > max(slots), (
            f"{src.name}: an observation before a question's answer cell: {section[min(notices)].source[:80]!r}"
        )


def test_a_cell_inserted_before_graded_ones_gets_a_fresh_grade_id():
    old = _md(ANSWER)
    old.metadata["nbgrader"] = {"grade_id": "t_answer_1"}
    nb = _nb(_md("**Question.** New?"), _md(ANSWER), _md("**Question.** Old?"), old)
    bn.normalise(nb, "t")
    assert [c.metadata.nbgrader["grade_id"] for c in nb.cells if "nbgrader" in c.metadata] == ["t_answer_2", "t_answer_1"]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_grade_ids_are_unique(src):
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(src, as_version=4).cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), ids


def test_release_hands_nbgrader_the_notebook_without_its_solution_only_cells(tmp_path, monkeypatch):
    import course

    calls = []
    monkeypatch.setattr(course, "nbgrader", lambda _course, *args: calls.append(args))
    course.release(tmp_path, "a1", ["04_occlusion"])
    solution = nbformat.read(ROOT / "solutions" / "04_occlusion.ipynb", as_version=4)
    released = nbformat.read(tmp_path / "source" / "a1" / "04_occlusion.ipynb", as_version=4)
    hidden = [c for c in solution.cells if bn.is_solution_only(c)]
    assert hidden and not any(bn.is_solution_only(c) for c in released.cells)
    assert [c.source for c in released.cells] == [c.source for c in solution.cells if not bn.is_solution_only(c)]
    assert calls == [("generate_assignment", "a1", "--force")]


# --- slides (jupyterlab-slideshow): the rules of bn.slide_types, and every built notebook follows them -----------
def _code(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


def test_slide_rules_give_each_figure_its_own_sub_slide_and_skip_code_that_shows_nothing():
    long_text = "\n\n".join(["word " * 40] * 8)  # 8 paragraphs of two lines: two do not fit one slide
    cells = [
        _md("# Title"), _code(bn.INSTALL_CELL), _code("from x import y\nkm = y()"), _md("## 1. Part"), _md("text"),
        _code("fig = show_images(x)"), _md("**What to notice.** it"), _md("**Question.** Why?"), _md(ANSWER),
        _code("def f(x):\n    return x"), _code("# Self-check (1 point)\ncheck(f)"), _code("km.describe()"),
        _md("### detail"), _md(long_text), _md(long_text), _code("for i in x:\n    plt.show()"), _md("#no space"),
    ]  # fmt: skip
    assert bn.slide_types(cells) == [
        "slide", "skip", "skip", "slide", None,
        "subslide", "subslide", None, None,
        "skip", "skip", "subslide",
        "subslide", None, "subslide", "subslide", "subslide",
    ]  # fmt: skip
    assert bn.text_lines(_md(long_text)) > bn.TEXT_LINES_PER_SLIDE / 2  # the two long cells do not share a slide


@pytest.mark.parametrize("folder", ["solutions", "notebooks", "solutions/zh", "notebooks/zh"])
def test_every_notebook_carries_the_slide_rules_and_the_deck_styles(folder):
    """Every built notebook: slide types from the rules of its source (solutions/), code cells alone on a
    sub-slide or skipped, a title slide first, and the deck styles that hide code and progress bars."""
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        source = nbformat.read(ROOT / "solutions" / path.name, as_version=4)
        expected = dict(zip((c.id for c in source.cells), bn.slide_types(source.cells)))
        stamped = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
        assert stamped == [expected[c.id] for c in nb.cells], path.name
        first = next(i for i, t in enumerate(stamped) if t != "skip")
        assert stamped[first] == "slide" and nb.cells[first].source.startswith("# "), f"{path.name}: no '# ' title slide"
        assert {t for c, t in zip(nb.cells, stamped) if c.cell_type == "code"} <= {"subslide", "skip"}, path.name
        assert nb.metadata[bn.FONTS_KEY] == {"styles": {"": bn.DECK_STYLES}}, path.name


def test_deck_styles_use_the_key_that_the_installed_fonts_extension_reads():
    """jupyterlab-slideshow applies notebook styles through jupyterlab-fonts, under its package name."""
    package = Path(sys.prefix) / "share/jupyter/labextensions" / bn.FONTS_KEY / "package.json"
    if not package.exists():
        pytest.skip("jupyterlab-slideshow is not installed (pip install -e '.[presenting]')")
    import json

    assert json.loads(package.read_text())["name"] == bn.FONTS_KEY
    assert all(selector.startswith("body[data-jp-deck-mode='presenting'] & ") for selector in bn.DECK_STYLES)


CORE_WORDS_MAX = 1100  # the "≤ ~1,000 words of prose" per lab session, with a margin


def core_words(nb: nbformat.NotebookNode) -> int:
    """Words of markdown on a student notebook's core path: every markdown cell except those under a
    "Going further: …" heading (up to the next heading of the same or a higher level) and the References."""
    words, skip_below = 0, 0  # skip_below: the level of the heading being skipped, 0 when none
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        head = cell.source.lstrip()
        level = len(head) - len(head.lstrip("#")) if head.startswith("#") else 0
        if level and skip_below and level <= skip_below:
            skip_below = 0
        title = head[level:].split("\n", 1)[0].strip()
        if level and not skip_below and (title.startswith("Going further:") or title == "References"):
            skip_below = level
        if not skip_below:
            words += len(cell.source.split())
    return words


def test_core_words_skip_going_further_sections_and_references():
    nb = _nb(
        _md("# Title\none two"),
        _md("## Going further: more\nskipped words here"),
        _md("### a subsection of it\nskipped too"),
        _md("## 2. Back on the core path\nthree four five"),
        _md("## References\n- a paper"),
    )
    assert core_words(nb) == 4 + 10  # "# Title one two" + "## 2. Back on the core path three four five"


@pytest.mark.parametrize("src", [p for p in SOURCES if p.stem != "explorer"], ids=lambda p: p.stem)
def test_the_core_path_is_a_lab_session_of_reading(src):
    """The student version's core path (solution-only cells are not in it) stays under ~1,000 words of prose."""
    n = core_words(nbformat.read(ROOT / "notebooks" / src.name, as_version=4))
    assert n <= CORE_WORDS_MAX, f"{src.name}: {n} words of markdown on the core path; move material under 'Going further:'"


# --- one figure per code cell: a slide holds what one cell shows, so a cell that shows several figures makes a slide
# taller than the projector (issue 21) ------------------------------------------------------------------------------
#: Calls that make a new figure: matplotlib's, and the kit's plotting functions that draw into a figure of their
#: own (``plot_embedding`` only without ``ax=``; with it, it draws into a panel of an existing figure).
FIGURE_MAKERS = frozenset({"figure", "subplots", "subplot_mosaic", "show_images", "plot_scores", "plot_curves", "plot_embedding"})
LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _called(call: ast.Call) -> str:
    """The called name: ``plt.show`` for ``plt.show()``, ``f`` for ``f()`` and ``obj.f()``."""
    f = call.func
    if isinstance(f, ast.Attribute):
        return "plt.show" if f.attr == "show" and isinstance(f.value, ast.Name) and f.value.id == "plt" else f.attr
    return f.id if isinstance(f, ast.Name) else ""


def _figure_calls(scope: ast.AST, makers: frozenset[str]) -> list[tuple[str, int, bool]]:
    """(name, line, inside a loop) of each call in ``scope`` that makes a figure (a name in ``makers``) or
    shows one (``plt.show``). Function bodies nested in it are scopes of their own: not entered."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_loop: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, SCOPES):
                continue
            if isinstance(child, ast.Call):
                name = _called(child)
                draws_into_an_axis = name == "plot_embedding" and any(k.arg == "ax" for k in child.keywords)
                if name == "plt.show" or (name in makers and not draws_into_an_axis):
                    found.append((name, child.lineno, in_loop))
            visit(child, in_loop or isinstance(child, LOOPS))

    visit(scope, False)
    return found


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Each function defined in a cell: a scope of its own (its figure is shown when it is called)."""
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def figure_problems(cells: list[tuple[int, str]]) -> list[str]:
    """Where the code cells of one notebook, ``(index, source)``, show more than one figure at a time: a figure
    made or shown inside a loop, two figures made, or two ``plt.show()`` in the same cell or function. A function
    defined in the notebook that makes a figure counts as a figure maker where it is called."""
    python = {i: "\n".join(ln for ln in s.splitlines() if not ln.lstrip().startswith(("%", "!"))) for i, s in cells}
    trees = {i: ast.parse(s) for i, s in python.items()}  # (IPython's magics and shell lines left out)
    makers, grown = FIGURE_MAKERS, True
    while grown:  # functions that call functions that make figures, to any depth
        defs = {f.name for t in trees.values() for f in _functions(t) if _figure_calls(f, makers)}
        grown = not defs <= makers
        makers = makers | defs
    problems = []
    for i, tree in trees.items():
        for scope, where in [(tree, f"cell {i}"), *((f, f"cell {i}, function {f.name}") for f in _functions(tree))]:
            calls = _figure_calls(scope, makers)
            problems += [f"{where}: {name}() in a loop (line {line})" for name, line, loop in calls if loop]
            if sum(name != "plt.show" for name, _, _ in calls) > 1 or sum(name == "plt.show" for name, _, _ in calls) > 1:
                problems.append(f"{where}: {', '.join(f'{n}() line {ln}' for n, ln, _ in calls)}")
    return problems


def test_figure_problems_finds_loops_second_figures_and_helpers_that_show():
    ok = ["fig, axes = plt.subplots(2, 3)\nfor ax in axes.flat:\n    plot_embedding(p, y, n, 't', ax=ax)\nplt.show()",
          "display(run_panel(run, [w]))\ndef run():\n    show_images([a, b])\n    plt.show()",  # a widget, one figure per run
          "def show_change(a, b):\n    return show_images([a, b])\n\nfig = show_change(x, y)"]  # fmt: skip
    assert figure_problems(list(enumerate(ok))) == []
    assert figure_problems([(0, "for i in x:\n    show_images([i])\n    plt.show()")]) == [
        "cell 0: show_images() in a loop (line 2)", "cell 0: plt.show() in a loop (line 3)"
    ]  # fmt: skip
    assert figure_problems([(3, "show_images(a)\nplt.show()\nplt.figure()\nplt.show()")]) == [
        "cell 3: show_images() line 1, plt.show() line 2, figure() line 3, plt.show() line 4"
    ]
    helper = "def show_change(a, b):\n    return show_images([a, b])"
    assert figure_problems([(0, helper), (2, "[show_change(x, y) for y in ys]")]) == ["cell 2: show_change() in a loop (line 1)"]
    assert figure_problems([(0, "%matplotlib inline\nimport x")]) == []


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_code_cell_shows_at_most_one_figure(src):
    """Each figure-showing code cell is a slide of its own, with each figure capped at 80 % of the screen's
    height: a cell that shows several figures (a ``plt.show()`` in a loop, two ``plt.show()``, two figures made)
    stacks them into a slide taller than the projector, and taller in full mode than in fast mode. So a cell
    draws one figure (panels in rows and columns). The checks read the code (AST), not its text.

    The exception, on purpose: a widget (``display(...)``, a run panel, a live image) beside one figure; and a
    function the cell defines (a widget's callback) is a scope of its own, held to the same rule each time it runs.
    """
    cells = nbformat.read(src, as_version=4).cells
    problems = figure_problems([(i, c.source) for i, c in enumerate(cells) if c.cell_type == "code"])
    assert not problems, f"{src.name} (cell = index in nb.cells), draw one figure with subplots instead:\n" + "\n".join(problems)
