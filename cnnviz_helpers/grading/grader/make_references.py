"""Regenerate the students' self-check files (visible cases, their float64 outputs, the check's settings,
the catalogued mistakes' outputs on those cases):

    python -m cnnviz_helpers.grading.grader.make_references          # write cnnviz_helpers/grading/references/
    python -m cnnviz_helpers.grading.grader.make_references --check  # exit 1 if a stored file is stale

Each exercise's cases come from a generator seeded with its key; the tiny models' weights are
seeded too and stored with the cases, so the files do not depend on the notebook's model. Hidden
cases are never stored: the grader draws every case again at grading time, from a seed chosen then.
Of the mistakes only wrong outputs, names and hints are stored (the self-check names the one a wrong
answer matches); the reference answer itself never is.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from typing import Any

import numpy as np
import torch

from ..compare import compare
from ..runner import kit_name, load_reference, materialise, reference_path
from ..tiny import is_model_ref, seeded_state
from .exercises import EXERCISES
from .exercises.spec import Case, Exercise, Mistake


def _storable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_storable(v) for v in value)
    return value


def _model_names(args: Any) -> set[str]:
    if is_model_ref(args):
        return {args[7:-1]}
    if isinstance(args, (list, tuple)):
        return set().union(*(_model_names(a) for a in args)) if args else set()
    return set()


def settings(ex: Exercise) -> dict[str, Any]:
    """What the self-check needs to know of exercise ``ex`` (plain data: names, numbers, ``"module:qualname"``
    of the kit functions it blocks and lends, the name of its :mod:`~cnnviz_helpers.grading.harness` call)."""
    return {
        "function": ex.function,
        "todo": ex.todo,
        "tol": ex.tol,
        "exact": ex.exact,
        "train_mode": ex.train_mode,
        "differentiable": ex.differentiable,
        "kit": [kit_name(fn) for fn in ex.kit],
        "lends": {name: kit_name(fn) for name, fn in ex.lends.items()},
        "call": ex.call.__name__ if ex.call else None,
    }


def _mistake_output(ex: Exercise, mistake: Mistake, case: Case, models: dict[str, Any], expected: Any) -> Any:
    """``mistake``'s float64 output on ``case``; None where it raises or cannot be told from ``expected``."""
    try:
        got = ex.run(mistake.answer, materialise(case.args, models, torch.float64, train=ex.train_mode))
    except Exception:  # noqa: BLE001  (a mistake that does not apply to this case)
        return None
    return None if compare(got, expected, ex.tol, ex.exact)[0] <= ex.tol else _storable(got)


def build_reference(key: str) -> dict[str, Any]:
    """Exercise ``key``'s visible cases with their float64 expected outputs, and each catalogued ``"value"``
    mistake's name, hint and outputs on them (None on a case where it raises or equals the expected output;
    a mistake equal to it on every visible case is left out): what ``references/<key>.pt`` holds.

    Computed on one thread: a float64 reduction split over threads sums in another order (07b.2's training
    step differed in its last bits with two), and ``--check`` compares bit for bit.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _build_reference(key)
    finally:
        torch.set_num_threads(threads)


def _build_reference(key: str) -> dict[str, Any]:
    ex = EXERCISES[key]
    seed = zlib.crc32(key.encode())
    cases = [c for c in ex.cases(torch.Generator().manual_seed(seed)) if not c.hidden]
    names = sorted(set().union(*(_model_names(c.args) for c in cases)))
    models = {name: seeded_state(name, seed + i) for i, name in enumerate(names)}
    stored = []
    for case in cases:
        expected = ex.run(ex.reference, materialise(case.args, models, torch.float64, train=ex.train_mode))
        stored.append({"label": case.label, "args": list(case.args), "expected": _storable(expected)})
    mistakes = []
    for mistake in (m for m in ex.mistakes if m.detector == "value"):
        outputs = [_mistake_output(ex, mistake, c, models, s["expected"]) for c, s in zip(cases, stored)]
        if any(o is not None for o in outputs):
            mistakes.append({"name": mistake.name, "hint": mistake.hint, "outputs": outputs})
    return {"settings": settings(ex), "cases": stored, "models": models, "mistakes": mistakes}


def same(a: Any, b: Any) -> bool:
    """Exact equality of two stored structures (tensors compared with ``torch.equal``)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def stale() -> list[str]:
    """Keys whose stored file is missing or differs from what :func:`build_reference` computes now."""
    out = []
    for key in EXERCISES:
        if not reference_path(key).exists() or not same(load_reference(key), build_reference(key)):
            out.append(key)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a stored reference is stale")
    args = parser.parse_args()
    if args.check:
        bad = stale()
        for key in bad:
            print(f"stale: {reference_path(key).name}")
        return 1 if bad else 0
    reference_path("x").parent.mkdir(exist_ok=True)
    for key in EXERCISES:
        torch.save(build_reference(key), reference_path(key))
        print(f"wrote {reference_path(key).name}")
    load_reference.cache_clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
