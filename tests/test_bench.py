"""The benchmarks run: every case of ``make bench`` once at tiny sizes, kit and reference agreeing (no timing asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import Case, run_case
from bench.__main__ import cases

ROOT = Path(__file__).resolve().parents[1]


def _case(target: float, check=None) -> Case:
    return Case("toy", setup=lambda: 3, kit=lambda n: n * 2, reference=lambda n: n + n, target=target, repeat=1, check=check)


def test_run_case_asserts_the_target_only_outside_a_smoke_run():
    assert run_case(_case(target=1e9), smoke=True)["ok"] is True
    assert run_case(_case(target=1e9))["ok"] is False
    assert run_case(_case(target=0.0))["ok"] is True


def test_run_case_raises_when_kit_and_reference_disagree():
    def check(kit_out: object, ref_out: object) -> None:
        assert kit_out != ref_out, "same"

    with pytest.raises(AssertionError, match="same"):
        run_case(_case(target=0.0, check=check), smoke=True)


def test_smoke_runs_every_bench_case():
    """``python -m bench --smoke``: each case's setup, kit, reference and check at tiny sizes, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert run.stdout.count("smoke ok") == len(cases()), run.stdout
