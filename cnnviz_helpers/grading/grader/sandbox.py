"""Grade one exercise of a submission in a fresh child process, on inputs drawn now, against references computed here.

The grader's side of :mod:`.child`: it draws the exercise's cases (visible and hidden) from a seed
chosen at grading time, computes the expected outputs in float64 in *this* process, hands the child
only the float32 inputs and the answer's source, kills it at a time limit measured from the
reference's own run time, and compares what comes back. The student's kernel never decides anything.
Its feedback is worded here, in the course's language (``CNNVIZ_LANG`` when grading, see
:mod:`cnnviz_helpers.core.i18n`); the flags for the instructor stay English.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...core.i18n import N_, Message, _, english, translated
from ..compare import compare, explain
from ..runner import materialise
from ..tiny import seeded_state
from .exercises.spec import Case, Exercise

KIT_ROOT = Path(__file__).resolve().parents[3]
GRADING_DIR = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).resolve().parent / "child.py"

#: the grading package and the kit's UI package (dotted names derived here, not written out: they name
#: what the child refuses or skips, they import nothing)
GRADING = __package__.rpartition(".")[0]
UI = GRADING.rpartition(".")[0] + ".ui"
#: other libraries' implementations of the course's methods: never importable by an answer, never executed
BLOCKED_PACKAGES = (GRADING, "captum", "pytorch_grad_cam", "torchcam", "lucent", "torchray", "zennit")
#: imports of the notebook that an answer never needs (and that only slow the child's start)
SKIPPED_IMPORTS = (
    GRADING,
    UI,
    "IPython",
    "ipywidgets",
    "matplotlib",
    "importlib",
    "subprocess",
)
#: the child's time limit: this many times the reference's own run time, and never below LIMIT_FLOOR_S
LIMIT_FACTOR = 100
LIMIT_FLOOR_S = 10.0
#: seconds the fork server may take to start (import torch and the kit once)
STARTUP_S = 300.0


@dataclass
class Verdict:
    """One exercise of one submission, graded: ``passed``, the feedback, and why it is flagged (``reasons``)."""

    key: str
    passed: bool
    message: str
    reasons: list[Message] = field(default_factory=list)
    mistake: str | None = None

    @property
    def flags(self) -> list[str]:
        """The reasons in English, for the instructor's report and CSV (the same in every course language)."""
        return [english(r) for r in self.reasons]

    @property
    def score(self) -> float:
        """1.0 for a correct answer without flags, else 0.0."""
        return 1.0 if self.passed and not self.flags else 0.0


def notebook_imports(sources: list[str]) -> list[str]:
    """The top-level import statements of the instructor's notebook cells (the answer may use their names)."""
    lines = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            if not any(n == s or n.startswith(s + ".") for n in names for s in SKIPPED_IMPORTS):
                lines.append(ast.unparse(node))
    return lines


def _source(fn: Any) -> str:
    """The source of a grader function the child runs (a harness, a lent reference), with its imports."""
    return (
        "from __future__ import annotations\nfrom typing import Any\nimport torch\nimport torch.nn.functional as F\n"
        + inspect.getsource(fn)
    )


def _from_child(value: Any) -> Any:
    """The child's plain data back into what the answer returned (arrays), for :func:`compare`."""
    if isinstance(value, dict) and set(value) == {"__ndarray__"}:
        return value["__ndarray__"].numpy()
    if isinstance(value, dict) and set(value) == {"__unsupported__"}:
        return f"<a {value['__unsupported__']} object>"
    if isinstance(value, dict):
        return {k: _from_child(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_from_child(v) for v in value)
    return value


class Sandbox:
    """The fork server of :mod:`.child`, started once per grading run (``with Sandbox() as box:``).

    :meth:`run` hands it one job and kills the forked child at the time limit; a server that a child
    managed to end is started again for the next job.
    """

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="cnnviz-grade-")
        self.proc: subprocess.Popen | None = None
        self.jobs = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server and delete the jobs' files."""
        if self.proc is not None:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        self.tmp.cleanup()

    def _start(self) -> subprocess.Popen:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        env = {"PATH": os.defpath, "HOME": self.tmp.name, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8"}
        env |= {"CNNVIZ_OFFLINE": "1", "CNNVIZ_FAST": "1", "MPLBACKEND": "Agg"}
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(CHILD), str(KIT_ROOT)],
            cwd=self.tmp.name,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("CNNVIZ_GRADER_DEBUG") else subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group: killed with everything it started
        )
        if _read_line(self.proc, STARTUP_S) != "ready":
            raise RuntimeError("the grader's child process did not start: run with CNNVIZ_GRADER_DEBUG=1 to see why")
        return self.proc

    def run(self, job: dict[str, Any], limit_s: float) -> dict[str, Any]:
        """Run ``job`` in a fresh forked child for at most ``limit_s`` seconds; what it wrote back."""
        proc = self._start()
        self.jobs += 1
        job_path, result_path = Path(self.tmp.name) / f"job{self.jobs}.pt", Path(self.tmp.name) / f"result{self.jobs}.pt"
        torch.save(job, job_path)
        assert proc.stdin is not None
        proc.stdin.write(f"{job_path} {result_path}\n")
        proc.stdin.flush()
        started = _read_line(proc, 60.0)
        if not started.startswith("started "):
            self.close_server()
            return {"error": (N_("the grader's child process did not start"), {}), "crash": True}
        pid = int(started.split()[1])
        if not _read_line(proc, limit_s).startswith("exited"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not _read_line(proc, 30.0).startswith("exited"):
                self.close_server()
            return {"timeout": True}
        try:
            return torch.load(result_path, weights_only=True)  # the child ran untrusted code: plain data only
        except Exception:  # noqa: BLE001  (no result: the answer ended its own process)
            return {"error": (N_("your code ended the grader's process before it finished"), {})}
        finally:
            job_path.unlink(missing_ok=True)
            result_path.unlink(missing_ok=True)

    def close_server(self) -> None:
        """Kill the server (a child broke it); the next job starts a new one."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        self.proc = None


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    """The next line the server prints, or ``""`` after ``timeout_s`` seconds or when it has gone."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=timeout_s):
            return ""
        return proc.stdout.readline().strip()


def _model_names(args: Any) -> set[str]:
    if isinstance(args, str) and args.startswith("<model:"):
        return {args[7:-1]}
    if isinstance(args, (list, tuple)):
        return set().union(*(_model_names(a) for a in args)) if args else set()
    return set()


@dataclass
class Draw:
    """An exercise's cases drawn from one seed: float64 inputs and expected outputs (the grader's own),
    float32 inputs (what the child receives) and the reference's run time."""

    cases: list[Case]
    inputs64: list[Any]
    expected: list[Any]
    inputs32: list[Any]
    reference_s: float


def draw(ex: Exercise, seed: int) -> Draw:
    """Draw exercise ``ex``'s cases (visible and hidden) from ``seed`` and compute the expected outputs here."""
    cases = ex.cases(torch.Generator().manual_seed(seed))
    names = sorted(set().union(*(_model_names(c.args) for c in cases)))
    models = {name: seeded_state(name, seed + i) for i, name in enumerate(names)}
    inputs64, expected, t_ref = [], [], 0.0
    for case in cases:
        inputs64.append(materialise(case.args, models, torch.float64, train=ex.train_mode))
        start = time.perf_counter()
        expected.append(ex.run(ex.reference, materialise(case.args, models, torch.float64, train=ex.train_mode)))
        t_ref += time.perf_counter() - start
    inputs32 = [materialise(c.args, models, torch.float32, train=ex.train_mode) for c in cases]
    return Draw(cases, inputs64, expected, inputs32, t_ref)


def title(ex: Exercise) -> str:
    """How the feedback names exercise ``ex`` (as the self-check does)."""
    return _("Exercise {key} ({function})").format(key=ex.key, function=ex.function)


def flagged(ex: Exercise, reasons: list[Message], own_code: bool = True) -> Verdict:
    """0 points for exercise ``ex``, flagged for ``reasons``; ``own_code``: the answer itself did what they say."""
    if own_code:
        message = _("✗ {title}: 0 points, flagged: {reasons}. This exercise asks for your own code.")
    else:
        message = _("✗ {title}: 0 points, flagged: {reasons}.")
    said = "; ".join(translated(r) for r in reasons)
    return Verdict(ex.key, False, message.format(title=title(ex), reasons=said), reasons)


def grade_answer(box: Sandbox, ex: Exercise, cells: list[str], preamble: list[str], seed: int) -> Verdict:
    """Grade exercise ``ex`` of one submission: ``cells`` are its answer cells (the exercise's own last).

    The cases are drawn from ``seed`` (chosen by the caller at grading time), the expected outputs
    computed here in float64; the child runs the answer in float32 on the same inputs.
    """
    d = draw(ex, seed)
    job = {
        "function": ex.function,
        "cells": cells,
        "preamble": preamble,
        "inputs": d.inputs32,
        "differentiable": ex.differentiable,
        "call": (ex.call.__name__, _source(ex.call)) if ex.call else None,
        "provides": {name: (fn.__name__, _source(fn)) for name, fn in ex.provides.items()},
        "blocked": list(ex.kit),
        "packages": list(BLOCKED_PACKAGES),
        "grading_dir": str(GRADING_DIR),
    }
    limit = max(LIMIT_FLOOR_S, LIMIT_FACTOR * d.reference_s)
    result = box.run(job, limit)
    if result.get("flags"):
        return flagged(ex, result["flags"])
    if result.get("timeout"):
        message = _("✗ {title}: stopped after {limit:.0f} s (the reference takes {reference:.2f} s): an endless loop?")
        return Verdict(ex.key, False, message.format(title=title(ex), limit=limit, reference=d.reference_s))
    if result.get("unfinished"):
        message = _("{title} is not done yet: {todo} (0 points)")
        return Verdict(ex.key, False, message.format(title=title(ex), todo=_(ex.todo)))
    if "error" in result:
        return Verdict(ex.key, False, _("✗ {title}: {error}").format(title=title(ex), error=translated(result["error"])))
    return verdict(ex, d, result["cases"])


def verdict(ex: Exercise, d: Draw, got: list[dict[str, Any]]) -> Verdict:
    """Compare the child's outputs (``got``, one ``{"output"}`` or ``{"problem", "detector"}`` per case)
    with the expected ones; name the catalogued mistake when one matches."""
    outputs = [_from_child(g["output"]) if "output" in g else None for g in got]
    if len(got) < len(d.cases) and not any("problem" in g for g in got):
        return Verdict(ex.key, False, _("✗ {title}: your function did not run on every case.").format(title=title(ex)))
    for i, (case, g, exp) in enumerate(zip(d.cases, got, d.expected)):
        label = (_("hidden case {case!r}") if case.hidden else _("case {case!r}")).format(case=case.label)
        if "problem" in g:
            mistake = next((m for m in ex.mistakes if m.detector == g["detector"]), None)
            message = _("✗ {title}, {label}: {problem}.").format(title=title(ex), label=label, problem=translated(g["problem"]))
            return _wrong(ex, message, mistake)
        err, where = compare(outputs[i], exp, ex.tol, ex.exact)
        if err > ex.tol:
            what = explain(outputs[i], exp, err, where, ex.tol, ex.exact)
            message = _("✗ {title}, {label}: {where}").format(title=title(ex), label=label, where=what)
            return _wrong(ex, message, _identify(ex, outputs, d.inputs64))
    done = _("✓ {title}: correct on {n} cases drawn at grading time ({hidden} hidden).")
    return Verdict(ex.key, True, done.format(title=title(ex), n=len(d.cases), hidden=sum(c.hidden for c in d.cases)))


def _wrong(ex: Exercise, message: str, mistake: Any) -> Verdict:
    """A wrong answer's verdict: ``message``, then the catalogued ``mistake`` it looks like (if any) with its hint."""
    if mistake is None:
        return Verdict(ex.key, False, message)
    looks = _("Looks like: {name}. {hint}").format(name=_(mistake.name), hint=_(mistake.hint))
    return Verdict(ex.key, False, message + "\n  " + looks, mistake=mistake.name)


def _identify(ex: Exercise, outputs: list[Any], inputs64: list[Any]) -> Any:
    """The catalogued mistake whose outputs equal the answer's on every case, if any."""
    for mistake in ex.mistakes:
        if mistake.detector != "value" or any(o is None for o in outputs):
            continue
        try:
            if all(
                compare(o, ex.run(mistake.answer, _fresh(a)), ex.tol, ex.exact)[0] <= ex.tol for o, a in zip(outputs, inputs64)
            ):
                return mistake
        except Exception:  # noqa: BLE001, S112  (a mistake that does not apply to these inputs)
            continue
    return None


def _fresh(args: Any) -> Any:
    """A copy of float64 inputs (a mistake may modify them in place)."""
    if isinstance(args, torch.Tensor):
        return args.clone()
    if isinstance(args, (list, tuple)):
        return type(args)(_fresh(a) for a in args)
    if isinstance(args, np.ndarray):
        return args.copy()
    import copy

    return copy.deepcopy(args)
