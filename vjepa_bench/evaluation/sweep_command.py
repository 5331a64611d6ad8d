"""``vjepa-bench sweep-camera``: compose the agent, task and camera configs into a ``SweepJob`` and run it."""

from __future__ import annotations

import time

from omegaconf import DictConfig

from vjepa_bench.commands import env_kwargs, plain
from vjepa_bench.evaluation.command import output_dir
from vjepa_bench.evaluation.sweep import SweepJob, run_sweep
from vjepa_bench.evaluation.sweep_config import SweepSettings
from vjepa_bench.evaluation.sweep_report import summary_markdown, write_report


def main(cfg: DictConfig) -> None:
    resolved = plain(cfg)
    values = {name: resolved[name] for name in SweepSettings.__dataclass_fields__ if name in resolved}
    settings = SweepSettings.from_dict(values)
    job = SweepJob(settings, cfg.agent.name, plain(cfg.agent.kwargs) or {}, cfg.env.id, env_kwargs(cfg), output_dir(cfg))
    start = time.perf_counter()
    rows = run_sweep(job)
    context = {"agent": job.agent, "agent_kwargs": job.agent_kwargs, "env_id": job.env_id,
               "env_kwargs": job.env_kwargs, "settings": values, "wall_s": time.perf_counter() - start}
    write_report(rows, job.output_dir, context)
    print(summary_markdown(rows, context))
    print(f"sweep: {job.output_dir / 'sweep.json'}")
