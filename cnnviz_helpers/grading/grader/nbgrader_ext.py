"""nbgrader plug-in for the course template (needs the ``instructor`` extra: ``pip install cnnviz[instructor]``).

nbgrader stores each locked test cell *with* its hidden tests, releases it *without* them, and at
autograde time finds the submitted cell's checksum changed — for every honest submission — logs
"Attribute 'checksum' for cell … has changed!" and restores the stored source (which is how hidden
tests come back). That false warning hides real tampering. :class:`RestoreHiddenTests` puts the
hidden tests back silently when the submitted cell equals the released one, and leaves nbgrader's
warning (and restore) for cells a student really edited.
"""

from __future__ import annotations

import copy
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, Execute, OverwriteCells

from ...core.i18n import _


def released_source(source: str) -> str:
    """What nbgrader's release makes of a stored cell source: the hidden tests removed."""
    cell = NotebookNode(cell_type="code", source=source, metadata={}, outputs=[], execution_count=None)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class RestoreHiddenTests(OverwriteCells):
    """:class:`nbgrader.preprocessors.OverwriteCells` without the false checksum warning on hidden tests."""

    def preprocess_cell(self, cell: NotebookNode, resources: Any, cell_index: int) -> tuple[NotebookNode, Any]:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                stored = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                stored = None
            if stored is not None and stored.locked and cell.source != stored.source:
                if cell.source == released_source(stored.source):
                    cell = copy.deepcopy(cell)
                    cell.source = stored.source  # the hidden tests, back where they were
        return super().preprocess_cell(cell, resources, cell_index)


class StopAfterTimeout(Execute):
    """nbgrader's :class:`~nbgrader.preprocessors.Execute` that stops running a notebook at the first cell past
    ``Execute.timeout`` (an endless loop, even one that swallows ``KeyboardInterrupt``).

    nbgrader interrupts such a cell and goes on with the next one, in a kernel that may still be busy:
    every later cell then waits the whole timeout too, and the submission can be dropped. The kernel's
    outputs are feedback only (the grader scores each exercise in its own process,
    :mod:`cnnviz_helpers.grading.grader`), so the remaining cells are marked as not run instead.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: Any, cell_index: int) -> tuple[NotebookNode, Any]:
        if getattr(self, "_stopped", False) and cell.cell_type == "code":
            cell.outputs = [
                NotebookNode(
                    output_type="stream", name="stderr", text=_("not run: an earlier cell did not finish in time") + "\n"
                )
            ]
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> Any:
        self._stopped = True
        return await super()._async_handle_timeout(timeout, cell)
