"""Registering the schemas with Hydra and turning a composed config into its dataclass, with one-line errors."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from vjepa_bench.envs.real.check import RobotCheckConfig
from vjepa_bench.errors import UsageError
from vjepa_bench.schema import leaderboard
from vjepa_bench.schema.agents import AGENT_SCHEMAS
from vjepa_bench.schema.bench import BenchModelsConfig, BenchPlannerConfig, BenchSimConfig
from vjepa_bench.schema.collect import CollectConfig
from vjepa_bench.schema.eval import EvalConfig
from vjepa_bench.schema.sweep import SweepCameraConfig
from vjepa_bench.training.config import PretrainConfig, TrainACConfig
from vjepa_bench.video.config import MakeSimMotionConfig, ScoreQAConfig, VideoEvalConfig

_T = TypeVar("_T")

COMMAND_SCHEMAS: dict[str, type] = {
    "eval": EvalConfig, "collect": CollectConfig, "sweep_camera": SweepCameraConfig,
    "train_ac": TrainACConfig, "pretrain": PretrainConfig,
    "video_eval": VideoEvalConfig, "make_sim_motion": MakeSimMotionConfig, "score_qa": ScoreQAConfig,
    "bench_sim": BenchSimConfig, "bench_models": BenchModelsConfig, "bench_planner": BenchPlannerConfig,
    "leaderboard_lock": leaderboard.LockConfig, "leaderboard_submit": leaderboard.SubmitConfig,
    "leaderboard_validate": leaderboard.ValidateConfig, "leaderboard_verify": leaderboard.VerifyConfig,
    "leaderboard_build": leaderboard.BuildConfig, "leaderboard_serve": leaderboard.ServeConfig,
    "leaderboard_admin": leaderboard.AdminConfig, "leaderboard_baselines": leaderboard.BaselinesConfig,
    "robot_check": RobotCheckConfig,
}
"""Command config name -> schema, stored as ``<name>_schema`` (the first entry of that YAML's defaults list)."""


def _writable(node: DictConfig) -> DictConfig:
    """Clear the read-only flag OmegaConf gives frozen dataclasses, so YAML and overrides can merge onto them."""
    node._set_flag("readonly", None)
    for key in node.keys():
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _writable(child)
    return node


def _node(schema: type) -> DictConfig:
    return _writable(OmegaConf.structured(schema))


def register_schemas() -> None:
    """Store every command and agent schema in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    for name, schema in COMMAND_SCHEMAS.items():
        store.store(name=f"{name}_schema", node=_node(schema))
    for name, schema in AGENT_SCHEMAS.items():
        store.store(group="agent_schema", name=name, node=_node(schema))


def describe(err: BaseException) -> str:
    """One line naming the key of an OmegaConf/Hydra config error and what is wrong with it."""
    cause = err
    while not isinstance(cause, OmegaConfBaseException) and cause.__cause__ is not None:
        cause = cause.__cause__
    if not isinstance(cause, OmegaConfBaseException):
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        if len(lines) > 2 and lines[1].startswith("Available options"):  # an unknown group option: list the known
            options = lines[2:lines.index("Config search path:")] if "Config search path:" in lines else lines[2:]
            return f"{lines[0]}; choose one of: {', '.join(options)}"
        return lines[0] if lines else type(err).__name__
    key = getattr(cause, "full_key", None) or "config"
    owner = getattr(cause, "object_type", None)
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and dataclasses.is_dataclass(owner):
        known = ", ".join(f.name for f in dataclasses.fields(owner))
        return f"{key} is not a setting of {owner.__name__}; known: {known}"
    message = (getattr(cause, "msg", None) or str(cause)).splitlines()[0]
    return f"{key}: {message}"


def parse(cfg: DictConfig) -> Any:
    """The dataclass a composed config stands for (its ``__post_init__`` checks run); config errors are one line."""
    if not dataclasses.is_dataclass(OmegaConf.get_type(cfg)):
        return cfg
    try:
        return OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:
        raise UsageError(describe(err)) from None


def from_values(schema: type[_T], values: Mapping[str, Any]) -> _T:
    """``schema`` built from plain values (a script's or a test's dict), with the CLI's checks and errors."""
    try:
        merged = OmegaConf.merge(_node(schema), dict(values))
    except OmegaConfBaseException as err:
        raise UsageError(describe(err)) from None
    return parse(merged)
