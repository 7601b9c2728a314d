"""Graded exercises an instructor can trust (a layer above the section modules; nothing imports it).

- ``check(key, my_function)``: what a notebook's ``# Self-check`` cell calls. Compares the student's
  function with stored float64 references (``references/<key>.pt``, written by
  ``python -m cnnviz_helpers.grading.make_references``) on tiny seeded models, with the kit's own
  implementation of the exercise unavailable while it runs, and names the classic mistake made.
- ``rel_error``: the one relative error every check reports (CS231n's, see :mod:`.compare`).
- ``yours(my_function, kit_function, *args)``: the pictures after an exercise, drawn by the
  student's code once it is written.
- ``EXERCISES``: the catalogue (cases, reference, blocked kit functions, classic mistakes).
"""

from .catalogue import EXERCISES
from .compare import rel_error
from .runner import Result, check, grade, yours

__all__ = ["EXERCISES", "Result", "check", "grade", "rel_error", "yours"]
