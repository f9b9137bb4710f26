"""The Planner's workflow (hitit_slicer.planner) on Slicer's real core: the teaching case loaded by Slicer's
readers, planned, and the plan shown, checked, placed and exported as nodes and files.

The scenarios are hitit_slicer.scenarios.planner, which HITITPlannerTest runs inside Slicer too.
"""

from __future__ import annotations

import pytest

from slicer_core_tier import requires_slicer_core, scenarios

pytestmark = requires_slicer_core


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """One planned teaching case shared by the scenarios that only read the scene."""
    from hitit_slicer.context import createApplicationContext
    from hitit_slicer.scenarios.planner import planTeachingCase
    from hitit_slicer.teaching_case import writeTeachingCase

    context = createApplicationContext()
    result = planTeachingCase(context, writeTeachingCase(tmp_path_factory.mktemp("planner-case")))
    yield result
    context.scene.Clear(1)


@pytest.mark.parametrize("scenario", scenarios("planner", "READ_ONLY"), ids=lambda s: getattr(s, "__name__", str(s)))
def test_planned_teaching_case(planned, scenario, tmp_path):
    scenario(planned, tmp_path)


def test_replanning_replaces_the_planners_nodes_and_closing_the_scene_drops_the_plan(
    slicer_context, teaching_case_files
):
    from hitit_slicer.scenarios.planner import replanningAndClosingTheScene

    replanningAndClosingTheScene(slicer_context, teaching_case_files)


def test_a_stated_contrast_reaches_the_core(slicer_context, teaching_case_files):
    from hitit_slicer.scenarios.planner import statedContrastReachesTheCore

    statedContrastReachesTheCore(slicer_context, teaching_case_files)


def test_a_ct_under_a_parent_transform_is_planned_where_the_transform_puts_it(
    slicer_context, teaching_case_files, planned
):
    from hitit_slicer.scenarios.planner import parentTransformMovesThePlan

    parentTransformMovesThePlan(slicer_context, teaching_case_files, planned.content)


def test_a_non_linear_parent_transform_is_refused_by_name(slicer_context, teaching_case_files):
    from hitit_slicer.scenarios.planner import nonLinearTransformIsRefused

    nonLinearTransformIsRefused(slicer_context, teaching_case_files)


def test_seed_grown_lesions_keep_their_ids_and_growing_twice_replaces_them(slicer_context, teaching_case_files):
    from hitit_slicer.scenarios.planner import seedGrownLesionsKeepTheirIds

    seedGrownLesionsKeepTheirIds(slicer_context, teaching_case_files)


def test_scenario_checks_fail_when_they_should():
    """The scenarios' own checks: a wrong value or a missing error is reported, a right one is not."""
    from hitit_slicer.scenarios import close, raises

    close(1.004, 1.0, 0.005, "x")
    with pytest.raises(AssertionError, match="x: 1.01 is not 1.0"):
        close(1.01, 1.0, 0.005, "x")
    with pytest.raises(AssertionError, match="was not raised"), raises(ValueError, "anything"):
        pass
    with pytest.raises(AssertionError, match="does not say"), raises(ValueError, "expected words"):
        raise ValueError("other words")
    with raises(ValueError, "expected"):
        raise ValueError("the expected words")
