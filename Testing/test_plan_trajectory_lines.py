"""trajectories.mrk.json: one line per safe and least-bad path, named and coloured by hitit.plan.trajectory_lines
(the rule the Slicer Planner draws its lines with, see test_slicer_core_trajectory_lines).
"""

from __future__ import annotations

import numpy as np

from hitit.io.markups import read_markups
from hitit.plan.folder import write_plan_folder
from hitit.plan.trajectory_lines import MARGINAL_COLOR, SAFE_COLOR, UNSAFE_COLOR
from plan_documents import lesion_record, plan_document, trajectory_record


def test_the_file_names_and_colours_every_path_by_its_safety(tmp_path):
    roomy = trajectory_record([0, -60, 0], [0, 0, 0], rank=1, margin_slack_mm=12.0)
    tight = trajectory_record([10, -60, 0], [0, 0, 0], rank=2, margin_slack_mm=1.0)
    unsafe = trajectory_record(
        [50, 0, 0],
        [40, 40, 0],
        rank=1,
        feasible=False,
        margin_slack_mm=-3.0,
        blocking=["aorta"],
        violations=["aorta: 2.0 mm from the needle, margin 5 mm"],
    )
    blocked = lesion_record("L2", target_lps=[40.0, 40.0, 0.0], least_bad=[unsafe])
    document = plan_document([lesion_record("L1", [roomy, tight]), blocked], structures=["aorta"])
    reference = document["config"]["planning"]["margin_slack_reference_mm"]
    assert tight["margin_slack_mm"] < reference <= roomy["margin_slack_mm"]  # the two safe paths straddle it
    files = write_plan_folder(document, tmp_path / "plan", {}, "")
    lines = {line.name: line for line in read_markups(files["trajectories"])}
    assert set(lines) == {"L1-T1", "L1-T2", "L2-X1"}
    assert lines["L1-T1"].color == SAFE_COLOR and lines["L1-T2"].color == MARGINAL_COLOR
    assert lines["L2-X1"].color == UNSAFE_COLOR and lines["L2-X1"].descriptions[0].startswith("UNSAFE")
    for name, record in (("L1-T1", roomy), ("L1-T2", tight), ("L2-X1", unsafe)):
        np.testing.assert_allclose(lines[name].points_lps, [record["entry_lps"], record["target_lps"]], atol=1e-6)
