"""``vjepa-bench bench <what>``: thin wrappers that run a benchmark on its parsed config and print its JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from vjepa_bench.schema.bench import BenchModelsConfig, BenchPlannerConfig, BenchSimConfig


def _print(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))


def sim(cfg: BenchSimConfig) -> None:
    from vjepa_bench.bench.sim import bench_sim

    _print(bench_sim(**asdict(cfg)))


def models(cfg: BenchModelsConfig) -> None:
    from vjepa_bench.bench.models import bench_models

    _print(bench_models(**asdict(cfg)))


def planner(cfg: BenchPlannerConfig) -> None:
    from vjepa_bench.bench.planner import bench_planner

    _print(bench_planner(**asdict(cfg)))
