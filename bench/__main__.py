"""``python -m bench [substring]``: run every benchmark case (or those whose name contains the filter)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import torch

from bench import run_case


def main(argv: list[str]) -> int:
    pattern = argv[0] if argv else ""
    torch.set_num_threads(torch.get_num_threads())
    rows = []
    for mod in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not mod.name.startswith("bench_"):
            continue
        for case in importlib.import_module(f"bench.{mod.name}").CASES:
            if pattern in case.name:
                r = run_case(case)
                rows.append(r)
                print(
                    f"{r['name']:<55} kit {r['kit_s'] * 1e3:9.1f} ms   reference {r['reference_s'] * 1e3:9.1f} ms   "
                    f"ratio {r['ratio']:5.2f}x (target ≥ {r['target']:.1f}x) {'ok' if r['ok'] else 'BELOW TARGET'}",
                    flush=True,
                )
    if not rows:
        print(f"no benchmark case matches {pattern!r}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
