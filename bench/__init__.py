"""Speed benchmarks: each case times the kit's implementation against a reference in the same run.

A module ``bench/bench_<topic>.py`` defines ``CASES: list[Case]``. ``make bench`` (``python -m bench
[filter]``) runs them all and prints ``reference time / kit time`` — a ratio, never an absolute
time, so results compare across machines. Each case states the ratio its issue asks for.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


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


def run_case(case: Case) -> dict[str, float | bool | str]:
    """Warm up both, then alternate kit / reference ``repeat`` times; medians and their ratio."""
    torch.manual_seed(0)
    inputs = case.setup()
    _, kit_out = _time(case.kit, inputs)
    _, ref_out = _time(case.reference, inputs)
    if case.check is not None:
        case.check(kit_out, ref_out)
    kit_t, ref_t = [], []
    for _ in range(case.repeat):
        kit_t.append(_time(case.kit, inputs)[0])
        ref_t.append(_time(case.reference, inputs)[0])
    k, r = statistics.median(kit_t), statistics.median(ref_t)
    return {"name": case.name, "kit_s": k, "reference_s": r, "ratio": r / k, "target": case.target, "ok": r / k >= case.target}
