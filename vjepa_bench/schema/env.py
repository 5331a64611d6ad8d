"""The ``env`` and ``camera`` config groups, and the ``gym.make`` keyword arguments they stand for."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING


@dataclass
class EnvKwargs:
    """Keyword arguments of the sim envs that a config sets (``env.kwargs.*``); ``None`` keeps the env's default."""

    image_size: Optional[int] = None  # None: the env's default (256)
    object: Optional[str] = None  # box (the envs' default) | cup; only for tasks with an object
    gripper: Optional[str] = None  # robotiq_2f85 (the envs' default, DROID's hand) | franka_hand
    pregrasp_goal: Optional[bool] = None  # grasp, pick_place: show the open hand at the grasp pose first (False)


@dataclass
class EnvConfig:
    """A task: a short ``name`` used in run folders and the registered Gymnasium ``id``."""

    name: str = MISSING
    id: str = MISSING
    kwargs: EnvKwargs = field(default_factory=EnvKwargs)


@dataclass
class CameraPoseConfig:
    """Fields of ``envs.camera.CameraPose``; ``None`` keeps the env's default pose for that field."""

    azimuth_deg: Optional[float] = None
    elevation_deg: Optional[float] = None
    distance: Optional[float] = None
    lookat: Optional[List[float]] = None
    roll_deg: Optional[float] = None
    fovy_deg: Optional[float] = None


@dataclass
class CameraRandomizationConfig:
    """Ranges ``[low, high]`` of ``envs.camera.CameraRandomization`` sampled at every reset; ``None`` keeps the pose."""

    azimuth_deg: Optional[List[float]] = None
    elevation_deg: Optional[List[float]] = None
    distance: Optional[List[float]] = None
    roll_deg: Optional[List[float]] = None
    fovy_deg: Optional[List[float]] = None
    lookat_offset: Optional[List[float]] = None


@dataclass
class CameraConfig:
    """The observation camera: a named preset, a base pose and an optional per-reset randomisation."""

    name: str = "default"
    pose: CameraPoseConfig = field(default_factory=CameraPoseConfig)
    randomization: Optional[CameraRandomizationConfig] = None


def _set_fields(values: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(values).items() if v is not None}


def env_kwargs(env: EnvConfig, camera: CameraConfig) -> dict[str, Any]:
    """``gym.make`` keyword arguments of ``env`` seen through ``camera``; unset fields keep the env's defaults."""
    kwargs: Dict[str, Any] = _set_fields(env.kwargs)
    pose = _set_fields(camera.pose)
    if pose:
        kwargs["camera"] = pose
    if camera.randomization is not None:
        kwargs["camera_randomization"] = _set_fields(camera.randomization)
    return kwargs
