"""``vjepa-bench sweep-camera``: a :class:`~vjepa_bench.schema.sweep.SweepCameraConfig` -> a ``SweepJob``."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from vjepa_bench.evaluation.sweep import SweepJob, run_sweep
from vjepa_bench.evaluation.sweep_report import summary_markdown, write_report
from vjepa_bench.schema.env import env_kwargs
from vjepa_bench.schema.sweep import SweepCameraConfig, SweepSettings


def _output_dir(cfg: SweepCameraConfig) -> Path:
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().runtime.output_dir)
    if cfg.output_dir is not None:
        return Path(cfg.output_dir)
    return Path("runs/sweep_camera") / cfg.env.name / cfg.agent.name / cfg.camera.name


def main(cfg: SweepCameraConfig) -> None:
    settings = SweepSettings(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(SweepSettings)})
    agent_kwargs = {f.name: getattr(cfg.agent.kwargs, f.name) for f in dataclasses.fields(cfg.agent.kwargs)}
    job = SweepJob(settings, cfg.agent.name, agent_kwargs, cfg.env.id, env_kwargs(cfg.env, cfg.camera), _output_dir(cfg))
    start = time.perf_counter()
    rows = run_sweep(job)
    context = {"agent": job.agent, "agent_kwargs": dataclasses.asdict(cfg.agent.kwargs), "env_id": job.env_id,
               "env_kwargs": job.env_kwargs, "settings": dataclasses.asdict(settings),
               "wall_s": time.perf_counter() - start}
    write_report(rows, job.output_dir, context)
    print(summary_markdown(rows, context))
    print(f"sweep: {job.output_dir / 'sweep.json'}")
