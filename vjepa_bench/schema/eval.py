"""``vjepa-bench eval``: an agent on a task for a list of seeded episodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from omegaconf import MISSING

from vjepa_bench.errors import UsageError
from vjepa_bench.planning.config import PlannerConfig
from vjepa_bench.schema.env import CameraConfig, EnvConfig


def check_count(key: str, value: int, minimum: int) -> None:
    """A ``UsageError`` naming ``key`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{key}={value!r}: must be an integer >= {minimum}")


@dataclass
class EvalConfig:
    """Everything ``vjepa-bench eval`` reads; ``output_dir=None`` derives the run folder from the run's identity."""

    env: EnvConfig = field(default_factory=EnvConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    agent: Any = MISSING  # one of schema.agents.AGENT_SCHEMAS, chosen by agent=<name>
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    robot: Dict[str, Any] = field(default_factory=lambda: {"name": "sim"})  # envs/real/config.py RobotConfig fields
    camera_device: Dict[str, Any] = field(default_factory=lambda: {"name": "sim"})  # ... CameraDeviceConfig fields
    episodes: int = 10
    seed: int = 0
    videos: int = 0
    progress: bool = True
    output_dir: Optional[str] = None

    def __post_init__(self) -> None:
        check_count("episodes", self.episodes, 1)
        check_count("videos", self.videos, 0)
