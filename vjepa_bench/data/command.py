"""``vjepa-bench collect``: the ``env`` and ``camera`` groups plus ``configs/collect.yaml`` -> :func:`collect`."""

from __future__ import annotations

from omegaconf import DictConfig

from vjepa_bench.commands import env_kwargs, plain
from vjepa_bench.data.collect import collect
from vjepa_bench.errors import UsageError


def main(cfg: DictConfig) -> None:
    if cfg.episodes < 0:
        raise UsageError(f"episodes must be >= 0, got {cfg.episodes}")
    try:
        summary = collect(
            cfg.env.id,
            int(cfg.episodes),
            cfg.out_dir,
            policy=cfg.policy,
            seed=int(cfg.seed),
            env_kwargs=env_kwargs(cfg),
            shard_size=int(cfg.shard_size),
            progress=bool(cfg.progress),
            max_steps=None if cfg.max_steps is None else int(cfg.max_steps),
            policy_kwargs=plain(cfg.policy_kwargs) or {},
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UsageError(f"collect: {err}") from err
    print(
        f"collected {summary.written} episode(s) into {summary.out_dir} "
        f"({summary.skipped} already there, {summary.successes} successful)"
    )
