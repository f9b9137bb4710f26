"""hitit bench --small: the figures exist and the engine agrees with the ray-cast baseline (no timing assertions)."""

import json

from hitit.cli.main import main


def test_bench_small_fields_and_agreement(capsys):
    assert main(["bench", "--small", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("prepare_s", "map_s", "entries", "check_path_ms", "peak_memory_mb", "baseline_map_s", "speedup", "agreement"):
        assert key in result
    assert result["agreement"] > 0.95
    assert result["disagreements_within_half_voxel"] == result["disagreements"]
