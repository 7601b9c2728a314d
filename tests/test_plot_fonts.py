"""Chinese plot text renders with the kit's font: no missing-glyph warning (no tofu boxes)."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from fontTools.ttLib import TTFont  # noqa: E402

from cnnviz_helpers.core import i18n as core_i18n  # noqa: E402
from cnnviz_helpers.ui import plotting  # noqa: E402


def _render(title: str) -> list[str]:
    """Draw ``title`` as a title, an axis label and a tick label; the warnings raised while saving a PNG."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title(title)
        ax.set_xlabel(title)
        ax.set_xticks([0.5], [title])
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]


def test_a_chinese_title_renders_without_missing_glyphs():
    assert _render("显著图：遮挡实验的热力图（类别得分下降）") == []


def test_without_the_kit_font_the_same_title_warns():
    """The check above can fail: with only DejaVu Sans the glyphs are missing and matplotlib says so."""
    with matplotlib.rc_context({"font.family": ["sans-serif"]}):
        assert _render("显著图") != []


def test_the_font_covers_every_character_the_kit_draws():
    """The package's messages (labels, titles, feedback) — notebook markdown is rendered by the browser, not matplotlib."""
    cmap = TTFont(plotting.CJK_FONT).getBestCmap()
    text = "".join(core_i18n._catalogue("zh_CN").values())
    missing = sorted({c for c in text if ord(c) > 0x2000 and ord(c) not in cmap and not 0x2190 <= ord(c) <= 0x2BFF})
    assert missing == [], f"run `python tools/subset_font.py`: the font lacks {''.join(missing)}"


@pytest.mark.parametrize("message", ["停止", "模型与图像", "最大激活图像块"])
def test_translated_labels_render(message):
    assert _render(message) == []
