"""Run a student's function on the stored cases, with the kit's answer out of reach, and say what is wrong.

:func:`check` is what a notebook's ``# Self-check`` cell calls. It never raises (so *Run All* goes
on past an unfinished or wrong exercise); feedback on a failure goes to stderr, which nbgrader
scores as 0 points, a pass goes to stdout (full points). ``CNNVIZ_STRICT_CHECKS=1`` (set by
``make test``) turns a failure into an ``AssertionError`` so that a check that fails a correct
answer stops the test run.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import CodeType, FunctionType
from typing import Any

import numpy as np
import torch

from .compare import compare, explain
from .spec import Case, Exercise, Mistake, is_model_ref
from .tiny import build

REFERENCES = Path(__file__).resolve().parent / "references"


class KitCalled(RuntimeError):
    """Raised by a blocked kit function while a student's answer runs."""


@dataclass
class Result:
    """The outcome of one check: ``passed``, the feedback ``message`` and, for tests, the mistake named."""

    key: str
    passed: bool
    message: str
    mistake: str | None = None
    unfinished: bool = False


# --------------------------------------------------------------------------------------------
# stored references
# --------------------------------------------------------------------------------------------


def reference_path(key: str) -> Path:
    """The file holding exercise ``key``'s inputs and float64 expected outputs."""
    return REFERENCES / f"{key}.pt"


@cache
def load_reference(key: str) -> dict[str, Any]:
    """``{"cases": [{"label", "args", "hidden", "expected"}], "models": {name: state}}`` of exercise ``key``."""
    path = reference_path(key)
    if not path.exists():
        raise FileNotFoundError(f"no stored reference for exercise {key}: run `python -m cnnviz_helpers.grading.make_references`")
    return torch.load(path, weights_only=True)


def materialise(arg: Any, models: dict[str, dict[str, torch.Tensor]], dtype: torch.dtype, train: bool = False) -> Any:
    """A stored argument as the answer receives it: tensors in ``dtype`` (fresh copies), tiny models built."""
    if is_model_ref(arg):
        name = arg[7:-1]
        return build(name, models[name], dtype, train=train)
    if isinstance(arg, torch.Tensor):
        return arg.to(dtype).clone() if arg.is_floating_point() else arg.clone()
    if isinstance(arg, (list, tuple)):
        return type(arg)(materialise(a, models, dtype, train) for a in arg)
    return copy.deepcopy(arg)


# --------------------------------------------------------------------------------------------
# keeping the answer key out of reach
# --------------------------------------------------------------------------------------------


def _blocked_code(name: str) -> CodeType:
    """Code of a function that reports a call to the kit's ``name`` and raises :class:`KitCalled`."""
    src = (
        f"def _blocked(*args, **kwargs):\n"
        f"    raise __import__('cnnviz_helpers.grading.runner', fromlist=['kit_called']).kit_called({name!r})\n"
    )
    scope: dict[str, Any] = {}
    exec(src, scope)  # noqa: S102  (a fixed template: the only way to build a replacement code object)
    return scope["_blocked"].__code__


_CALLS: list[str] = []


def kit_called(name: str) -> KitCalled:
    """Record that the answer called the kit's ``name``; returns the exception the blocked function raises."""
    _CALLS.append(name)
    return KitCalled(f"the kit's {name} is not available while your answer is checked")


def _resolve(spec: str) -> FunctionType:
    module, _, attr = spec.partition(":")
    fn = getattr(importlib.import_module(module), attr)
    return inspect.unwrap(fn)


@contextmanager
def kit_blocked(functions: list[FunctionType]) -> Iterator[list[str]]:
    """While the block runs, calling any of ``functions`` — by any name, alias or stored reference —
    raises :class:`KitCalled`; yields the list of blocked names that were called."""
    saved = []
    for fn in functions:
        if not fn.__code__.co_freevars:  # closures cannot take another code object
            saved.append((fn, fn.__code__))
            fn.__code__ = _blocked_code(fn.__name__)
    _CALLS.clear()
    try:
        yield _CALLS
    finally:
        for fn, code in saved:
            fn.__code__ = code


@contextmanager
def bound(namespace: dict[str, Any], names: dict[str, Any]) -> Iterator[None]:
    """Temporarily bind ``names`` in ``namespace`` (the notebook's), restoring what was there."""
    missing = object()
    old = {k: namespace.get(k, missing) for k in names}
    namespace.update(names)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is missing:
                namespace.pop(k, None)
            else:
                namespace[k] = v


# --------------------------------------------------------------------------------------------
# comparing outputs
# --------------------------------------------------------------------------------------------


def _tensors(args: Any) -> list[torch.Tensor]:
    if isinstance(args, torch.Tensor):
        return [args]
    if isinstance(args, (list, tuple)):
        return [t for a in args for t in _tensors(a)]
    return []


def _model_state(args: tuple[Any, ...]) -> list[Any]:
    from ..core.layers import model_state

    return [model_state(a) for a in args if isinstance(a, torch.nn.Module)]


# --------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------


def _one_case(ex: Exercise, answer: Callable[..., Any], case: Case, expected: Any, models: dict) -> tuple[float, str, str | None]:
    """Run ``answer`` on one case: ``(error, what is wrong, detector of a behavioural mistake)``."""
    args = materialise(case.args, models, torch.float32, train=ex.train_mode)
    if ex.differentiable:
        for t in _tensors(args)[:1]:
            t.requires_grad_(True)
    before = [t.detach().clone() for t in _tensors(args)]
    flags = [t.requires_grad for t in _tensors(args)]
    state = _model_state(args)
    got = ex.run(answer, args)
    if any(not torch.equal(b, t.detach()) for b, t in zip(before, _tensors(args))) or flags != [
        t.requires_grad for t in _tensors(args)
    ]:
        return (
            float("inf"),
            "your function modified its input in place (work on a copy: x.clone() / x.detach().clone())",
            "inplace",
        )
    if state != _model_state(args):
        return float("inf"), "your function left the model changed (its train/eval mode, a hook or requires_grad)", "model"
    if ex.differentiable and not (isinstance(got, torch.Tensor) and got.requires_grad):
        return (
            float("inf"),
            "the loss carries no gradient (no .item(), float(...), .detach() or torch.no_grad() inside a loss)",
            "nograd",
        )
    err, where = compare(got, expected, ex.tol, ex.exact)
    if err > ex.tol:
        where = explain(got, expected, err, where, ex.tol, ex.exact)
    return err, where, None


def _identify(
    ex: Exercise, answer: Callable[..., Any], cases: list[tuple[Case, Any]], models: dict, detector: str | None
) -> Mistake | None:
    """The catalogued mistake the answer made, if any (behavioural ones by their detector)."""
    if detector:
        return next((m for m in ex.mistakes if m.detector == detector), None)
    for mistake in ex.mistakes:
        if mistake.detector != "value":
            continue
        try:
            same = all(
                compare(
                    ex.run(answer, materialise(c.args, models, torch.float32, ex.train_mode)),
                    ex.run(mistake.answer, materialise(c.args, models, torch.float64, ex.train_mode)),
                    ex.tol,
                    ex.exact,
                )[0]
                <= ex.tol
                for c, _ in cases
            )
        except Exception:  # noqa: BLE001  (a mistake that does not apply to this answer)
            same = False
        if same:
            return mistake
    return None


def grade(key: str, answer: Callable[..., Any], hidden: bool = False, namespace: dict[str, Any] | None = None) -> Result:
    """Check ``answer`` for exercise ``key`` on its stored (visible or ``hidden``) cases; see :func:`check`."""
    from .catalogue import EXERCISES

    ex = EXERCISES[key]
    ref = load_reference(key)
    models = ref["models"]
    cases = [(Case(c["label"], tuple(c["args"]), c["hidden"]), c["expected"]) for c in ref["cases"] if c["hidden"] == hidden]
    blocked = [_resolve(s) for s in ex.kit] + [inspect.unwrap(ex.reference)]
    namespace = {} if namespace is None else namespace
    title = f"Exercise {key} ({ex.function})"
    worst, detector, failure = 0.0, None, None
    with bound(namespace, ex.provides), kit_blocked(blocked) as calls:
        for case, expected in cases:
            try:
                err, where, detector = _one_case(ex, answer, case, expected, models)
            except NotImplementedError:
                return Result(key, False, f"{title} is not done yet: {ex.todo} (0 points until then)", unfinished=True)
            except KitCalled:
                err, where = float("inf"), ""
            except Exception as e:  # noqa: BLE001  (any error in the student's code is feedback, not a crash)
                if calls:
                    err, where = float("inf"), ""
                else:
                    return Result(key, False, f"✗ {title}: on case {case.label!r} your function raised {type(e).__name__}: {e}")
            if calls:
                names = ", ".join(sorted(set(calls)))
                return Result(
                    key,
                    False,
                    f"✗ {title}: your function called the kit's {names}. This exercise asks for your own code (0 points).",
                )
            if err > ex.tol:
                failure = (case, err, where)
                break
            worst = max(worst, err)
    if failure is None:
        what = "exactly" if ex.exact else f"largest relative error {worst:.1e}"
        return Result(key, True, f"✓ {title}: correct on {len(cases)} {'hidden ' if hidden else ''}case(s) ({what}).")
    case, err, where = failure
    mistake = _identify(ex, answer, cases, models, detector)
    if detector:
        msg = f"✗ {title}, case {case.label!r}: {where}."
    else:
        msg = f"✗ {title}, case {case.label!r}: {where}"
    if mistake:
        msg += f"\n  Looks like: {mistake.name}. {mistake.hint}"
    return Result(key, False, msg, mistake=mistake.name if mistake else None)


def strict() -> bool:
    """``CNNVIZ_STRICT_CHECKS=1``: a failed check raises (``make test`` sets it for the solution notebooks)."""
    return os.environ.get("CNNVIZ_STRICT_CHECKS", "0") not in ("", "0")


def check(key: str, answer: Callable[..., Any], hidden: bool = False) -> None:
    """Grade the student's ``answer`` to exercise ``key`` and print the feedback.

    Compares with stored float64 references (inputs and outputs in ``grading/references``), with
    the kit's own implementation unavailable while ``answer`` runs (calling it scores 0). Prints
    ``✓ …`` on stdout when correct; otherwise one message on stderr naming the wrong output, its
    relative error and, when it matches one, the classic mistake made — nbgrader scores a test cell
    with stderr output as 0. Never raises (unless ``CNNVIZ_STRICT_CHECKS=1``), so Run All goes on.

    Example (a notebook's self-check cell):
        >>> check("05.1", my_saliency_map)
    """
    namespace = sys._getframe(1).f_globals
    result = grade(key, answer, hidden=hidden, namespace=namespace)
    if result.passed:
        print(result.message)
        return
    print(result.message, file=sys.stderr)
    if strict():
        raise AssertionError(result.message)


def yours(answer: Callable[..., Any], fallback: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """``(result, who)``: the student's ``answer(*args)``, or the kit's ``fallback`` while the exercise is unfinished.

    For the pictures after an exercise ("your code made this map"): ``who`` names the function that
    made the result, for the title. An unfinished exercise prints one line and never stops Run All.
    """
    try:
        return answer(*args, **kwargs), f"your {answer.__name__}"
    except NotImplementedError:
        print(f"{answer.__name__} is not written yet: this picture uses the kit's {fallback.__name__}.")
        return fallback(*args, **kwargs), f"the kit's {fallback.__name__}"
