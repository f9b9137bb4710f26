"""The treatment course's workflow checklist (hitit_slicer.course) on Slicer's real core: the teaching course made by
the core, visit 1's checklist shown as a table node, one item ticked and saved, and read back by the core.

The scenario is hitit_slicer.scenarios.planner's, which HITITPlannerTest runs inside Slicer too.
"""

from __future__ import annotations

import pytest

from slicer_core_tier import requires_slicer_core

pytestmark = requires_slicer_core


@pytest.fixture(scope="module")
def teaching_course_file(tmp_path_factory):
    """course.json of the teaching course, generated once by the core (its coarse-grid images keep it quick)."""
    from hitit_slicer.course import writeTeachingCourse

    return writeTeachingCourse(tmp_path_factory.mktemp("teaching-course") / "course")


def test_visit_checklist_is_shown_ticked_and_saved_through_the_core(slicer_context, teaching_course_file, tmp_path):
    from hitit_slicer.scenarios.planner import courseChecklistIsShownAndTicked

    courseChecklistIsShownAndTicked(slicer_context, teaching_course_file, tmp_path)
