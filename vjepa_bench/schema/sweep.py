"""``vjepa-bench sweep-camera``: the sweep's settings plus the task, camera, agent and planner it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from vjepa_bench.evaluation.sweep_config import SweepSettings
from vjepa_bench.planning.config import PlannerConfig
from vjepa_bench.schema.env import CameraConfig, EnvConfig


@dataclass(frozen=True)
class SweepCameraConfig(SweepSettings):
    """:class:`SweepSettings` (the top-level keys) and the groups; ``output_dir=None`` means
    ``runs/sweep_camera/<env>/<agent>/<camera>``."""

    env: EnvConfig = field(default_factory=EnvConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    agent: Any = MISSING
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    output_dir: Optional[str] = None
