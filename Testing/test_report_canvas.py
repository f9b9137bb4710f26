"""The core draws its figures without choosing matplotlib's backend for the whole process: inside Slicer, other
extensions (and Slicer's own plots) keep the backend they chose.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_core_figures_leave_the_process_backend_alone(tmp_path):
    script = textwrap.dedent("""
        import matplotlib
        matplotlib.use("svg")  # what another extension chose before HITIT was imported
        import numpy as np
        import hitit.report.figures, hitit.response.plots, hitit.review.visit, hitit.trajectories.planner
        from hitit.response import evaluate_study, study_from_dict
        from hitit.response.plots import figure_bytes, waterfall_figure
        study = {"patient": "p", "timepoints": [{"id": "BL", "date": "2026-01-05"}, {"id": "W8", "date": "2026-03-02"}],
                 "lesions": [{"id": "L1", "organ": "liver", "nodal": False, "role": "target", "injected_from": "BL",
                              "measurements": {"BL": 40.0, "W8": 28.0}}], "new_lesions": []}
        png = figure_bytes(waterfall_figure(evaluate_study(study_from_dict(study), warn_baseline=True).itrecist), "png")
        assert png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", png[:8]
        print(matplotlib.get_backend())
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"MPLBACKEND": "", "PATH": ""},
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "svg"
