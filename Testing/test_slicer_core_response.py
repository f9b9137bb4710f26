"""The Response module's workflow (hitit_slicer.response) on Slicer's real core: a study from line markups and
segments, response tables and plot charts, study files, and the review of a real plan's injection site.

The scenarios are hitit_slicer.scenarios.response, which HITITResponseTest runs inside Slicer too.
"""

from __future__ import annotations

import pytest

from slicer_core_tier import requires_slicer_core, scenarios

pytestmark = requires_slicer_core


@pytest.mark.parametrize(
    "scenario", scenarios("response", "SCENE_SCENARIOS"), ids=lambda s: getattr(s, "__name__", str(s))
)
def test_response_scenario(slicer_context, scenario, tmp_path):
    scenario(slicer_context, tmp_path)


def test_review_of_a_real_plan_with_planned_and_actual_needles(slicer_context, teaching_case_files, tmp_path):
    from hitit_slicer.scenarios.response import reviewOfARealPlan

    reviewOfARealPlan(slicer_context, tmp_path, teaching_case_files)


def test_the_review_shows_each_lesions_chosen_trajectory_only():
    from hitit.plan.plan_file import plan_from_dict
    from hitit_slicer.response import plannedLines
    from plan_documents import lesion_record, plan_document, trajectory_record

    plan = plan_document(
        [
            lesion_record(
                "LesionPoints-1",
                [trajectory_record([0, 0, 0], [1, 1, 1], rank=2), trajectory_record([5, 5, 5], [1, 2, 3], rank=1)],
            ),
            lesion_record("L2"),
        ]
    )
    lines = plannedLines(plan_from_dict(plan))
    assert [(line["lesion"], line["entryRAS"]) for line in lines] == [("LesionPoints-1", [-5.0, -5.0, 5.0])]
