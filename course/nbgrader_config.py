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

# One cell may run this long before nbgrader interrupts it (an infinite loop scores 0 for its
# exercise; the rest of the notebook is still graded). Sized from the slowest cell in *full* mode
# (CNNVIZ_FAST=0, offline), measured with `python tools/course.py time-cells` on the heaviest
# notebooks on a shared 2-core CPU: 12_fast_style_transfer 204 s (training), 10_texture_synthesis
# 95 s, 11_style_transfer 71 s, 03_max_activating_patches 69 s. Twice the slowest leaves room for a
# slower machine, so grading in full mode fits too. In fast mode (the setting above) every cell takes
# seconds: lower it (e.g. to 60) to stop infinite loops sooner.
SLOWEST_FULL_S = 204
c.Execute.timeout = 2 * SLOWEST_FULL_S
c.Execute.interrupt_on_timeout = True

# A check cell the student deleted comes back; one the student edited is restored from the gradebook.
c.OverwriteCells.add_missing_cells = True
c.RestoreHiddenTests.add_missing_cells = True

# Restore hidden tests without nbgrader's false "checksum has changed" warning on honest submissions
# (cnnviz_helpers.grading.nbgrader_ext explains the cause); real edits are still reported.
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteKernelspec  # noqa: E402

from cnnviz_helpers.grading.nbgrader_ext import RestoreHiddenTests  # noqa: E402

c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreHiddenTests, CheckCellMetadata]
