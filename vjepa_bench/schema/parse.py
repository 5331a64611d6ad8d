"""Registering the schemas with Hydra and turning a composed config into its dataclass, with one-line errors."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Mapping, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from vjepa_bench.errors import UsageError

_T = TypeVar("_T")

COMMAND_SCHEMAS: dict[str, str] = {
    "eval": "vjepa_bench.schema.eval:EvalConfig",
    "collect": "vjepa_bench.schema.collect:CollectConfig",
    "sweep_camera": "vjepa_bench.schema.sweep:SweepCameraConfig",
    "train_ac": "vjepa_bench.training.config:TrainACConfig",
    "pretrain": "vjepa_bench.training.config:PretrainConfig",
    "video_eval": "vjepa_bench.video.config:VideoEvalConfig",
    "make_sim_motion": "vjepa_bench.video.config:MakeSimMotionConfig",
    "score_qa": "vjepa_bench.video.config:ScoreQAConfig",
    "bench_sim": "vjepa_bench.schema.bench:BenchSimConfig",
    "bench_models": "vjepa_bench.schema.bench:BenchModelsConfig",
    "bench_planner": "vjepa_bench.schema.bench:BenchPlannerConfig",
    "leaderboard_lock": "vjepa_bench.schema.leaderboard:LockConfig",
    "leaderboard_submit": "vjepa_bench.schema.leaderboard:SubmitConfig",
    "leaderboard_validate": "vjepa_bench.schema.leaderboard:ValidateConfig",
    "leaderboard_verify": "vjepa_bench.schema.leaderboard:VerifyConfig",
    "leaderboard_build": "vjepa_bench.schema.leaderboard:BuildConfig",
    "leaderboard_serve": "vjepa_bench.schema.leaderboard:ServeConfig",
    "leaderboard_admin": "vjepa_bench.schema.leaderboard:AdminConfig",
    "leaderboard_baselines": "vjepa_bench.schema.leaderboard:BaselinesConfig",
    "robot_check": "vjepa_bench.envs.real.check:RobotCheckConfig",
}
"""Command config name -> ``module:Class`` of its schema, stored as ``<name>_schema`` (the first entry of that
YAML's defaults list). Named, not imported: a command imports only its own schema, so a command that needs no
torch (``leaderboard validate``, the usage text) does not load it."""


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


def command_schema(config: str) -> type:
    """The schema class of command config ``config`` (imported now)."""
    module, _, name = COMMAND_SCHEMAS[config].partition(":")
    return getattr(importlib.import_module(module), name)


def register_schemas(*configs: str) -> None:
    """Store the schemas of the command configs ``configs`` (default: all) in Hydra's ConfigStore, and the agent
    schemas when one of them has an ``agent`` (idempotent)."""
    store = ConfigStore.instance()
    schemas = [command_schema(config) for config in configs or COMMAND_SCHEMAS]
    for config, schema in zip(configs or COMMAND_SCHEMAS, schemas):
        store.store(name=f"{config}_schema", node=_node(schema))
    if any("agent" in {f.name for f in dataclasses.fields(schema)} for schema in schemas):
        from vjepa_bench.schema.agents import AGENT_SCHEMAS

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
