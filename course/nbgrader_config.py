"""nbgrader configuration for a cnnviz course (the template; `python tools/course.py init DIR` copies it).

The course directory is outside the repository: it holds source/, release/, submitted/,
autograded/, feedback/ and the gradebook database (student names and grades never enter git).
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

COURSE = Path(__file__).resolve().parent
c.CourseDirectory.root = str(COURSE)
c.CourseDirectory.course_id = "cnnviz"
c.CourseDirectory.db_url = f"sqlite:///{COURSE / 'gradebook.db'}"

# The kit's grading settings, inherited by every notebook kernel nbgrader starts: fast mode (small
# budgets), the offline ShapesNet (no download; the graded checks do not depend on the model), no
# plot windows. Exported here so that nobody has to remember them.
os.environ.update(CNNVIZ_FAST="1", CNNVIZ_OFFLINE="1", MPLBACKEND="Agg")

# One cell may run this long before nbgrader interrupts it. The kernel's run only makes the outputs
# of the feedback: every exercise is scored by the grader in its own process with its own time limit
# (cnnviz_helpers.grading.grader), so this only bounds how long a runaway cell delays grading. In
# fast mode (the setting above) every cell takes seconds; StopAfterTimeout marks the cells after a
# cell that ran past it as not run (a loop that swallows KeyboardInterrupt keeps its kernel busy).
# Grading in full mode (CNNVIZ_FAST=0): raise it above the slowest cell, measured with
# `python tools/course.py time-cells` (12_fast_style_transfer: 204 s on a shared 2-core CPU).
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# A check cell the student deleted comes back; one the student edited is restored from the gradebook.
c.OverwriteCells.add_missing_cells = True
c.RestoreHiddenTests.add_missing_cells = True

# Restore hidden tests without nbgrader's false "checksum has changed" warning on honest submissions
# (cnnviz_helpers.grading.grader.nbgrader_ext explains the cause); real edits are still reported.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from cnnviz_helpers.grading.grader.nbgrader_ext import RestoreHiddenTests, StopAfterTimeout  # noqa: E402

c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreHiddenTests, CheckCellMetadata]
c.Autograde.autograde_preprocessors = [
    StopAfterTimeout,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
