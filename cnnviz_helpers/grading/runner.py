"""The students' self-check: a function on the stored visible cases, the kit's answer out of reach, what is wrong
and which classic mistake it looks like.

:func:`check` is what a notebook's ``# Self-check`` cell calls. It never raises (so *Run All* goes
on past an unfinished or wrong exercise); feedback on a failure goes to stderr, a pass to stdout.
``CNNVIZ_STRICT_CHECKS=1`` (set by ``make test``) turns a failure into an ``AssertionError`` so that
a check that fails a correct answer stops the test run. It is feedback only: the grade comes from
the grader (:mod:`cnnviz_helpers.grading.grader`, the instructor's), whatever this printed.
"""

from __future__ import annotations

import copy
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

import torch

from ..core.i18n import _
from . import harness
from .compare import compare, explain
from .tiny import build, is_model_ref

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
    """The file holding exercise ``key``'s visible inputs, their float64 expected outputs and its settings."""
    return REFERENCES / f"{key}.pt"


@cache
def load_reference(key: str) -> dict[str, Any]:
    """``{"settings", "cases": [{"label", "args", "expected"}], "models": {name: state},
    "mistakes": [{"name", "hint", "outputs"}]}`` of exercise ``key`` (a mistake's output per case, None where
    it cannot be told from the expected one)."""
    path = reference_path(key)
    if not path.exists():
        raise FileNotFoundError(f"no stored reference for exercise {key}: run `make references`")
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


#: the name under which :func:`kit_called` is reachable from a blocked function (set in its module's globals
#: while the block runs: a replacement code object runs in the blocked function's own globals)
_HOOK = "_cnnviz_kit_called"


def _blocked_code(name: str) -> CodeType:
    """Code of a function that reports a call to the kit's ``name`` and raises :class:`KitCalled`."""
    src = f"def _blocked(*args, **kwargs):\n    raise {_HOOK}({name!r})\n"
    scope: dict[str, Any] = {}
    exec(src, scope)  # noqa: S102  (a fixed template: the only way to build a replacement code object)
    return scope["_blocked"].__code__


_CALLS: list[str] = []


def kit_called(name: str) -> KitCalled:
    """Record that the answer called the kit's ``name``; returns the exception the blocked function raises."""
    _CALLS.append(name)
    return KitCalled(f"the kit's {name} is not available while your answer is checked")


def loaded(name: str) -> Any:
    """The function stored as ``"module:qualname"`` (see :func:`kit_name`), looked up among the modules
    already imported (nothing is imported here); None when its module is not loaded.

    The notebook imported the kit modules it uses before its self-check cells run, so a kit function the
    answer could reach is loaded; the grader's own child process loads the whole kit before blocking.
    """
    module, _, qualname = name.partition(":")
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return inspect.unwrap(obj) if callable(obj) else None


def kit_name(fn: Callable[..., Any]) -> str:
    """``"module:qualname"`` of a function, as the stored references name the kit functions of an exercise."""
    return f"{fn.__module__}:{fn.__qualname__}"


@contextmanager
def kit_blocked(functions: list[FunctionType]) -> Iterator[list[str]]:
    """While the block runs, calling any of ``functions`` — by any name, alias or stored reference —
    raises :class:`KitCalled`; yields the list of blocked names that were called."""
    saved = []
    for fn in functions:
        if not fn.__code__.co_freevars:  # closures cannot take another code object
            saved.append((fn, fn.__code__))
            fn.__globals__[_HOOK] = kit_called
            fn.__code__ = _blocked_code(fn.__name__)
    _CALLS.clear()
    try:
        yield _CALLS
    finally:
        for fn, code in saved:
            fn.__code__ = code
            fn.__globals__.pop(_HOOK, None)


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


def _carries_gradient(value: Any) -> bool:
    """A tensor that requires a gradient, or a dict of loss terms that all do."""
    if isinstance(value, dict):
        return bool(value) and all(_carries_gradient(v) for v in value.values())
    return isinstance(value, torch.Tensor) and value.requires_grad


def _model_state(args: tuple[Any, ...]) -> list[Any]:
    from ..core.layers import model_state

    return [model_state(a) for a in args if isinstance(a, torch.nn.Module)]


# --------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------


def _one_case(st: Settings, answer: Callable[..., Any], args: tuple[Any, ...], expected: Any) -> tuple[float, str, Any]:
    """Run ``answer`` on one case: ``(error, what is wrong, its output)``; the output is None when the answer
    misbehaved (changed its input or the model, or returned a loss without gradient)."""
    if st.differentiable:
        for t in _tensors(args)[:1]:
            t.requires_grad_(True)
    before = [t.detach().clone() for t in _tensors(args)]
    flags = [t.requires_grad for t in _tensors(args)]
    state = _model_state(args)
    got = st.run(answer, args)
    if any(not torch.equal(b, t.detach()) for b, t in zip(before, _tensors(args))) or flags != [
        t.requires_grad for t in _tensors(args)
    ]:
        return float("inf"), _("your function modified its input in place (work on a copy: x.clone() / x.detach().clone())"), None
    if state != _model_state(args):
        return float("inf"), _("your function left the model changed (its train/eval mode, a hook or requires_grad)"), None
    if st.differentiable and not _carries_gradient(got):
        return (
            float("inf"),
            _("the loss carries no gradient (no .item(), float(...), .detach() or torch.no_grad() inside a loss)"),
            None,
        )
    err, where = compare(got, expected, st.tol, st.exact)
    return err, explain(got, expected, err, where, st.tol, st.exact) if err > st.tol else where, got


@dataclass(frozen=True)
class Settings:
    """An exercise as the self-check knows it (stored with its visible cases by ``make references``)."""

    function: str
    todo: str
    tol: float
    exact: bool
    train_mode: bool
    differentiable: bool
    kit: tuple[str, ...]  # "module:qualname" of the kit functions blocked while the answer runs
    lends: dict[str, str]  # name in the notebook -> "module:qualname" of a correct helper bound meanwhile
    call: str | None  # the harness function that runs the answer on a case

    def run(self, answer: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Run ``answer`` on materialised ``args`` the way this exercise calls it."""
        return getattr(harness, self.call)(answer, *args) if self.call else answer(*args)


def grade(key: str, answer: Callable[..., Any], namespace: dict[str, Any] | None = None) -> Result:
    """Check ``answer`` for exercise ``key`` on its stored visible cases; see :func:`check`."""
    ref = load_reference(key)
    st = Settings(**(ref["settings"] | {"kit": tuple(ref["settings"]["kit"])}))
    blocked = [fn for fn in (loaded(s) for s in st.kit) if isinstance(fn, FunctionType)]
    lent = {name: fn for name, spec in st.lends.items() if (fn := loaded(spec)) is not None}
    namespace = {} if namespace is None else namespace
    title = _("Exercise {key} ({function})").format(key=key, function=st.function)
    if not ref["cases"]:
        return _finding(key, title, st, answer)
    worst = 0.0
    with bound(namespace, lent), kit_blocked(blocked) as calls:
        for i, case in enumerate(ref["cases"]):
            args = materialise(tuple(case["args"]), ref["models"], torch.float32, train=st.train_mode)
            try:
                err, where, got = _one_case(st, answer, args, case["expected"])
            except NotImplementedError:
                return Result(
                    key,
                    False,
                    _("{title} is not done yet: {todo} (0 points until then)").format(title=title, todo=_(st.todo)),
                    unfinished=True,
                )
            except Exception as e:  # noqa: BLE001  (any error in the student's code is feedback, not a crash)
                if not calls:
                    return Result(
                        key,
                        False,
                        _("✗ {title}: on case {case!r} your function raised {error}: {e}").format(
                            title=title, case=case["label"], error=type(e).__name__, e=e
                        ),
                    )
                err, where, got = float("inf"), "", None
            if calls:
                names = ", ".join(sorted(set(calls)))
                return Result(
                    key,
                    False,
                    _("✗ {title}: your function called the kit's {names}. This exercise asks for your own code.").format(
                        title=title, names=names
                    ),
                )
            if err > st.tol:
                message = _("✗ {title}, case {case!r}: {where}").format(title=title, case=case["label"], where=where)
                mistake = _looks_like(st, ref["mistakes"], i, got)
                if mistake:
                    message += "\n  " + _("Looks like: {name}. {hint}").format(name=_(mistake["name"]), hint=_(mistake["hint"]))
                return Result(key, False, message, mistake=mistake["name"] if mistake else None)
            worst = max(worst, err)
    what = _("exactly") if st.exact else _("largest relative error {worst:.1e}").format(worst=worst)
    done = _("✓ {title}: correct on the {n} visible case(s) ({what}); the grader checks more.")
    return Result(key, True, done.format(title=title, n=len(ref["cases"]), what=what))


def _looks_like(st: Settings, mistakes: list[dict[str, Any]], case: int, got: Any) -> dict[str, Any] | None:
    """The first stored mistake whose output on visible case number ``case`` equals ``got`` (the answer's
    output there, None when the answer misbehaved), if any."""
    for mistake in mistakes:
        output = mistake["outputs"][case]
        if got is not None and output is not None and compare(got, output, st.tol, st.exact)[0] <= st.tol:
            return mistake
    return None


def _finding(key: str, title: str, st: Settings, answer: Callable[..., Any]) -> Result:
    """An exercise without visible cases (a finding that depends on the instructor's model, as in notebook 14):
    the answer takes no arguments; the self-check only says whether it is written and what it returns."""
    try:
        got = answer()
    except NotImplementedError:
        message = _("{title} is not done yet: {todo} (0 points until then)")
        return Result(key, False, message.format(title=title, todo=_(st.todo)), unfinished=True)
    except Exception as e:  # noqa: BLE001  (an error in the student's code is feedback, not a crash)
        message = _("✗ {title}: your function raised {error}: {e}")
        return Result(key, False, message.format(title=title, error=type(e).__name__, e=e))
    message = _("{title}: your answer is {got!r}. No visible case here (it would give the answer away): the grader checks it.")
    return Result(key, True, message.format(title=title, got=got))


def strict() -> bool:
    """``CNNVIZ_STRICT_CHECKS=1``: a failed check raises (``make test`` sets it for the solution notebooks)."""
    return os.environ.get("CNNVIZ_STRICT_CHECKS", "0") not in ("", "0")


def check(key: str, answer: Callable[..., Any], hidden: bool = False) -> None:
    """Check the student's ``answer`` to exercise ``key`` on its visible cases and print the feedback.

    Compares with the stored float64 outputs of the visible cases (``grading/references``), with the
    kit's own implementation unavailable while ``answer`` runs. Prints ``✓ …`` on stdout when
    correct; otherwise one message on stderr saying what is wrong (shape, first differing index, a
    constant factor or a flipped sign …) and, when the wrong output equals that of a classic mistake
    catalogued for the exercise (stored with the visible cases), a second line naming it with a hint:
    ``Looks like: {name}. {hint}``. Never raises (unless ``CNNVIZ_STRICT_CHECKS=1``), so Run
    All goes on. This is feedback: the grade comes from the grader (:mod:`.grader`), which runs the
    answer in its own process on cases drawn at grading time. ``hidden=True`` (the instructor's
    hidden tests) only says so: no hidden case is shipped.

    Example (a notebook's self-check cell):
        >>> check("05.1", my_saliency_map)
    """
    if hidden:
        print(_("Exercise {key}: the hidden cases are drawn and checked by the grader at grading time.").format(key=key))
        return
    namespace = sys._getframe(1).f_globals
    result = grade(key, answer, namespace=namespace)
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
        return answer(*args, **kwargs), _("your {name}").format(name=answer.__name__)
    except NotImplementedError:
        print(
            _("{name} is not written yet: this picture uses the kit's {kit}.").format(name=answer.__name__, kit=fallback.__name__)
        )
        return fallback(*args, **kwargs), _("the kit's {name}").format(name=fallback.__name__)
