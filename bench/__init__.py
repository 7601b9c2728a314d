"""Speed benchmarks: each case times the kit's implementation against a reference in the same run.

A module ``bench/bench_<topic>.py`` defines ``CASES: list[Case]``. ``make bench`` (``python -m bench
[filter]``) runs them all and prints ``reference time / kit time`` — a ratio, never an absolute
time, so results compare across machines. Each case's target is set from ratios measured on an
idle 2-core CPU, low enough that noise does not fail it, high enough that a real regression does;
the comment next to the case gives the measured range.

``python -m bench --smoke`` runs every case once at tiny sizes (sizes chosen with :func:`sized`),
checks that kit and reference agree, and asserts no timing target: ``tests/test_bench.py`` runs it
in ``make test``, so a case that breaks is seen without waiting for a benchmark run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

T = TypeVar("T")

#: True in a smoke run; set by ``python -m bench --smoke`` before the case modules are imported.
SMOKE = False


def sized(full: T, smoke: T) -> T:
    """``full`` in a benchmark run, ``smoke`` in a smoke run (for sizes, steps, sample counts at import time)."""
    return smoke if SMOKE else full


@dataclass
class Case:
    """One comparison. ``setup()`` returns the shared inputs; ``kit`` and ``reference`` take them."""

    name: str
    setup: Callable[[], object]
    kit: Callable[[object], object]
    reference: Callable[[object], object]
    target: float = 1.0  # required reference/kit ratio
    repeat: int = 5
    check: Callable[[object, object], None] | None = None  # asserts the two outputs agree


def _time(fn: Callable[[object], object], inputs: object) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(inputs)
    return time.perf_counter() - t0, out


def run_case(case: Case, smoke: bool = False) -> dict[str, float | bool | str]:
    """Warm up both (and check they agree), then alternate kit / reference ``repeat`` times; medians and their ratio.

    ``smoke=True``: the warm-up and the check only (one call each, the ratio is printed but not asserted).
    """
    torch.manual_seed(0)
    inputs = case.setup()
    kit_s, kit_out = _time(case.kit, inputs)
    ref_s, ref_out = _time(case.reference, inputs)
    if case.check is not None:
        case.check(kit_out, ref_out)
    if smoke:
        return {
            "name": case.name,
            "kit_s": kit_s,
            "reference_s": ref_s,
            "ratio": ref_s / kit_s,
            "target": case.target,
            "ok": True,
        }
    kit_t, ref_t = [], []
    for _ in range(case.repeat):
        kit_t.append(_time(case.kit, inputs)[0])
        ref_t.append(_time(case.reference, inputs)[0])
    k, r = statistics.median(kit_t), statistics.median(ref_t)
    return {"name": case.name, "kit_s": k, "reference_s": r, "ratio": r / k, "target": case.target, "ok": r / k >= case.target}
