"""Smoke runs of `vjepa-bench bench models|planner` at tiny budgets: the JSON is complete and consistent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _bench(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "vjepa_bench.cli", "bench", *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def test_bench_models_reports_time_and_throughput():
    result = _bench("models", "encoder=vit_tiny", "ac_predictor=ac_tiny", "batch=1", "frames=2", "image_size=32",
                    "repeats=1")
    assert result["tokens_per_frame"] == 4
    for part in ("encoder", "ac_predictor"):
        assert result[part]["forward_s"] > 0 and result[part]["tokens_per_s"] > 0


def test_bench_planner_counts_evaluations_and_flops():
    result = _bench("planner", "planners=[fast]", "decisions=1", "image_size=32")
    fast = result["planners"]["fast"]
    assert fast["predictor_evaluations"] == 64 * 3 + 4 * 61 + 1  # CEM, Adam steps + final check, the plan
    assert fast["gradient_evaluations"] == 4 * 60
    assert 0 < fast["fraction_of_peak"] and fast["ratio_to_flop_bound"] == pytest.approx(1 / fast["fraction_of_peak"])
    assert result["speedup_fast_vs_paper"] is None  # only one planner was run
