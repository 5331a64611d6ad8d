"""``vjepa-bench collect``: the ``env`` and ``camera`` groups plus ``configs/collect.yaml`` -> :func:`collect`."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from vjepa_bench.data.collect import collect
from vjepa_bench.errors import UsageError


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def main(cfg: DictConfig) -> None:
    if cfg.episodes < 0:
        raise UsageError(f"episodes must be >= 0, got {cfg.episodes}")
    env_kwargs = dict(_plain(cfg.env.kwargs) or {})
    env_kwargs["image_size"] = int(cfg.image_size)
    pose = {k: v for k, v in (_plain(cfg.camera.pose) or {}).items() if v is not None}
    if pose:
        env_kwargs["camera"] = pose
    try:
        summary = collect(
            cfg.env.id,
            int(cfg.episodes),
            cfg.out_dir,
            policy=cfg.policy,
            seed=int(cfg.seed),
            env_kwargs=env_kwargs,
            camera_randomization=_plain(cfg.camera.randomization),
            shard_size=int(cfg.shard_size),
            progress=bool(cfg.progress),
            max_steps=None if cfg.max_steps is None else int(cfg.max_steps),
            policy_kwargs=_plain(cfg.policy_kwargs) or {},
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UsageError(f"collect: {err}") from err
    print(
        f"collected {summary.written} episode(s) into {summary.out_dir} "
        f"({summary.skipped} already there, {summary.successes} successful)"
    )
