"""Translations of the notebooks and of the package's messages: gettext PO catalogues, one source.

``solutions/*.ipynb`` (English) stay the only notebooks anyone edits. Their markdown cells are translated in
one PO catalogue per notebook, ``i18n/<locale>/<notebook>.po``: each entry's ``msgctxt`` is the cell's id and
its ``msgid`` the English cell source, so an English cell that changes no longer matches its entry.
``update`` then marks that entry fuzzy and keeps the old English as ``#| msgid`` (as ``msgmerge`` does), so
the translator sees what changed. The package's own messages (``_()`` in ``cnnviz_helpers``, see
``cnnviz_helpers.core.i18n``) are extracted into ``cnnviz_helpers/locale/<locale>.po`` the same way.

    python tools/i18n.py update        # write / merge every catalogue from the current English sources
    python tools/i18n.py check         # per catalogue: translated / missing / fuzzy / stale; exit 1 if incomplete
    python tools/i18n.py stats         # words per language (Chinese: Han characters)

``tools/build_notebooks.py`` builds ``solutions/zh/`` and ``notebooks/zh/`` from the English notebook and
these catalogues (:func:`translate_notebook`): the same cells, code and metadata (nbgrader ids, tags, slides),
only the markdown translated. An untranslated, fuzzy or stale cell stays in English there.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import polib

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
CATALOGUES = ROOT / "i18n"
PACKAGE = ROOT / "cnnviz_helpers"
PACKAGE_LOCALE = PACKAGE / "locale"
#: language tag of the built notebook folders (``solutions/zh/``) -> gettext locale of the catalogues
LANGUAGES = {"zh": "zh_CN"}
GLOSSARY = CATALOGUES / "glossary.md"

_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def notebook_sources() -> list[Path]:
    """The English notebooks (``solutions/*.ipynb``), sorted."""
    return sorted(SOLUTIONS.glob("*.ipynb"))


def catalogue_path(stem: str, locale: str) -> Path:
    """Where the catalogue of notebook ``stem`` for ``locale`` lives: ``i18n/<locale>/<stem>.po``."""
    return CATALOGUES / locale / f"{stem}.po"


def translatable_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells a translation covers: every non-empty markdown cell (code cells are shared by both languages)."""
    return [c for c in nb.cells if c.cell_type == "markdown" and c.source.strip()]


def _hint(source: str) -> str:
    if "### BEGIN SOLUTION" in source:
        return "written answer: keep the ### BEGIN SOLUTION / ### END SOLUTION lines as they are"
    return ""


def _new_catalogue(title: str, locale: str) -> polib.POFile:
    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": f"cnnviz {title}",
        "Language": locale,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    return po


def merge(old: polib.POFile | None, wanted: list[tuple[str | None, str, str]], title: str, locale: str) -> polib.POFile:
    """A catalogue with one entry per ``(msgctxt, msgid, comment)`` of ``wanted``, in that order, keeping
    ``old``'s translations: same context and msgid -> kept as is; same context, new msgid -> kept, marked
    fuzzy, the old English in ``previous_msgid``; entries no longer wanted -> obsolete (``#~``)."""
    po = _new_catalogue(title, locale)
    if old is not None:
        po.metadata = old.metadata
    by_key = {(e.msgctxt, e.msgid): e for e in old or [] if not e.obsolete}
    by_ctxt = {e.msgctxt: e for e in old or [] if not e.obsolete and e.msgctxt is not None}
    used: set[int] = set()
    for ctxt, msgid, comment in wanted:
        entry = by_key.get((ctxt, msgid)) or (by_ctxt.get(ctxt) if ctxt is not None else None)
        if entry is None or id(entry) in used:
            entry = polib.POEntry(msgctxt=ctxt, msgid=msgid, msgstr="")
        elif entry.msgid != msgid:
            if entry.msgstr:
                entry.previous_msgid = entry.msgid
                if "fuzzy" not in entry.flags:
                    entry.flags.append("fuzzy")
            entry.msgid = msgid
        used.add(id(entry))
        entry.comment = comment
        po.append(entry)
    for entry in old or []:
        if id(entry) not in used and entry.msgstr:
            entry.obsolete = True
            po.append(entry)
    return po


def _write(po: polib.POFile, path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = po.__unicode__()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _load(path: Path) -> polib.POFile | None:
    return polib.pofile(str(path), wrapwidth=0) if path.exists() else None


def _data_messages() -> dict[str, str]:
    """Messages kept as data and translated where they are shown: the graded exercises' to-do lines and
    mistakes (``grading.grader.exercises``), the explorer's method names, notes and control names (``ui.explorer.METHODS``)."""
    from cnnviz_helpers.grading.grader.exercises import EXERCISES
    from cnnviz_helpers.ui.explorer import METHODS

    found: dict[str, str] = {}
    for ex in EXERCISES.values():
        for text in (ex.todo, *(t for m in ex.mistakes for t in (m.name, m.hint))):
            found.setdefault(text, f"exercise {ex.key}")
    for method in METHODS:
        for text in (method.name, method.note, *(p.name for p in method.params)):
            if text:
                found.setdefault(text, "explorer method")
    return found


def package_messages() -> list[tuple[str, str]]:
    """``(msgid, where)`` of every string literal passed to ``_()`` or ``N_()`` in the package, in file order,
    then the messages kept as data (:func:`_data_messages`), among them each catalogued mistake's name and hint
    (the first two arguments of ``_m(...)`` in ``grading/grader/exercises/ex_*.py``, read from the loaded
    exercises so that a hint kept in a constant counts too), which the students' self-check shows translated
    (:func:`cnnviz_helpers.grading.runner.grade`)."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, f"{path.relative_to(ROOT)}:{node.lineno}")
    for text, where in _data_messages().items():
        found.setdefault(text, where)
    return list(found.items())


def update(locale: str) -> list[Path]:
    """Write / merge every catalogue of ``locale`` from the English sources; returns the files changed."""
    changed = []
    for src in notebook_sources():
        nb = nbformat.read(src, as_version=4)
        wanted = [(c.id, c.source, _hint(c.source)) for c in translatable_cells(nb)]
        path = catalogue_path(src.stem, locale)
        if _write(merge(_load(path), wanted, src.stem, locale), path):
            changed.append(path)
    path = PACKAGE_LOCALE / f"{locale}.po"
    po = merge(_load(path), [(None, msgid, where) for msgid, where in package_messages()], "cnnviz_helpers", locale)
    if _write(po, path):
        changed.append(path)
    return changed


def structure_problems(msgid: str, msgstr: str) -> list[str]:
    """What a translation must keep from the English cell: nbgrader markers, the first line's heading level,
    the number of ``$`` (math) and of code fences. Returns one line per difference."""
    problems = [f"{m!r} count differs" for m in _MARKERS if msgid.count(m) != msgstr.count(m)]
    heading = re.compile(r"^\s*(#+) ")
    a, b = heading.match(msgid), heading.match(msgstr)
    if (a and a[1]) != (b and b[1]) and not msgid.lstrip().startswith("### BEGIN SOLUTION"):
        problems.append("the first line's heading level differs (slides and sections follow it)")
    fields = re.compile(r"\{[A-Za-z_][^{}]*\}")
    if sorted(fields.findall(msgid)) != sorted(fields.findall(msgstr)):
        problems.append(f"the {{placeholders}} differ: {sorted(fields.findall(msgid))} in English")
    for token, what in (("$", "math ($)"), ("```", "code fences")):
        if msgid.count(token) != msgstr.count(token):
            problems.append(f"number of {what} differs: {msgid.count(token)} in English, {msgstr.count(token)} here")
    return problems


@dataclass
class Report:
    """The state of one catalogue against the current English sources."""

    name: str
    total: int = 0
    translated: int = 0
    missing: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.translated == self.total and not self.broken

    def lines(self) -> list[str]:
        share = 100.0 * self.translated / max(self.total, 1)
        out = [f"{self.name}: {self.translated}/{self.total} cells translated ({share:.0f} %)"]
        for label, items in (("missing", self.missing), ("fuzzy", self.fuzzy), ("stale", self.stale), ("broken", self.broken)):
            if items:
                out.append(f"  {label} ({len(items)}): {', '.join(items)}")
        return out


def _report(name: str, po: polib.POFile | None, wanted: list[tuple[str | None, str]]) -> Report:
    rep = Report(name, total=len(wanted))
    entries = {(e.msgctxt, e.msgid): e for e in po or [] if not e.obsolete}
    ctxts = {e.msgctxt for e in po or [] if not e.obsolete}
    for ctxt, msgid in wanted:
        key = ctxt if ctxt is not None else msgid[:40].replace("\n", " ")
        entry = entries.get((ctxt, msgid))
        if entry is None:
            (rep.stale if ctxt is not None and ctxt in ctxts else rep.missing).append(key)
        elif not entry.msgstr.strip():
            rep.missing.append(key)
        elif "fuzzy" in entry.flags:
            rep.fuzzy.append(key)
        else:
            rep.translated += 1
            rep.broken += [f"{key}: {p}" for p in structure_problems(msgid, entry.msgstr)]
    return rep


def check(locale: str) -> list[Report]:
    """One :class:`Report` per notebook catalogue and one for the package's messages (nothing is written)."""
    reports = []
    for src in notebook_sources():
        nb = nbformat.read(src, as_version=4)
        wanted: list[tuple[str | None, str]] = [(c.id, c.source) for c in translatable_cells(nb)]
        reports.append(_report(src.stem, _load(catalogue_path(src.stem, locale)), wanted))
    wanted = [(None, msgid) for msgid, _ in package_messages()]
    reports.append(_report("cnnviz_helpers (package messages)", _load(PACKAGE_LOCALE / f"{locale}.po"), wanted))
    return reports


def translations(stem: str, locale: str) -> dict[tuple[str, str], str]:
    """``{(cell id, English source): translation}`` for the usable entries (not fuzzy, not empty) of a catalogue."""
    po = _load(catalogue_path(stem, locale))
    return {(e.msgctxt, e.msgid): e.msgstr for e in po or [] if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}


def glossary_link(lang: str) -> str:
    """The line the build adds to the first markdown cell of a translated notebook (``solutions/<lang>/``)."""
    return {"zh": "\n\n> 本课程中文术语以[术语表](../../i18n/glossary.md)为准。"}[lang]


def translate_notebook(nb: nbformat.NotebookNode, stem: str, lang: str) -> nbformat.NotebookNode:
    """A copy of the (built, English) notebook ``nb`` with its markdown cells translated into ``lang``: cells,
    code and metadata unchanged; a cell without a usable translation stays English. The install cell also sets
    ``CNNVIZ_LANG`` (unless the user set it), so the package speaks the notebook's language; the first markdown
    cell links the glossary."""
    out = nbformat.reads(nbformat.writes(nb), as_version=4)
    table = translations(stem, LANGUAGES[lang])
    first_md = True
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source = table.get((cell.id, cell.source), cell.source)
            if first_md:
                cell.source += glossary_link(lang)
                first_md = False
        elif cell.id == "install-kit" or cell.source.startswith("# Install the course kit"):
            cell.source += f'\n\nimport os\n\nos.environ["CNNVIZ_LANG"] = os.environ.get("CNNVIZ_LANG", "{lang}")  # the language of this notebook'
    out.metadata["language"] = LANGUAGES[lang]
    return out


#: what the glossary test does not read as prose: fenced and inline code, a "References" section (up to the next
#: heading) and italic paper titles ("*Sanity Checks for Saliency Maps*": three or more capitalised words)
_NOT_PROSE = re.compile(
    r"```.*?```|`[^`\n]*`"
    r"|^#+[^\n]*(?:References|参考文献)[^\n]*\n(?:(?!#)[^\n]*\n?)*"
    r"|\*(?=(?:[^*\n]*?\b[A-Z]\w+){3})[^*\n]+\*",
    re.S | re.M,
)
#: English phrases in which a term's word means something else ("unit square", "pixel units", "unit test")
_OTHER_SENSES = re.compile(
    r"\b(?:unit (?:squares?|tests?|vectors?|norm|circle|ball|interval|length)|(?:pixel|normali[sz]ed) units?"
    r"|in units of)\b",
    re.I,
)
#: Chinese words that contain a term's Chinese but mean something else (单元格 = cell, not 单元 = unit)
_OTHER_WORDS_ZH = re.compile("单元格")


def prose(text: str, locale: str = "en") -> str:
    """``text`` without what the glossary test must not read: code, references, paper titles and the words in
    which a term means something else (:data:`_OTHER_SENSES`, :data:`_OTHER_WORDS_ZH`)."""
    text = _NOT_PROSE.sub(" ", text)
    return _OTHER_WORDS_ZH.sub(" ", text) if locale.startswith("zh") else _OTHER_SENSES.sub(" ", text)


@dataclass(frozen=True)
class Term:
    """One row of the glossary (``i18n/glossary.md``)."""

    english: tuple[str, ...]  # the spellings of the English term
    chinese: str
    seed: str  # the seed notes' term, where they say otherwise ("" if not)

    def in_english(self, text: str) -> bool:
        """Whether ``text`` uses the term (any spelling, case-insensitive, whole words, plural allowed; a space
        and a hyphen between the words are the same: "Gram matrix" matches "Gram-matrix")."""
        return any(re.search(_term_pattern(e), text, re.I) for e in self.english)


def _term_pattern(english: str) -> str:
    words = r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", english))
    return rf"(?<![\w-]){words}(?:s|es)?(?![\w-])"


def glossary() -> list[Term]:
    """The glossary's rows (the markdown table of :data:`GLOSSARY`)."""
    terms = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cols) != 4 or cols[0] in ("English", "---"):
            continue
        terms.append(Term(tuple(e.strip() for e in cols[0].split(" / ")), cols[1], cols[2]))
    return terms


def glossary_problems(stem: str, locale: str) -> list[str]:
    """Glossary terms that the translated cells of a notebook use in English but not in Chinese."""
    pairs = translations(stem, locale)
    english = "\n".join(prose(msgid) for _, msgid in pairs)
    chinese = "\n".join(prose(text, locale) for text in pairs.values())
    return [
        f"{stem}: the English uses {t.english[0]!r}, the translation lacks {t.chinese!r}"
        for t in glossary()
        if t.in_english(english) and t.chinese not in chinese
    ]


def words(text: str) -> tuple[int, int]:
    """``(English words, Han characters)`` in ``text`` (Chinese is counted in characters, as is usual)."""
    return len(_WORD.findall(text)), len(_HAN.findall(text))


def stats(locale: str) -> list[tuple[str, int, int, int, int]]:
    """Per notebook: ``(name, cells, translated cells, English words, Han characters of the translation)``."""
    rows = []
    for src, rep in zip(notebook_sources(), check(locale)):
        nb = nbformat.read(src, as_version=4)
        english = sum(words(c.source)[0] for c in translatable_cells(nb))
        chinese = sum(words(t)[1] for t in translations(src.stem, locale).values())
        rows.append((src.stem, rep.total, rep.translated, english, chinese))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["update", "check", "stats"])
    parser.add_argument("--locale", default="zh_CN", choices=sorted(LANGUAGES.values()))
    args = parser.parse_args()
    if args.command == "update":
        for path in update(args.locale):
            print("wrote:", path.relative_to(ROOT))
        return 0
    if args.command == "stats":
        rows = stats(args.locale)
        for name, total, done, en, zh in rows:
            print(f"{name:34s} {done:3d}/{total:3d} cells  {en:6d} English words  {zh:6d} Han characters")
        print(
            f"{'total':34s} {sum(r[2] for r in rows):3d}/{sum(r[1] for r in rows):3d} cells  "
            f"{sum(r[3] for r in rows):6d} English words  {sum(r[4] for r in rows):6d} Han characters"
        )
        return 0
    reports = check(args.locale)
    for rep in reports:
        print("\n".join(rep.lines()))
    incomplete = [r.name for r in reports if not r.complete]
    if incomplete:
        print(
            f"incomplete: {', '.join(incomplete)} (fill the msgstr fields, remove 'fuzzy' when done; "
            "`python tools/i18n.py update` after English edits)",
            file=sys.stderr,
        )
    return 1 if incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
