"""hitit bench --small: the figures exist and the engine agrees with the ray-cast baseline (no timing assertions)."""

import json

from hitit.cli.main import main


def test_bench_small_fields_and_agreement(capsys):
    assert main(["bench", "--small", "--json", "--engine-only"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "prepare_s",
        "map_s",
        "entries",
        "check_path_ms",
        "peak_memory_mb",
        "baseline_map_s",
        "speedup",
        "agreement",
    ):
        assert key in result
    assert result["agreement"] > 0.95
    assert result["disagreements_within_half_voxel"] == result["disagreements"]


def test_bench_small_whole_process_figures(capsys):
    """The whole-process figures: both processes ran on the same files, every stage is timed, every proposed path
    of hitit plan passed its exact check, and the ray-cast planner found clear entries too.
    """
    assert main(["bench", "--small", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["process_s"] > 0 and result["baseline_process_s"] > 0
    assert result["process_speedup"] == round(result["baseline_process_s"] / result["process_s"], 2)
    for stage in (
        "start_up",
        "read",
        "body_and_skin",
        "lesion_measurement",
        "distance_maps",
        "map",
        "exact_checks",
        "report_and_write",
    ):
        assert stage in result["stages_s"]
    assert result["proposed_paths"] >= 1 and result["proposed_paths_exactly_safe"] == result["proposed_paths"]
    assert result["baseline_clear_entries"] > 0 and result["process_peak_memory_mb"] > 0
