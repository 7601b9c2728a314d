"""The package's messages in Chinese (cnnviz_helpers.core.i18n): language choice, feedback, widget labels."""

from __future__ import annotations

import pytest

from cnnviz_helpers import get_language, set_language
from cnnviz_helpers.core import i18n as core_i18n
from cnnviz_helpers.grading.grader.exercises import EXERCISES
from cnnviz_helpers.grading.runner import grade


@pytest.fixture(autouse=True)
def _english_afterwards(monkeypatch):
    monkeypatch.delenv("CNNVIZ_LANG", raising=False)
    yield
    set_language(None)


def test_language_comes_from_set_language_then_the_environment(monkeypatch):
    assert get_language() == "en"
    monkeypatch.setenv("CNNVIZ_LANG", "zh_CN.UTF-8")
    assert get_language() == "zh"
    set_language("en")
    assert get_language() == "en"
    set_language(None)
    assert get_language() == "zh"


def test_an_unknown_language_says_which_ones_exist():
    with pytest.raises(ValueError, match="choose one of en, zh"):
        set_language("fr")


def test_translation_is_looked_up_and_english_passes_through():
    set_language("zh")
    assert core_i18n._("Stop") == "停止"
    assert core_i18n._("a sentence the catalogue does not have") == "a sentence the catalogue does not have"
    set_language("en")
    assert core_i18n._("Stop") == "Stop"


def test_a_wrong_answer_is_explained_in_chinese():
    """Real checks of catalogued mistakes, graded with the kit speaking Chinese: every wrong answer's feedback
    (which case, where and how the output differs: compare.explain) is the English one translated, no English left."""
    wrong = [(k, m) for k, ex in EXERCISES.items() for m in ex.mistakes if m.detector == "value"][:6]
    for key, mistake in wrong:
        set_language("en")
        english = grade(key, mistake.answer, namespace={})
        set_language("zh")
        chinese = grade(key, mistake.answer, namespace={})
        assert not english.passed and not chinese.passed, mistake.name
        assert english.message.startswith(f"✗ Exercise {key} (") and ", case " in english.message
        assert chinese.message.startswith(f"✗ 练习 {key}（") and "用例" in chinese.message and chinese.message.endswith("。")
        for words in (", case ", " is wrong", "expected", "has shape", "dimension", "entries", "relative error", "yours"):
            assert words not in chinese.message, (words, chinese.message)  # identifiers and case labels stay English


def test_an_unfinished_exercise_says_so_in_chinese():
    def unfinished(*args):
        raise NotImplementedError

    set_language("zh")
    result = grade("00.1", unfinished, namespace={})
    assert result.unfinished and "尚未完成" in result.message and "0 分" in result.message


def test_the_mistake_named_by_the_self_check_is_in_chinese():
    """The self-check's "Looks like" line: the catalogued mistake's name and hint, from the kit's catalogue."""
    key = "04.1"
    (mistake,) = [m for m in EXERCISES[key].mistakes if m.name == "forgetting eval mode"]
    set_language("zh")
    result = grade(key, mistake.answer, namespace={})
    name, hint = core_i18n._(mistake.name), core_i18n._(mistake.hint)
    assert name != mistake.name and hint != mistake.hint and "model.eval()" in hint  # translated, identifiers kept
    assert result.mistake == mistake.name and result.message.endswith(f"\n  看起来是：{name}。{hint}"), result.message


def test_a_message_from_the_graders_child_is_filled_not_formatted():
    """A (template, values) message may come from the child process a student's answer runs in: only plain
    ``{name}`` fields are filled (values cut to 1,000 characters); a forged template is shown as it is."""
    from cnnviz_helpers.core.i18n import english, translated

    for forged in ("{x:999999999}", "{x.__class__}", "{x!r}", "{y}", "{", "{x[0]}"):
        assert english((forged, {"x": "ab"})) == forged
    assert english(("called the kit's {name}", {"name": "a" * 5000})) == "called the kit's " + "a" * 1000
    assert english(("{{literal}} {name}", {"name": "x"})) == "{literal} x"
    assert translated(("{x:999999999}", {"x": 1})) == "{x:999999999}"
