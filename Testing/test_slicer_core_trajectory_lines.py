"""The Planner's trajectory lines and the exported trajectories.mrk.json are the same lines: names, ends and
colours, safe paths and the least-bad paths of a lesion without one, on Slicer's real core.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from slicer_core_tier import requires_slicer_core

pytestmark = requires_slicer_core


@pytest.fixture(scope="module")
def plan_with_and_without_safe_paths():
    from hitit.phantom import make_teaching_case
    from hitit.plan import PlanConfig, plan_case

    teaching = make_teaching_case(spacing_mm=(2.0, 2.0, 3.0))
    # a vessel margin wide enough that the lesions beside the vena cava and portal vein have no safe path
    plan = plan_case(teaching.case, PlanConfig(protocol="pv10", margins_mm={"vessel": 30.0}))
    return json.loads(json.dumps(plan.to_dict(), default=float))


def test_the_scene_shows_the_lines_the_plan_folder_exports(slicer_context, plan_with_and_without_safe_paths, tmp_path):
    from hitit.plan.folder import write_plan_folder
    from hitit_slicer import planner, storage
    from hitit_slicer.nodes import controlPointsWorld

    content = plan_with_and_without_safe_paths
    assert any(lesion["trajectories"] for lesion in content["lesions"])
    assert any(lesion["least_bad"] for lesion in content["lesions"])
    files = write_plan_folder(content, tmp_path / "plan", {}, "")
    exported = {node.GetName(): node for node in storage.loadMarkups(slicer_context, files["trajectories"])}
    shown = {node.GetName(): node for node in planner.showTrajectories(slicer_context, content, maximumPerLesion=99)}
    assert set(shown) == set(exported)
    assert any(name.split("-")[-1].startswith("X") for name in shown)  # least-bad paths are there, by their name
    for name, node in shown.items():
        np.testing.assert_allclose(controlPointsWorld(node), controlPointsWorld(exported[name]), atol=1e-3)
        np.testing.assert_allclose(
            node.GetDisplayNode().GetSelectedColor(), exported[name].GetDisplayNode().GetSelectedColor(), atol=1e-6
        )
