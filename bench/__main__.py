"""``python -m bench [--smoke] [substring]``: run every benchmark case (or those whose name contains the filter).

Exit status 1 when a case fails its check, raises, or (not with ``--smoke``) misses its target.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path

import torch

import bench
from bench import Case, run_case


def cases() -> list[Case]:
    """Every case of every ``bench/bench_*.py`` module (imported now, so :data:`bench.SMOKE` applies to their sizes)."""
    found: list[Case] = []
    for mod in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if mod.name.startswith("bench_"):
            found.extend(importlib.import_module(f"bench.{mod.name}").CASES)
    return found


def main(argv: list[str]) -> int:
    bench.SMOKE = "--smoke" in argv
    args = [a for a in argv if a != "--smoke"]
    pattern = args[0] if args else ""
    torch.set_num_threads(torch.get_num_threads())
    selected = [case for case in cases() if pattern in case.name]
    if not selected:
        print(f"no benchmark case matches {pattern!r}")
    failed = 0
    for case in selected:
        try:
            r = run_case(case, smoke=bench.SMOKE)
        except Exception:  # report every broken case, not only the first
            failed += 1
            print(f"{case.name:<55} FAILED\n{traceback.format_exc()}", flush=True)
            continue
        failed += not r["ok"]
        verdict = (
            "smoke ok (no target)" if bench.SMOKE else f"(target ≥ {r['target']:.3g}x) {'ok' if r['ok'] else 'BELOW TARGET'}"
        )
        print(
            f"{r['name']:<55} kit {r['kit_s'] * 1e3:9.1f} ms   reference {r['reference_s'] * 1e3:9.1f} ms   "
            f"ratio {r['ratio']:5.2f}x {verdict}",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
