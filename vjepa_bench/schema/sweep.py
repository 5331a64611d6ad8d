"""``vjepa-bench sweep-camera``: what a sweep measures (:class:`SweepSettings`, the top-level keys) plus the task,
camera, agent and planner it runs (:class:`SweepCameraConfig`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Optional

from omegaconf import MISSING

from vjepa_bench.errors import UsageError
from vjepa_bench.planning.config import PlannerConfig
from vjepa_bench.schema.checks import check_count
from vjepa_bench.schema.env import CameraConfig, EnvConfig


def _angles(value: Any) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise UsageError(f"angles={value!r} must be a list of azimuths in degrees, e.g. angles=[35,65,95]")
    angles = list(value)
    if not angles:
        raise UsageError("angles=[] is empty: give at least one azimuth in degrees, e.g. angles=[65]")
    bad = [a for a in angles if isinstance(a, bool) or not isinstance(a, Real) or not math.isfinite(a)]
    if bad:
        raise UsageError(f"angles={angles}: {bad[0]!r} is not a number of degrees; e.g. angles=[35,65,95]")
    return tuple(float(a) for a in angles)


@dataclass(frozen=True)
class SweepSettings:
    """What a camera sweep measures.

    Attributes:
        angles: camera azimuths (deg; 0 behind the robot base, 90 on its left).
        axis_steps: moves of the protocol-1 trajectory (frames = moves + 1; the paper's test uses 200).
        move_cm: length of each random x-y move (cm).
        workspace_cm: the trajectory stays within this half-width (cm) of its start in x and y.
        axis_seed: seed of the trajectory (env reset and moves); the same at every angle.
        episodes: protocol-2 episodes per angle (0 skips protocol 2); episode i is reset with seed ``seed + i``.
        seed: first protocol-2 episode seed.
        calibrate: also run protocol 2 with the agent's x-y moves mapped through the fitted matrix.
        axis_test: run protocol 1 (needs a world-model agent; ``calibrate`` needs it too).
        progress: show progress bars.
    """

    angles: tuple[float, ...]
    axis_steps: int = 200
    move_cm: float = 5.0
    workspace_cm: float = 15.0
    axis_seed: int = 0
    episodes: int = 10
    seed: int = 0
    calibrate: bool = False
    axis_test: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "angles", _angles(self.angles))
        if self.axis_steps < 3:
            raise UsageError(f"axis_steps={self.axis_steps}: need at least 3 moves to fit a 2x2 map")
        if not 0 < self.move_cm <= 7.5:
            raise UsageError(f"move_cm={self.move_cm}: must be in (0, 7.5] (the action bound is 7.5 cm)")
        if self.workspace_cm < self.move_cm:
            raise UsageError(f"workspace_cm={self.workspace_cm} must be at least move_cm={self.move_cm}")
        if self.episodes < 0:
            raise UsageError(f"episodes={self.episodes}: must be 0 or more")
        for key in ("seed", "axis_seed"):
            check_count(key, getattr(self, key), 0)
        if self.calibrate and not self.axis_test:
            raise UsageError("calibrate=true needs axis_test=true: the matrix is fitted on the protocol-1 moves")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SweepSettings:
        """From the config's plain values; an unknown key is a one-line error naming it."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(f"sweep-camera: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return cls(**values)


@dataclass(frozen=True)
class SweepCameraConfig(SweepSettings):
    """:class:`SweepSettings` (the top-level keys) and the groups; ``output_dir=None`` means
    ``runs/sweep_camera/<env>/<agent>/<camera>``."""

    env: EnvConfig = field(default_factory=EnvConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    agent: Any = MISSING
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    output_dir: Optional[str] = None
