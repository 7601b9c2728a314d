"""The grader's child process: runs one exercise of one submission, and nothing else decides its score.

Started by :mod:`.sandbox` as ``python -I child.py KIT_ROOT`` in an empty directory with a clean
environment, as a fork server: it imports torch and the kit once (seconds), then forks one fresh
child per exercise (milliseconds), which runs before any student code has run in this process. It
never imports the grading package (this file is run by path); the grader reads back only the
answer's *outputs* and the flags raised here, and compares them itself with the expected outputs,
which never enter this process. Each forked child:

1. loads its job (inputs, the instructor's import lines, the answer cells, the blocked kit functions,
   pickled by reference so that loading the job finds them in this process), runs the import lines
   and installs the guards;
2. runs the answer cells and the answer on every input, writes the result file and exits. The
   grader's time limit runs from the fork; past it, the child is killed (SIGKILL).

The guards (see the README's "What the grader guarantees"):

- an audit hook (``sys.addaudithook``: it cannot be removed) refuses imports of the grading package
  and of other libraries' implementations, reading the grader's files, writing files, replacing a
  function's ``__code__``, switching tracing off, walking the grader's frames or memory, native
  code and subprocesses — each refusal is a flag;
- the blocked kit functions are replaced by stubs in the answer's namespace and their modules;
- a profile hook records every Python code object executed (in threads started with ``threading`` too): the code of a blocked kit function
  (however it was reached), of a blocked library, or a copy of it compiled outside the answer
  cell (same bytecode, names and constants) is a flag.
"""

from __future__ import annotations

import builtins
import os
import sys
import threading
from types import CodeType, FunctionType, ModuleType
from typing import Any

ANSWER = "<answer cell>"  # the file name the answer cells are compiled under
#: what this process reports for the student: an English template (a msgid of the kit's catalogue) and its values,
#: worded by the grader in the course's language (``cnnviz_helpers.core.i18n.Message``)
Message = tuple[str, dict[str, Any]]


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """Mark ``message`` for the kit's catalogue (``cnnviz_helpers.core.i18n.N_``: this file runs before the kit can be imported)."""
    return message


class KitCalled(RuntimeError):
    """Raised by a blocked kit function called from the answer."""


def kit_name(fn: Any) -> str:
    """``"module:qualname"`` of a blocked function, as flags and messages name it."""
    return f"{fn.__module__}:{fn.__qualname__}"


def _codes(code: CodeType) -> list[CodeType]:
    """``code`` and every code object nested in it (inner functions, lambdas, comprehensions)."""
    out = [code]
    for const in code.co_consts:
        if isinstance(const, CodeType):
            out.extend(_codes(const))
    return out


def fingerprint(code: CodeType) -> tuple[Any, ...]:
    """What a copy of ``code`` compiled elsewhere (from source or from an AST) shares with it: its
    instructions with their names and constants, without positions, jump targets or the docstring."""
    import dis

    ops: list[Any] = []
    for ins in dis.get_instructions(code):
        if ins.opname in ("RESUME", "NOP", "CACHE", "PRECALL", "PUSH_NULL", "KW_NAMES", "EXTENDED_ARG"):
            continue
        name = "LOAD_ATTR" if ins.opname == "LOAD_METHOD" else ins.opname
        if "JUMP" in name:
            ops.append("JUMP")
        elif isinstance(ins.argval, CodeType):
            ops.append((name, fingerprint(ins.argval)))
        else:
            ops.append((name, repr(ins.argval)[:200]))
    return (tuple(ops), code.co_argcount, code.co_kwonlyargcount)


def _helpers(fn: FunctionType) -> list[FunctionType]:
    """``fn`` and the private functions (``_name``) of its own module it calls, transitively.

    Public functions of the module are the kit's tools (``window_starts``): blocked only when an
    exercise lists them."""
    seen: dict[int, FunctionType] = {}
    todo = [fn]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen[id(f)] = f
        for code in _codes(f.__code__):
            for name in code.co_names:
                g = f.__globals__.get(name)
                if isinstance(g, FunctionType) and g.__module__ == fn.__module__ and name.startswith("_"):
                    todo.append(g)
    return list(seen.values())


class Guard:
    """The audit hook, the profile hook and the flags they raise (one per reason)."""

    def __init__(self, blocked: dict[str, FunctionType], packages: list[str], grading_dir: str) -> None:
        self.active = False
        self.flags: list[Message] = []
        self.packages = packages
        self.grading_dir = grading_dir
        self.code_owner: dict[CodeType, str] = {}
        self.fingerprints: dict[tuple[Any, ...], str] = {}
        for name, fn in blocked.items():
            for helper in _helpers(fn):
                for code in _codes(helper.__code__):
                    self.code_owner[code] = name
                    self.fingerprints[fingerprint(code)] = name
        self.package_dirs = [d for d in (self._package_dir(p) for p in packages) if d]
        self.seen: set[CodeType] = set()

    @staticmethod
    def _package_dir(name: str) -> str | None:
        import importlib.util

        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        return os.path.dirname(spec.origin) if spec and spec.origin else None

    def flag(self, reason: Message) -> None:
        if reason not in self.flags:
            self.flags.append(reason)

    def _answer_called(self) -> bool:
        """Whether the Python code that raised the event is the answer's own (above this, _refusal and audit)."""
        frame = sys._getframe(3)
        return frame.f_code.co_filename == ANSWER

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook: refuse (and flag) what an answer has no business doing."""
        if not self.active:
            return
        self.active = False  # no recursion while the hook itself runs
        try:
            refusal = self._refusal(event, args)
        finally:
            self.active = True
        if refusal:
            self.flag(refusal)
            raise PermissionError("the grader refused this: " + refusal[0].format(**refusal[1]))

    def _refusal(self, event: str, args: tuple[Any, ...]) -> Message | None:
        if event == "import":
            name = str(args[0])
            if any(name == p or name.startswith(p + ".") for p in self.packages):
                return N_("imported {name}"), {"name": name}
        elif event == "open":
            path, mode = args[0], args[1]
            real = os.path.realpath(os.fsdecode(path)) if isinstance(path, (str, bytes)) else ""
            if real.startswith(self.grading_dir) and real != os.path.realpath(__file__):
                return N_("read the grader's file {name}"), {"name": os.path.basename(os.fsdecode(path))}
            if isinstance(mode, str) and any(m in mode for m in "wax+"):
                return N_("wrote a file"), {}
            if isinstance(mode, int) and mode & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                return N_("wrote a file"), {}
        elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
            return N_("replaced a function's __code__"), {}
        elif event == "object.__getattr__" and len(args) > 1 and args[1] in ("__code__", "tb_frame"):
            if self._answer_called():
                return N_("read {name} (code objects / frames are off limits in an answer)"), {"name": args[1]}
        elif event == "sys._getframe":
            if self._answer_called():
                return N_("walked the interpreter's frames (sys._getframe)"), {}
        elif event in ("sys.setprofile", "sys.settrace", "sys.addaudithook", "os.kill", "os.killpg"):
            if event == "sys.setprofile" and sys._getframe(3).f_code.co_filename == threading.__file__:
                return None  # a new thread installing the grader's profile hook (threading.setprofile)
            return N_("tried to change the grader's hooks ({event})"), {"event": event}
        elif event.startswith(
            ("gc.get_", "ctypes.", "subprocess.", "os.system", "os.exec", "os.fork", "os.posix_spawn", "socket.")
        ):
            return N_("used {event} (outside what an exercise needs)"), {"event": event}
        return None

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        """The profile hook: remember every Python code object that runs."""
        if event == "call":
            self.seen.add(frame.f_code)

    def executed(self) -> list[Message]:
        """Flags for blocked code that ran: the kit's own, another library's, or a copy made at run time."""
        out = set()
        for code in self.seen:
            if code.co_filename == __file__:  # the guard itself
                continue
            if code in self.code_owner:
                out.add((N_("executed the kit's {name}"), self.code_owner[code]))
            elif any(code.co_filename.startswith(d) for d in self.package_dirs):
                out.add((N_("executed code of a blocked package ({name})"), code.co_filename.split(os.sep)[-2]))
            elif code.co_filename != ANSWER and fingerprint(code) in self.fingerprints:
                out.add((N_("executed a copy of the kit's {name}"), self.fingerprints[fingerprint(code)]))
        return [(template, {"name": name}) for template, name in sorted(out)]


def _stub(name: str, guard: Guard) -> FunctionType:
    def blocked(*args: Any, **kwargs: Any) -> Any:
        guard.flag((N_("called the kit's {name}"), {"name": name}))
        raise KitCalled(f"the kit's {name} is not available while your answer is graded")

    return blocked  # type: ignore[return-value]


def _block(blocked: dict[str, FunctionType], namespace: dict[str, Any], guard: Guard) -> None:
    """Replace the blocked functions by stubs in the answer's namespace and in every loaded kit module."""
    stubs = {id(fn): _stub(name, guard) for name, fn in blocked.items()}
    for mapping in [namespace] + [vars(m) for m in list(sys.modules.values()) if isinstance(m, ModuleType)]:
        for key, value in list(mapping.items()):
            if id(value) in stubs:
                mapping[key] = stubs[id(value)]
    for prefix in guard.packages:
        for name in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
            del sys.modules[name]


def _safe(value: Any) -> Any:
    """The answer's output as plain data the parent can load with ``weights_only=True``."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.array(value, dtype=np.float64))}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(_safe(v) for v in value)
    if isinstance(value, dict):
        return {k if isinstance(k, (str, int)) else repr(k): _safe(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__unsupported__": type(value).__name__}


def _tensors(args: Any) -> list[Any]:
    import torch

    if isinstance(args, torch.Tensor):
        return [args]
    if isinstance(args, (list, tuple)):
        return [t for a in args for t in _tensors(a)]
    return []


def _model_state(args: Any) -> list[Any]:
    import torch

    def hooks(m: Any) -> int:
        return len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) + len(m._backward_pre_hooks)

    return [
        (
            tuple(m.training for m in a.modules()),
            tuple(p.requires_grad for p in a.parameters()),
            sum(hooks(m) for m in a.modules()),
        )
        for a in args
        if isinstance(a, torch.nn.Module)
    ]


def _run_case(job: dict[str, Any], answer: Any, call: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """One input: the output, or what is wrong with how the answer treated its inputs."""
    tensors = _tensors(args)
    if job["differentiable"]:
        for t in tensors[:1]:
            t.requires_grad_(True)
    before = [t.detach().clone() for t in tensors]
    flags = [t.requires_grad for t in tensors]
    state = _model_state(args)
    got = call(answer, *args) if call else answer(*args)
    if any(not (b.shape == t.shape and bool((b == t.detach()).all())) for b, t in zip(before, tensors)) or flags != [
        t.requires_grad for t in tensors
    ]:
        return {
            "problem": (N_("your function modified its input in place (work on a copy: x.clone() / x.detach().clone())"), {}),
            "detector": "inplace",
        }
    if state != _model_state(args):
        return {
            "problem": (N_("your function left the model changed (its train/eval mode, a hook or requires_grad)"), {}),
            "detector": "model",
        }
    terms = got.values() if isinstance(got, dict) else [got]  # a loss, or a dict of loss terms
    if job["differentiable"] and not (terms and all(getattr(t, "requires_grad", False) for t in terms)):
        return {
            "problem": (
                N_("the loss carries no gradient (no .item(), float(...), .detach() or torch.no_grad() inside a loss)"),
                {},
            ),
            "detector": "nograd",
        }
    return {"output": _safe(got)}


def _run(job: dict[str, Any], namespace: dict[str, Any], guard: Guard) -> dict[str, Any]:
    """Run the answer cells, then the answer on every input (stopping at the first error)."""
    for i, source in enumerate(job["cells"]):
        try:
            exec(compile(source, ANSWER, "exec"), namespace)  # noqa: S102  (the point of this process)
        except Exception as e:  # noqa: BLE001
            if i == len(job["cells"]) - 1:
                return {"error": (N_("your answer cell raised {error}: {e}"), {"error": type(e).__name__, "e": str(e)})}
    for name, (defined, source) in job["provides"].items():  # correct helpers from other exercises (the grader's)
        scope: dict[str, Any] = {}
        exec(compile(source, "<grader helper>", "exec"), scope)  # noqa: S102
        namespace[name] = scope[defined]
    answer = namespace.get(job["function"])
    if not callable(answer):
        return {"error": (N_("no function {function} is defined in your answer cell"), {"function": job["function"]})}
    call = None
    if job["call"]:
        scope = {}
        exec(compile(job["call"][1], "<grader harness>", "exec"), scope)  # noqa: S102
        call = scope[job["call"][0]]
    cases = []
    for args in job["inputs"]:
        try:
            cases.append(_run_case(job, answer, call, args))
        except NotImplementedError:
            return {"unfinished": True}
        except Exception as e:  # noqa: BLE001  (an error in the answer is feedback, not a crash)
            problem = (N_("your function raised {error}: {e}"), {"error": type(e).__name__, "e": str(e)})
            cases.append({"problem": problem, "detector": "error"})
            break
    return {"cases": cases}


def run_job(job_path: str, result_path: str) -> None:
    """In a freshly forked child: load the job, guard the interpreter, run the answer, write the result."""
    import inspect

    import torch

    job = torch.load(job_path, weights_only=False)  # written by the grader a moment ago (trusted)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for line in job["preamble"]:
        try:
            exec(compile(line, "<notebook imports>", "exec"), namespace)  # noqa: S102
        except Exception:  # noqa: BLE001, S112  (an import the answer does not need)
            continue
    # the job holds the blocked functions themselves: pickled by reference, unpickling found them in this process
    blocked = {kit_name(fn): inspect.unwrap(fn) for fn in job["blocked"]}
    blocked = {name: fn for name, fn in blocked.items() if isinstance(fn, FunctionType)}
    guard = Guard(blocked, job["packages"], job["grading_dir"])
    _block(blocked, namespace, guard)
    out = open(result_path, "wb")  # noqa: SIM115  (opened before the answer runs; written after)
    sys.addaudithook(guard.audit)
    threading.setprofile(guard.profile)
    sys.setprofile(guard.profile)
    guard.active = True
    try:
        result = _run(job, namespace, guard)
    except BaseException as e:  # noqa: BLE001  (SystemExit, KeyboardInterrupt raised by the answer)
        result = {"error": (N_("your code raised {error}"), {"error": type(e).__name__})}
    guard.active = False
    sys.setprofile(None)
    result["flags"] = guard.flags + guard.executed()
    torch.save(result, out)
    out.close()


def _warm_up(kit_root: str) -> None:
    """Import torch and the kit's sections once, so that each forked child starts in milliseconds."""
    sys.path.insert(0, kit_root)
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    import cnnviz_helpers.methods  # noqa: F401  (the registry imports every section and what they use)


def main() -> int:
    """The fork server: warm up, then for each ``JOB RESULT`` line on stdin fork a child that runs it.

    Prints ``ready`` once, then ``started PID`` and ``exited PID STATUS`` for every job (the grader
    kills a child that runs past its time limit by its PID).
    """
    _warm_up(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        job_path, result_path = line.split()
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # the answer's prints never reach the grader's protocol
                os.dup2(devnull, fd)
            try:
                run_job(job_path, result_path)
            finally:
                os._exit(0)
        print(f"started {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exited {pid} {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
