"""Read a submission's cells for attempts to change how it is checked (never run: the source is parsed).

What the student's kernel printed does not count (the grader scores each exercise itself), so these
attempts cannot earn points; they are flagged so that the instructor sees them, and they cost the
exercise (or, outside an answer cell, the notebook's exercises) its points.
"""

from __future__ import annotations

import ast

from ...core.i18n import N_, Message, english

#: the grading package's dotted name (derived, not written out: it names what a notebook may not touch,
#: it imports nothing)
GRADING = __package__.rpartition(".")[0]
#: what a notebook may take from the grading package (its self-check cells do)
ALLOWED_FROM_GRADING = {"check", "yours", "rel_error"}
STREAMS = {"stdout", "stderr", "__stdout__", "__stderr__"}
#: calls that build or read code while the notebook runs: an answer is code written in its cell
RUNTIME_CODE = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "inspect.getsource",
    "getsource",
    "inspect.getsourcelines",
    "importlib.reload",
}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain, ``""`` otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    if isinstance(node, ast.Delete):
        return node.targets
    if isinstance(node, ast.Call) and _dotted(node.func) in ("setattr", "delattr", "object.__setattr__") and node.args:
        return [ast.Attribute(value=node.args[0], attr=_const(node.args[1]) if len(node.args) > 1 else "", ctx=ast.Store())]
    return []


def _const(node: ast.AST) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def scan(source: str) -> list[Message]:
    """The tampering attempts in one cell's source, each as a short reason (empty for honest code), sorted by its English."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    grading_names: set[str] = set()
    found: list[Message] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(GRADING):
            for alias in node.names:
                if node.module != GRADING or alias.name not in ALLOWED_FROM_GRADING:
                    found.append((N_("imported {name}"), {"name": f"{node.module}.{alias.name}"}))
                    grading_names.add(alias.asname or alias.name)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == GRADING.rpartition(".")[0]
            and any(a.name == "grading" for a in node.names)
        ):
            found.append((N_("imported {name}"), {"name": GRADING}))
            grading_names |= {a.asname or a.name for a in node.names if a.name == "grading"}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(GRADING):
                    found.append((N_("imported {name}"), {"name": alias.name}))
                    grading_names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.replace("/", ".").replace("\\", ".")
            if GRADING in text or "grading.references" in text:
                found.append((N_("referred to the grading package's files ({name!r})"), {"name": node.value}))
        elif isinstance(node, ast.Attribute) and node.attr in ("__code__", "__globals__", "__closure__"):
            found.append((N_("used a function's {name}"), {"name": node.attr}))
        elif isinstance(node, ast.Call) and _dotted(node.func) in RUNTIME_CODE:
            found.append((N_("ran or read code at run time ({name})"), {"name": _dotted(node.func)}))
        for target in _targets(node):
            name = _dotted(target)
            if isinstance(target, ast.Attribute) and target.attr in STREAMS and _dotted(target.value) == "sys":
                found.append((N_("replaced sys.{name}"), {"name": target.attr}))
            elif isinstance(target, ast.Name) and target.id in ALLOWED_FROM_GRADING:
                found.append((N_("redefined the grading function {name}"), {"name": target.id}))
            elif name and name.split(".")[0] in grading_names:
                found.append((N_("changed {name}"), {"name": name}))
            elif isinstance(target, ast.Attribute) and target.attr in ("__code__", "tol", "exact", "kit"):
                found.append((N_("changed an attribute {name}"), {"name": target.attr}))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in grading_names and isinstance(node.ctx, ast.Load):
            found.append((N_("used the grading package's {name}"), {"name": node.id}))
    unique = {english(reason): reason for reason in found}
    return [unique[text] for text in sorted(unique)]
