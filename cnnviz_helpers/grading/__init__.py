"""The students' self-checks (shipped with the kit; the grader, :mod:`.grader`, is the instructor's).

- ``check(key, my_function)``: what a notebook's ``# Self-check`` cell calls. Runs the student's
  function on the exercise's stored visible cases (``references/<key>.pt``) on tiny seeded models,
  with the kit's own implementation of the exercise unavailable while it runs, and says what is
  wrong. Feedback only: the grader scores every exercise in its own process on fresh inputs.
- ``rel_error``: the one relative error every check reports (CS231n's, see :mod:`.compare`).
- ``yours(my_function, kit_function, *args)``: the pictures after an exercise, drawn by the
  student's code once it is written.
"""

from .compare import rel_error
from .runner import Result, check, grade, yours

__all__ = ["Result", "check", "grade", "rel_error", "yours"]
