"""``vjepa-bench eval``: compose the env, camera and agent configs into an EvalSpec and run it."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from vjepa_bench.commands import env_kwargs, plain
from vjepa_bench.evaluation.runner import (
    EvalSpec,
    episode_list,
    format_summary,
    run_evaluation,
)


def output_dir(cfg: DictConfig) -> Path:
    """The run folder: ``output_dir`` for a single run, Hydra's job folder in a multirun sweep."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return Path(hydra_cfg.runtime.output_dir)
    return Path(cfg.output_dir)


def env_settings(cfg: DictConfig) -> tuple[str, dict]:
    """The env id and kwargs: the sim env for ``robot=sim``, else the real env around the chosen robot."""
    if cfg.robot.name == "sim":
        return cfg.env.id, env_kwargs(cfg)
    from vjepa_bench.envs.real import REAL_ENV_ID

    image_size = (plain(cfg.env.kwargs) or {}).get("image_size", 256)
    return REAL_ENV_ID, {"task": cfg.env.id, "robot": plain(cfg.robot), "camera": plain(cfg.camera_device),
                         "image_size": image_size}


def main(cfg: DictConfig) -> None:
    env_id, kwargs = env_settings(cfg)
    spec = EvalSpec(
        env_id=env_id,
        env_kwargs=kwargs,
        agent=cfg.agent.name,
        agent_kwargs=plain(cfg.agent.kwargs) or {},
        episodes=episode_list(cfg.episodes, cfg.seed),
        output_dir=output_dir(cfg),
        videos=cfg.videos,
        progress=cfg.progress,
    )
    results = run_evaluation(spec)
    print(format_summary(results))
    print(f"results: {spec.output_dir / 'results.json'}")
