"""Typed settings of the ``robot`` and ``camera_device`` config groups, and the factories that build adapters.

The YAML files in ``configs/robot/`` and ``configs/camera_device/`` hold values only; these frozen dataclasses
define the keys, check them once and build the adapter. An unknown key or a bad value is a ``UsageError`` that
names ``robot.<key>`` / ``camera_device.<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from vjepa_bench.envs.real.interface import CameraAdapter, RobotAdapter
from vjepa_bench.errors import UsageError

ROBOTS = ("sim", "mujoco", "fake", "franky", "polymetis")
"""``sim``: the plain sim envs (no real env); ``mujoco``: the sim robot through the real env; ``fake``: in-process."""
CAMERAS = ("sim", "fake", "replay", "realsense", "zed", "opencv")
SUCCESS_MODES = ("measured", "operator")
GOAL_SOURCES = ("camera", "files")


def _build(cls, values: Mapping[str, Any] | None, prefix: str):
    values = dict(values or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        named = ", ".join(f"{prefix}.{key}" for key in unknown)
        raise UsageError(f"unknown keys {named}; known: {sorted(names)}")
    return cls(**values)


@dataclass(frozen=True)
class GoalConfig:
    """Where goal images come from: the live camera (the arm commanded to ``positions``, or moved there by the
    operator who then presses Enter) or image ``files`` (with optional goal ``states`` for measured success)."""

    source: str = "camera"
    positions: list | None = None
    """Flange goal positions (m, base frame), one per goal; the orientation is the home orientation."""
    files: list | None = None
    states: list | None = None
    steps: list | None = None
    """Steps each goal stays active (pick-and-place: [4, 10, 4]); default: one goal for the whole episode."""

    def __post_init__(self) -> None:
        if self.source not in GOAL_SOURCES:
            raise UsageError(f"robot.goal.source={self.source!r}: choose one of {list(GOAL_SOURCES)}")
        if self.source == "files" and not self.files:
            raise UsageError("robot.goal.source=files needs robot.goal.files=[path, ...]")


@dataclass(frozen=True)
class RobotConfig:
    """The ``robot`` group."""

    name: str = "sim"
    host: str = "172.16.0.2"
    port: int | None = None
    gripper: bool = True
    seed: int = 0
    """``mujoco`` only: the sim episode seed that places the arm."""
    home: list = field(default_factory=lambda: [0.45, 0.0, 0.35])
    """Flange position (m) every episode starts from, hand pointing down, gripper open."""
    safety: dict = field(default_factory=dict)
    goal: GoalConfig = field(default_factory=GoalConfig)
    success: str = "measured"
    interactive: bool = True
    """Operator prompts on stdin (goal capture, success labels); False for unattended runs and tests."""
    episode_steps: int | None = None
    log_dir: str | None = "runs/real/episodes"
    """Every episode is appended to the HDF5 trajectory store here (None: no log)."""

    def __post_init__(self) -> None:
        if self.name not in ROBOTS:
            raise UsageError(f"robot={self.name!r}: choose one of {list(ROBOTS)}")
        if self.success not in SUCCESS_MODES:
            raise UsageError(f"robot.success={self.success!r}: choose one of {list(SUCCESS_MODES)}")
        if self.success == "operator" and not self.interactive:
            raise UsageError("robot.success=operator needs robot.interactive=true (someone labels each episode)")
        if len(self.home) != 3:
            raise UsageError(f"robot.home={self.home}: need a flange position [x, y, z] in metres")
        if isinstance(self.goal, Mapping):
            object.__setattr__(self, "goal", _build(GoalConfig, self.goal, "robot.goal"))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> RobotConfig:
        return _build(cls, values, "robot")


@dataclass(frozen=True)
class CameraDeviceConfig:
    """The ``camera_device`` group."""

    name: str = "sim"
    path: str | None = None
    device: int | str = 0
    width: int = 640
    height: int = 480
    fps: int = 30
    serial: str | None = None
    resolution: str = "HD720"
    loop: bool = True
    pose: dict | None = None
    """The camera's pose as measured on the rig (the sim camera's fields), recorded with every episode."""

    def __post_init__(self) -> None:
        if self.name not in CAMERAS:
            raise UsageError(f"camera_device={self.name!r}: choose one of {list(CAMERAS)}")
        if self.name == "replay" and not self.path:
            raise UsageError("camera_device=replay needs camera_device.path=<video file or folder of frames>")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> CameraDeviceConfig:
        return _build(cls, values, "camera_device")


def make_robot(cfg: RobotConfig, task: str = "vjepa_bench/FrankaReach-v1", image_size: int = 64) -> RobotAdapter:
    """The adapter for ``cfg.name`` (not yet connected)."""
    if cfg.name == "franky":
        from vjepa_bench.envs.real.franky_robot import FrankyRobot

        return FrankyRobot(cfg.host, gripper=cfg.gripper)
    if cfg.name == "polymetis":
        from vjepa_bench.envs.real.polymetis_robot import PolymetisRobot

        return PolymetisRobot(cfg.host, port=cfg.port or 50051, gripper=cfg.gripper)
    if cfg.name == "fake":
        from vjepa_bench.envs.real.fake import FakeRobot

        return FakeRobot()
    if cfg.name == "mujoco":
        from vjepa_bench.envs.real.sim_robot import SimRobot

        return SimRobot(task=task, image_size=image_size, seed=cfg.seed)
    raise UsageError("robot=sim runs the sim envs directly; use robot=mujoco for the sim robot through the real env")


def make_camera(cfg: CameraDeviceConfig, robot: RobotAdapter) -> CameraAdapter:
    """The camera for ``cfg.name`` (not yet started); ``sim`` needs the ``mujoco`` robot."""
    from vjepa_bench.envs.real import cameras

    if cfg.name == "replay":
        return cameras.ReplayCamera(cfg.path, loop=cfg.loop)
    if cfg.name == "realsense":
        return cameras.RealSenseCamera(cfg.width, cfg.height, cfg.fps, serial=cfg.serial)
    if cfg.name == "zed":
        return cameras.ZedCamera(cfg.resolution, cfg.fps, serial=cfg.serial)
    if cfg.name == "opencv":
        return cameras.OpenCVCamera(cfg.device, cfg.width, cfg.height)
    if cfg.name == "fake":
        from vjepa_bench.envs.real.fake import FakeCamera

        return FakeCamera(cfg.height, cfg.width)
    from vjepa_bench.envs.real.sim_robot import SimCamera, SimRobot

    if not isinstance(robot, SimRobot):
        raise UsageError(f"camera_device=sim renders the MuJoCo scene, which robot={robot.name} does not have; "
                         "choose camera_device=realsense, zed, opencv or replay")
    return SimCamera(robot)
