"""``vjepa-bench eval``: an agent on a task for a list of seeded episodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from omegaconf import MISSING

from vjepa_bench.planning.config import PlannerConfig
from vjepa_bench.schema.checks import check_count
from vjepa_bench.schema.env import CameraConfig, EnvConfig


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
        check_count("seed", self.seed, 0)
        check_count("videos", self.videos, 0)
