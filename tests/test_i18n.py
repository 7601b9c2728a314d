"""Translations (tools/i18n.py): PO catalogues keyed by cell id, stale detection, the translated build."""

from __future__ import annotations

import nbformat
import polib
import pytest

from tools import i18n
from tools.build_notebooks import normalise, stamp_install_cell, student_version

SOURCES = i18n.notebook_sources()


def _entry(ctxt: str, msgid: str, msgstr: str) -> polib.POEntry:
    return polib.POEntry(msgctxt=ctxt, msgid=msgid, msgstr=msgstr)


def test_merge_marks_a_changed_cell_fuzzy_and_keeps_the_old_english():
    old = i18n._new_catalogue("t", "zh_CN")
    old.append(_entry("a", "# Old title", "# 旧标题"))
    old.append(_entry("b", "same text", "相同"))
    old.append(_entry("gone", "removed cell", "已删除"))
    po = i18n.merge(old, [("a", "# New title", ""), ("b", "same text", ""), ("c", "new cell", "")], "t", "zh_CN")
    entries = {e.msgctxt: e for e in po if not e.obsolete}
    assert entries["a"].msgid == "# New title" and "fuzzy" in entries["a"].flags
    assert entries["a"].previous_msgid == "# Old title" and entries["a"].msgstr == "# 旧标题"
    assert entries["b"].msgstr == "相同" and "fuzzy" not in entries["b"].flags
    assert entries["c"].msgstr == "" and [e.msgctxt for e in po.obsolete_entries()] == ["gone"]
    rep = i18n._report("t", po, [("a", "# New title"), ("b", "same text"), ("c", "new cell")])
    assert (rep.translated, rep.fuzzy, rep.missing) == (1, ["a"], ["c"])


def test_a_catalogue_not_updated_after_an_english_edit_is_stale():
    po = i18n._new_catalogue("t", "zh_CN")
    po.append(_entry("a", "old English", "中文"))
    rep = i18n._report("t", po, [("a", "edited English")])
    assert rep.stale == ["a"] and rep.translated == 0 and not rep.complete


def test_structure_problems_name_a_lost_marker_heading_or_formula():
    en = "## Title\n\n### BEGIN SOLUTION\nanswer $x$\n### END SOLUTION"
    assert i18n.structure_problems(en, "## 标题\n\n### BEGIN SOLUTION\n答案 $x$\n### END SOLUTION") == []
    problems = i18n.structure_problems(en, "标题\n\n答案 x\n### END SOLUTION")
    assert any("BEGIN SOLUTION" in p for p in problems) and any("heading" in p for p in problems)
    assert any("math" in p for p in problems)


@pytest.mark.parametrize("src", SOURCES[:3], ids=lambda p: p.stem)
def test_translated_notebook_keeps_code_and_grading_metadata(src, monkeypatch):
    nb = stamp_install_cell(normalise(nbformat.read(src, as_version=4), src.stem))
    cells = i18n.translatable_cells(nb)
    fake = {(c.id, c.source): c.source.replace("the", "这") for c in cells}
    monkeypatch.setattr(i18n, "translations", lambda stem, locale: fake)
    zh = i18n.translate_notebook(nb, src.stem, "zh")
    assert [c.id for c in zh.cells] == [c.id for c in nb.cells]
    for a, b in zip(nb.cells, zh.cells):
        assert a.metadata == b.metadata
        if a.cell_type == "code" and a.id != "install-kit":
            assert a.source == b.source
    assert (
        'os.environ["CNNVIZ_LANG"] = os.environ.get("CNNVIZ_LANG", "zh")'
        in zh.cells[[c.id for c in zh.cells].index("install-kit")].source
    )
    translated = [c for c in zh.cells if c.cell_type == "markdown"]
    assert translated[0].source.count("i18n/glossary.md") == 1
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in student_version(zh).cells]
    assert ids == [c.metadata.get("nbgrader", {}).get("grade_id") for c in student_version(nb).cells]


def test_the_built_chinese_notebooks_exist_for_every_source():
    for src in SOURCES:
        for folder in (i18n.SOLUTIONS / "zh", i18n.ROOT / "notebooks" / "zh"):
            assert (folder / src.name).exists(), f"run `make notebooks`: {folder / src.name} is missing"


@pytest.mark.parametrize("name", [p.stem for p in SOURCES] + ["cnnviz_helpers (package messages)"])
def test_every_cell_and_message_is_translated(name):
    """Fails on any missing, fuzzy, stale or structurally broken translation (`python tools/i18n.py check`)."""
    rep = next(r for r in i18n.check("zh_CN") if r.name == name)
    assert rep.complete, "\n".join(rep.lines())


def test_the_glossary_has_the_issue_terms_and_sixty_entries():
    terms = i18n.glossary()
    english = {e.lower() for t in terms for e in t.english}
    for term in (
        "saliency map",
        "occlusion",
        "receptive field",
        "gram matrix",
        "feature inversion",
        "instance normalisation",
        "guided backpropagation",
        "adversarial example",
    ):
        assert term in english
    assert len(terms) >= 60 and all(t.chinese for t in terms)
    by_english = {t.english[0]: t for t in terms}
    assert by_english["saliency map"].chinese == "显著图" and "特点映射" in by_english["saliency map"].seed
    assert "阻塞实验" in by_english["occlusion"].seed


def test_term_matching_is_whole_word():
    term = i18n.Term(("unit",), "单元", "")
    assert term.in_english("one unit") and term.in_english("two Units") and not term.in_english("community")


def test_term_matching_takes_hyphens_and_the_short_forms():
    by_english = {t.english[0]: t for t in i18n.glossary()}
    assert by_english["Gram matrix"].in_english("Gram-matrix texture synthesis")
    assert by_english["instance normalisation"].in_english("the instance norm layers")
    assert by_english["backpropagation"].in_english("we backpropagate the score")
    assert not by_english["backpropagation"].in_english("backpropagator")


def test_the_glossary_test_reads_prose_only():
    unit = i18n.Term(("unit",), "单元", "")
    shapes = i18n.Term(("ShapesNet",), "ShapesNet", "")
    assert not unit.in_english(i18n.prose("a window inside the unit square, measured in pixel units"))
    assert unit.in_english(i18n.prose("the unit square is where each unit looks"))
    assert not shapes.in_english(i18n.prose("run `load_model('shapesnet')`\n```python\nShapesNet()\n```"))
    assert not shapes.in_english(i18n.prose("## References\n- A. B. *ShapesNet for Toy Images.* 2020.\n"))
    assert not unit.in_english(i18n.prose("as in *Network Dissection: Quantifying Unit Interpretability*"))
    assert shapes.in_english(i18n.prose("ShapesNet is small.\n\n## References\n- none"))
    assert "单元" not in i18n.prose("运行下一个单元格之前", "zh_CN")
    assert "单元" in i18n.prose("每个单元格里可视化一个单元", "zh_CN")


def test_the_glossary_has_the_translators_terms():
    chinese = {e: t.chinese for t in i18n.glossary() for e in t.english}
    for english, zh in {
        "stride": "步幅",
        "padding": "填充",
        "kernel": "卷积核",
        "effective receptive field": "有效感受野",
        "mask": "掩码",
        "global average pooling": "全局平均池化",
        "perplexity": "困惑度",
        "clamp": "截断",
        "cross-entropy": "交叉熵",
        "threat model": "威胁模型",
        "randomized smoothing": "随机平滑",
        "residual block": "残差块",
        "reflection padding": "反射填充",
        "transposed convolution": "转置卷积",
        "checkerboard artifacts": "棋盘格伪影",
        "optical flow": "光流",
        "flicker": "闪烁",
    }.items():
        assert chinese[english] == zh


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_translations_use_the_glossary(src):
    """Over the translated cells of a notebook: every glossary term used in English is used in Chinese."""
    assert i18n.glossary_problems(src.stem, "zh_CN") == []


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_chinese_notebooks_link_the_glossary_once(src):
    nb = nbformat.read(i18n.SOLUTIONS / "zh" / src.name, as_version=4)
    assert sum(c.source.count("i18n/glossary.md") for c in nb.cells if c.cell_type == "markdown") == 1


def test_the_seed_map_cites_cells_that_exist():
    """Every `cell id` the seed map cites (after its notebook number) is a cell of that notebook."""
    import re

    text = (i18n.CATALOGUES / "zh_CN" / "seed_map.md").read_text(encoding="utf-8")
    cells = {src.stem.split("_")[0]: {c.id for c in nbformat.read(src, as_version=4).cells} for src in SOURCES}
    cited = re.findall(r"\b(\d\d[b]?) · `([0-9a-f]{8})`((?:、`[0-9a-f]{8}`)*)", text)
    assert len(cited) > 40
    for number, first, more in cited:
        for cell in [first, *re.findall(r"[0-9a-f]{8}", more)]:
            assert cell in cells[number], f"seed_map.md: notebook {number} has no cell {cell}"


@pytest.mark.parametrize(
    "path",
    [*sorted((i18n.CATALOGUES / "zh_CN").glob("*.po")), i18n.PACKAGE_LOCALE / "zh_CN.po"],
    ids=lambda p: p.stem,
)
def test_a_catalogue_defines_each_message_once(path):
    """gettext refuses a catalogue with a message defined twice (``msgfmt`` fails); merges of two branches can leave one."""
    import collections

    counts = collections.Counter((e.msgctxt, e.msgid) for e in polib.pofile(str(path), wrapwidth=0))
    assert [k for k, n in counts.items() if n > 1] == [], f"{path.name}: duplicate entries; keep one of each"
