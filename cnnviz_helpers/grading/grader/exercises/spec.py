"""What an exercise is: its cases, the correct answer, the kit code it must not call, its classic mistakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

Detector = Literal["value", "inplace", "nograd", "model", "error"]


@dataclass(frozen=True)
class Mistake:
    """A classic wrong answer, named in the feedback when a student's output matches it.

    Attributes:
        name: the mistake in a few words, e.g. ``"softmax probability instead of the raw score"``.
        hint: what to change, one sentence.
        answer: a wrong implementation with the exercise's signature (also fed in by the tests).
        detector: how the check recognises it: ``"value"`` (the output equals ``answer``'s output),
            ``"inplace"`` (an input tensor changed), ``"nograd"`` (the output carries no gradient),
            ``"model"`` (the model's modes / hooks changed) or ``"error"`` (the answer raises).
    """

    name: str
    hint: str
    answer: Callable[..., Any]
    detector: Detector = "value"


@dataclass(frozen=True)
class Case:
    """One stored input of an exercise; ``"<model:NAME>"`` strings in ``args`` stand for a tiny model."""

    label: str
    args: tuple[Any, ...]
    hidden: bool = False


@dataclass(frozen=True)
class Exercise:
    """A graded code exercise of one notebook.

    Attributes:
        key: ``"05.1"``: notebook number and exercise number, as the notebook titles it.
        function: the name the student defines, e.g. ``"my_saliency_map"``.
        todo: one line saying what to write (printed while the exercise is unfinished).
        cases: builds the inputs from a seeded generator (float64 tensors); stored by make_references.
        reference: the correct answer, run in float64 by make_references (blocked while a student's code runs).
        kit: the kit functions that solve the exercise (blocked while it runs).
        mistakes: the classic mistakes, each recognised and named.
        tol: the largest relative error (:func:`~cnnviz_helpers.grading.compare.rel_error`) that passes.
        exact: compare exactly (indices, shapes, sizes) instead of with ``tol``.
        call: how an answer is run on a case (default ``answer(*args)``), e.g. three optimiser steps: a
            self-contained function of :mod:`~cnnviz_helpers.grading.harness`.
        provides: correct helpers (self-contained reference functions) the grader binds in the answer's
            namespace, so that this exercise never depends on another one's answer (``my_gram_matrix``
            for the style loss).
        lends: the same for the students' self-check: shipped functions (the kit's own, or
            :mod:`~cnnviz_helpers.grading.harness`'s), stored by name in the self-check's settings.
        train_mode: hand the model over in train mode (the exercise asks to switch to eval mode).
        differentiable: the output must carry a gradient back to the tensor inputs that require one.
    """

    key: str
    function: str
    todo: str
    cases: Callable[[torch.Generator], list[Case]]
    reference: Callable[..., Any]
    kit: tuple[Callable[..., Any], ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    tol: float = 1e-3
    exact: bool = False
    call: Callable[..., Any] | None = None
    provides: dict[str, Callable[..., Any]] = field(default_factory=dict)
    lends: dict[str, Callable[..., Any]] = field(default_factory=dict)
    train_mode: bool = False
    differentiable: bool = False

    def run(self, answer: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Run ``answer`` on materialised ``args`` the way this exercise calls it."""
        return self.call(answer, *args) if self.call else answer(*args)
