"""The ``agent`` config group: one schema per agent, so ``agent.kwargs.*`` is checked against that agent's settings.

World-model agents take the top-level ``planner`` node (``configs/planner/*.yaml``); each agent's YAML picks its own
default preset, and ``planner=<name>`` or ``planner.<field>=...`` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

from omegaconf import II

from vjepa_bench.devices import check_device_name
from vjepa_bench.planning.config import PlannerConfig
from vjepa_bench.schema.checks import check_count


@dataclass
class RandomKwargs:
    seed: Optional[int] = None  # None: each episode's noise is derived from its first observation

    def __post_init__(self) -> None:
        if self.seed is not None:
            check_count("agent.kwargs.seed", self.seed, 0)


@dataclass
class RandomAgentConfig:
    """Uniform random actions within the action bounds."""

    name: str = "random"
    kwargs: RandomKwargs = field(default_factory=RandomKwargs)


@dataclass
class ScriptedKwargs:
    pass


@dataclass
class ScriptedAgentConfig:
    """The privileged oracle that reads the simulator state."""

    name: str = "scripted"
    kwargs: ScriptedKwargs = field(default_factory=ScriptedKwargs)


@dataclass
class SimCEMKwargs:
    planner: PlannerConfig = II("planner")
    weights: Dict[str, float] = field(default_factory=dict)  # energy weights by term; unset terms keep the default
    gripper: str = "binary"  # gripper rule (agents/sim_cem.py GRIPPER_RULES)
    rotation: str = "yaw"  # rotation rule (agents/sim_cem.py ROTATION_RULES)


@dataclass
class SimCEMAgentConfig:
    """CEM with the true simulator as dynamics: the bound of a perfect world model."""

    name: str = "sim_cem"
    kwargs: SimCEMKwargs = field(default_factory=SimCEMKwargs)


@dataclass
class VJepaACKwargs:
    checkpoint: str = "bundled"  # "bundled", a file or HF folder, or an official name in $VJEPA_BENCH_CHECKPOINTS
    checkpoint_dir: Optional[str] = None
    image_size: Optional[int] = None  # encoder input size; None: the checkpoint's
    device: str = "auto"  # where the world model lives and the planner works: auto (CUDA if any), cpu, cuda[:<i>]
    planner: PlannerConfig = II("planner")

    def __post_init__(self) -> None:
        check_device_name(self.device, "agent.kwargs.device")


@dataclass
class VJepaACAgentConfig:
    """Plan with a V-JEPA 2-AC world model (encoder + action-conditioned predictor)."""

    name: str = "vjepa_ac"
    kwargs: VJepaACKwargs = field(default_factory=VJepaACKwargs)


@dataclass
class SimImageCEMAgentConfig:
    """The vjepa_ac planner with a perfect predictor: the simulator's rendered frames, scored by the encoder."""

    name: str = "sim_image_cem"
    kwargs: VJepaACKwargs = field(default_factory=VJepaACKwargs)


AGENT_SCHEMAS: dict[str, type] = {
    "random": RandomAgentConfig,
    "scripted": ScriptedAgentConfig,
    "sim_cem": SimCEMAgentConfig,
    "sim_image_cem": SimImageCEMAgentConfig,
    "vjepa_ac": VJepaACAgentConfig,
}
"""Agent name -> config schema, stored in the ConfigStore as ``agent_schema/<name>``."""
