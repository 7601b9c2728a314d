"""The grader (the instructor's: not in the wheel). Scores every exercise of a submission in its own process.

- :mod:`.exercises`: one file per exercise (cases, reference, blocked kit functions, classic mistakes).
- :mod:`.sandbox` and :mod:`.child`: one fresh child process per exercise, inputs drawn at grading
  time, expected outputs computed in the grader's process, a time limit, blocked code detected.
- :mod:`.tamper`: attempts on the checks, read from the submitted cells' source.
- :mod:`.autograde`: the step after nbgrader's autograde (``tools/course.py autograde``).
- :mod:`.make_references`: the students' self-check files (visible cases only).
- :mod:`.nbgrader_ext`: nbgrader plug-ins of the course template.
"""
