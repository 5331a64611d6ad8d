"""``vjepa-bench eval``: an :class:`~vjepa_bench.schema.EvalConfig` -> an EvalSpec -> :func:`run_evaluation`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.runner import EvalSpec, episode_list, format_summary, normalised_env_kwargs, run_evaluation
from vjepa_bench.schema.eval import EvalConfig
from vjepa_bench.schema.env import env_kwargs


def env_settings(cfg: EvalConfig) -> tuple[str, dict[str, Any]]:
    """The env id and kwargs: the sim env for ``robot=sim``, else the real env around the chosen robot."""
    if cfg.robot["name"] == "sim":
        return cfg.env.id, env_kwargs(cfg.env, cfg.camera)
    from vjepa_bench.envs.real import REAL_ENV_ID

    image_size = cfg.env.kwargs.image_size or 256
    return REAL_ENV_ID, {"task": cfg.env.id, "robot": cfg.robot, "camera": cfg.camera_device, "image_size": image_size}


def default_output_dir(cfg: EvalConfig, spec: EvalSpec) -> Path:
    """``runs/eval/<env>/<agent>/<camera>-<hash>``: the hash covers the settings the resume check compares (all
    filled in, so an explicit default names the same folder), the checkpoint by its path rather than its content."""
    try:
        full_env_kwargs = normalised_env_kwargs(spec.env_id, spec.env_kwargs)
    except (TypeError, ValueError) as err:
        raise UsageError(f"env {spec.env_id!r} with {spec.env_kwargs}: {err} (check env.kwargs and the camera "
                         "settings)") from None
    identity = {"env_id": spec.env_id, "env_kwargs": full_env_kwargs, "agent": spec.agent,
                "agent_kwargs": spec.agent_kwargs}
    blob = json.dumps(identity, sort_keys=True, default=asdict).encode()
    digest = hashlib.sha256(blob).hexdigest()[:8]
    return Path("runs/eval") / cfg.env.name / cfg.agent.name / f"{cfg.camera.name}-{digest}"


def output_dir(cfg: EvalConfig, spec: EvalSpec) -> Path:
    """The run folder: Hydra's job folder in a multirun sweep, else ``output_dir`` or the derived default."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.output_dir) if cfg.output_dir is not None else default_output_dir(cfg, spec)


def spec_from_config(cfg: EvalConfig) -> EvalSpec:
    """The runner's spec for a parsed eval config."""
    env_id, kwargs = env_settings(cfg)
    spec = EvalSpec(
        env_id=env_id,
        env_kwargs=kwargs,
        agent=cfg.agent.name,
        agent_kwargs={f.name: getattr(cfg.agent.kwargs, f.name) for f in fields(cfg.agent.kwargs)},
        episodes=episode_list(cfg.episodes, cfg.seed),
        output_dir=Path("."),
        videos=cfg.videos,
        progress=cfg.progress,
    )
    spec.output_dir = output_dir(cfg, spec)
    return spec


def main(cfg: EvalConfig) -> None:
    spec = spec_from_config(cfg)
    results = run_evaluation(spec)
    print(format_summary(results))
    print(f"results: {spec.output_dir / 'results.json'}")
