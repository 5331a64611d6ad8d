"""``vjepa-bench collect``: a :class:`~vjepa_bench.schema.CollectConfig` -> :func:`collect`."""

from __future__ import annotations

from vjepa_bench.collection.collect import collect
from vjepa_bench.errors import UsageError
from vjepa_bench.schema import CollectConfig
from vjepa_bench.schema.env import env_kwargs


def main(cfg: CollectConfig) -> None:
    out_dir = cfg.out_dir if cfg.out_dir is not None else f"data/{cfg.env.name}"
    try:
        summary = collect(
            cfg.env.id,
            cfg.episodes,
            out_dir,
            policy=cfg.policy,
            seed=cfg.seed,
            env_kwargs=env_kwargs(cfg.env, cfg.camera),
            shard_size=cfg.shard_size,
            progress=cfg.progress,
            max_steps=cfg.max_steps,
            policy_kwargs=cfg.policy_kwargs,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UsageError(f"collect: {err}") from err
    print(
        f"collected {summary.written} episode(s) into {summary.out_dir} "
        f"({summary.skipped} already there, {summary.successes} successful)"
    )
