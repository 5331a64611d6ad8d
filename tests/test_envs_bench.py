"""Smoke test of ``bench_sim`` (the ``vjepa-bench bench sim`` payload) at a tiny budget, robosuite included."""

from __future__ import annotations

import json

import pytest

from vjepa_bench.bench.sim import median_round, bench_sim
from vjepa_bench.errors import UsageError


@pytest.mark.slow
def test_bench_sim_smoke():
    result = bench_sim(steps=2, tasks=["reach"], image_size=64, robosuite_steps=1, rounds=2)
    json.dumps(result)  # JSON-able
    ours = result["ours"]["vjepa_bench/FrankaReach-v1"]
    robosuite = result["robosuite_lift"]
    assert ours["steps"] == 2 and ours["steps_per_s"] > 0 and len(ours["per_round"]) == 2
    assert robosuite.get("steps_per_s", 0) > 0 and len(robosuite["per_round"]) == 2, robosuite
    ratios = [a / b for a, b in zip(ours["per_round"], robosuite["per_round"])]
    assert result["ratio_range"]["vjepa_bench/FrankaReach-v1"] == [min(ratios), max(ratios)]
    assert result["ratio_ours_over_robosuite"]["vjepa_bench/FrankaReach-v1"] == min(ratios)  # the lower middle


def test_the_median_round_is_a_real_round_and_an_error_wins():
    runs = [{"steps_per_s": v, "seconds": 1 / v} for v in (3.0, 1.0, 2.0, 4.0)]
    assert median_round(runs) == {"steps_per_s": 2.0, "seconds": 0.5, "per_round": [3.0, 1.0, 2.0, 4.0]}
    assert median_round(runs[:3] + [{"error": ["boom"]}]) == {"error": ["boom"]}


def test_bench_sim_rejects_unknown_tasks_and_no_rounds():
    with pytest.raises(UsageError, match="unknown tasks"):
        bench_sim(steps=1, tasks=["fly"])
    with pytest.raises(UsageError, match="rounds=0"):
        bench_sim(steps=1, tasks=["reach"], rounds=0)
