"""Smoke test of ``bench_sim`` (the ``vjepa-bench bench sim`` payload) at a tiny budget, robosuite included."""

from __future__ import annotations

import json

import pytest

from vjepa_bench.bench.sim import bench_sim
from vjepa_bench.errors import UsageError


@pytest.mark.slow
def test_bench_sim_smoke():
    result = bench_sim(steps=2, tasks=["reach"], image_size=64, robosuite_steps=1)
    json.dumps(result)  # JSON-able
    ours = result["ours"]["vjepa_bench/FrankaReach-v1"]
    assert ours["steps"] == 2 and ours["steps_per_s"] > 0
    assert result["robosuite_lift"].get("steps_per_s", 0) > 0, result["robosuite_lift"]
    assert result["ratio_ours_over_robosuite"]["vjepa_bench/FrankaReach-v1"] > 0


def test_bench_sim_rejects_unknown_tasks():
    with pytest.raises(UsageError, match="unknown tasks"):
        bench_sim(steps=1, tasks=["fly"])
