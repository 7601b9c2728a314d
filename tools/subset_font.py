"""Write the CJK font the plots use for Chinese text: a subset of Noto Sans CJK SC (SIL OFL 1.1).

    python tools/subset_font.py [path/to/NotoSansCJK-Regular.ttc]

Debian / Ubuntu: ``apt-get install fonts-noto-cjk`` gives ``/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc``.
The subset keeps the 3,755 common characters of GB 2312 level 1, every character of the package's message catalogues
(``cnnviz_helpers/locale/*.po``: what the kit draws in plots; notebook markdown is rendered by the browser),
CJK punctuation and full-width forms, and is renamed
"Noto Sans SC cnnviz" (the OFL allows modified versions; Noto declares no reserved font name). It is written to
``cnnviz_helpers/fonts/`` next to the licence (``OFL.txt``); :mod:`cnnviz_helpers.ui.plotting` registers it.
Run it again after adding package messages (``tests/test_plot_fonts.py`` fails on a character the font lacks).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = ROOT / "cnnviz_helpers" / "fonts" / "NotoSansSC-cnnviz.otf"
FAMILY = "Noto Sans SC cnnviz"


def gb2312_level1() -> set[str]:
    """The 3,755 most common simplified characters (GB 2312 rows 16–55)."""
    chars = set()
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def catalogue_chars() -> set[str]:
    """Every non-ASCII character of the package's message catalogues."""
    paths = list((ROOT / "cnnviz_helpers" / "locale").glob("*.po"))
    return {c for p in paths for c in p.read_text(encoding="utf-8") if ord(c) > 0x7F}


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    font = next(f for f in TTCollection(str(source)).fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    chars = (
        gb2312_level1() | catalogue_chars() | {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF01, 0xFF5F)}
    )
    options = subset.Options()
    options.name_IDs = ["*"]
    options.layout_features = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    for name_id, value in ((1, FAMILY), (3, f"{FAMILY} subset"), (4, FAMILY), (6, FAMILY.replace(" ", "")), (16, FAMILY)):
        font["name"].setName(value, name_id, 3, 1, 0x409)
    OUT.parent.mkdir(exist_ok=True)
    font.save(str(OUT))
    print(f"wrote {OUT.relative_to(ROOT)}: {len(chars)} characters, {OUT.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
