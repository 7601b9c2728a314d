"""The language of the kit's messages: self-check feedback, widget labels and status lines, plot titles.

The kit speaks English or Chinese (``zh``). The language is, in order: the one set with
:func:`set_language`, else the environment variable ``CNNVIZ_LANG`` (the Chinese notebooks set it in
their first code cell, so the feedback follows the notebook), else English. Messages are translated
through gettext catalogues shipped in the package (``cnnviz_helpers/locale/<locale>.po``, read with
``polib`` on first use); a message without a translation stays English.

    >>> from cnnviz_helpers import set_language
    >>> set_language("zh")
    >>> _("Run")   # inside the kit: every user-facing string literal goes through _()
    '运行'

Strings with values are translated before they are formatted: ``_("{n} images").format(n=n)``.
"""

from __future__ import annotations

import os
import string
from functools import cache
from pathlib import Path
from typing import Any

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
#: the languages the kit speaks -> their gettext locale ("en" is the source language: no catalogue)
LANGUAGES = {"en": "en", "zh": "zh_CN"}
_ALIASES = {"zh_cn": "zh", "zh-cn": "zh", "zh_hans": "zh", "zh-hans": "zh", "chinese": "zh", "english": "en", "c": "en"}

_chosen: str | None = None

#: a message kept as its English template (the msgid) and its values, worded where it is shown: made in a
#: process that cannot translate it (the grader's child), shown by the one that can (the grader)
Message = tuple[str, dict[str, Any]]


def _normalise(language: str) -> str:
    key = language.strip().lower().split(".")[0]  # "zh_CN.UTF-8" -> "zh_cn"
    code = _ALIASES.get(key, key.split("_")[0] if key.startswith("en") else key)
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: choose one of {', '.join(sorted(LANGUAGES))} (e.g. set_language('zh'))")
    return code


def set_language(language: str | None) -> None:
    """Make the kit speak ``language`` (``"en"`` or ``"zh"``; ``"zh_CN"`` etc. accepted); ``None`` goes back
    to ``CNNVIZ_LANG`` / English. Raises ``ValueError`` for a language the kit does not have."""
    global _chosen
    _chosen = None if language is None else _normalise(language)


def get_language() -> str:
    """The language the kit speaks now: ``"en"`` or ``"zh"`` (see the module docstring for the order)."""
    if _chosen is not None:
        return _chosen
    env = os.environ.get("CNNVIZ_LANG", "").strip()
    return _normalise(env) if env else "en"


@cache
def _catalogue(locale: str) -> dict[str, str]:
    """``{English: translation}`` of the usable entries (translated, not fuzzy) of ``locale``'s catalogue."""
    import polib

    path = LOCALE_DIR / f"{locale}.po"
    if not path.exists():
        return {}
    return {e.msgid: e.msgstr for e in polib.pofile(str(path)) if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}


def _(message: str) -> str:
    """``message`` in the kit's current language (unchanged in English or without a translation)."""
    language = get_language()
    if language == "en":
        return message
    return _catalogue(LANGUAGES[language]).get(message, message)


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """Mark ``message`` for translation without translating it now (a constant translated where it is shown)."""
    return message


def _fill(template: str, values: dict[str, Any]) -> str:
    """``template.format(**values)`` for plain ``{name}`` fields only, each value cut to 1,000 characters.

    A :data:`Message` may come from the grader's child process, where a student's answer runs: a forged
    template with a format spec (``{x:999999999}``), a conversion or an attribute (``{x.__class__}``) is
    shown as it is, never formatted.
    """
    parts = []
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:  # an unmatched brace
        return template
    for text, field, spec, conversion in fields:
        if field is not None and (spec or conversion or field not in values):
            return template
        parts.append(text + ("" if field is None else str(values[field])[:1000]))
    return "".join(parts)


def english(message: Message) -> str:
    """``message`` in English (the text that tools and the instructor's reports read, in every language)."""
    template, values = message
    return _fill(template, values)


def translated(message: Message) -> str:
    """``message`` in the kit's current language."""
    template, values = message
    return _fill(_(template), values)
