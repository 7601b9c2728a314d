"""Old import paths that keep working: modules that moved into subpackages, names that moved modules.

Two mechanisms, both listed here in one place:

- :data:`MOVED_MODULES`: ``cnnviz_helpers.models`` → ``cnnviz_helpers.core.models`` and so on. A
  finder on ``sys.meta_path`` answers the old name with the new module object itself (so
  ``import cnnviz_helpers.models`` and ``mock.patch("cnnviz_helpers.models.x")`` reach the real
  module), imported only when somebody asks for it.
- :func:`renamed_arguments`: keyword arguments that were renamed (``max_steps`` → ``steps``) keep
  working for one release, with a :class:`DeprecationWarning` naming the new keyword.
- :func:`moved_names`: a module ``__getattr__`` for names that moved elsewhere (the section widgets
  went to :mod:`cnnviz_helpers.ui.sections`); it warns with a :class:`DeprecationWarning` naming the
  new place, and the old path goes away in the next release.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

PACKAGE = "cnnviz_helpers"
MOVED_MODULES = {
    "config": "core.config",
    "images": "core.images",
    "layers": "core.layers",
    "models": "core.models",
    "scores": "core.scores",
    "regularizers": "core.regularizers",
    "plotting": "ui.plotting",
    "widgets": "ui.widgets",
    "shapes": "datasets.shapes",
    "shapesnet": "datasets.shapesnet",
    "receptive_field": "engines.receptive_field",
    "download": "training.download",
    "train_shapesnet": "training.train_shapesnet",
    "train_fast_style": "training.train_fast_style",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:  # already executed under its new name
        pass


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"{PACKAGE}.{MOVED_MODULES[name]}"))


def install_module_aliases() -> None:
    """Let the old flat module paths import (idempotent)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())


def moved_names(module: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that forwards ``names`` with a deprecation warning.

    Each value is the new module (same name there) or ``"module:new_name"`` for a renamed function.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            target, _, new_name = names[name].partition(":")
            new_name = new_name or name
            warnings.warn(
                f"{module}.{name} is now {target}.{new_name}: use that (the old name goes away in the next release)",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(target), new_name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def renamed_arguments(**renames: str) -> Callable[[F], F]:
    """Decorator: old keyword names (``old="new"``) keep working for one release, with a DeprecationWarning.

    Example:
        >>> @renamed_arguments(max_steps="steps")
        ... def fooling_image(model, x, target, *, steps=100): ...
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old}= and {new}=; {old} is the old name of {new}")
                    warnings.warn(
                        f"{fn.__name__}({old}=...) is now {fn.__name__}({new}=...); the old name goes away in the next release",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
