"""Write the README's methods table from the registry (``make methods-table``).

The table sits between the two marker lines below in README.md; ``tests/test_methods.py`` fails when
it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cnnviz_helpers.methods import methods_table

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN = "<!-- methods table: generated from cnnviz_helpers/methods.py by `make methods-table` -->"
END = "<!-- end of methods table -->"


def with_table(readme: str) -> str:
    """``readme`` with the text between the markers replaced by :func:`methods_table`."""
    head, sep, rest = readme.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"README.md lacks the markers {BEGIN!r} … {END!r}")
    return f"{head}{BEGIN}\n{methods_table()}{END}{tail}"


def main() -> int:
    README.write_text(with_table(README.read_text()))
    print(f"wrote the methods table into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
