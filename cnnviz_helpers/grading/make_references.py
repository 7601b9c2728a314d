"""Regenerate every graded exercise's stored references (inputs and float64 outputs), one command:

    python -m cnnviz_helpers.grading.make_references          # write cnnviz_helpers/grading/references/
    python -m cnnviz_helpers.grading.make_references --check  # exit 1 if a stored file is stale

Each exercise's cases come from a generator seeded with its key; the tiny models' weights are
seeded too and stored with the cases, so the files do not depend on the notebook's model.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from typing import Any

import numpy as np
import torch

from .catalogue import EXERCISES
from .runner import load_reference, materialise, reference_path
from .spec import is_model_ref
from .tiny import seeded_state


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


def build_reference(key: str) -> dict[str, Any]:
    """Exercise ``key``'s cases with their float64 expected outputs (what ``references/<key>.pt`` holds)."""
    ex = EXERCISES[key]
    seed = zlib.crc32(key.encode())
    cases = ex.cases(torch.Generator().manual_seed(seed))
    names = sorted(set().union(*(_model_names(c.args) for c in cases)))
    models = {name: seeded_state(name, seed + i) for i, name in enumerate(names)}
    stored = []
    for case in cases:
        expected = ex.run(ex.reference, materialise(case.args, models, torch.float64, train=ex.train_mode))
        stored.append({"label": case.label, "args": list(case.args), "hidden": case.hidden, "expected": _storable(expected)})
    return {"cases": stored, "models": models}


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
