"""``vjepa-bench bench <what>``: thin wrappers that run a benchmark and print its JSON."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig, OmegaConf


def _kwargs(cfg: DictConfig) -> dict[str, Any]:
    values = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in values.items() if k != "hydra"}


def _print(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))


def sim(cfg: DictConfig) -> None:
    from vjepa_bench.bench.sim import bench_sim

    _print(bench_sim(**_kwargs(cfg)))


def models(cfg: DictConfig) -> None:
    from vjepa_bench.bench.models import bench_models

    _print(bench_models(**_kwargs(cfg)))


def planner(cfg: DictConfig) -> None:
    from vjepa_bench.bench.planner import bench_planner

    _print(bench_planner(**_kwargs(cfg)))
