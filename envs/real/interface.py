"""The hardware-agnostic robot and camera interfaces the real env drives, and the errors they raise.

Conventions (the same as the sim envs and DROID): every pose is the flange (``panda_link8``) in the robot base
frame (x forward, y left, z up), in metres; orientations are scipy rotations, reported as extrinsic "xyz" Euler
angles (rad); gripper closedness is 0 open, 1 closed. A base-frame delta move goes to ``p + dp`` and ``R_d R``
(the rotation is applied on the left, in the base frame), never to a target in the end-effector frame.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from vjepa_bench import layout

READY_ROTATION = Rotation.from_euler("xyz", [np.pi, 0.0, -np.pi / 4])
"""Flange orientation of Franka's ready pose (joint 7 at +45 deg): hand down, fingers closing along the base y axis.
The real arm's home keeps it (DROID's home too); the simulated tasks turn the hand 90 deg so that the default camera
sees the fingers open and close, and the sim adapter's home keeps the sim's top-down pose (``ready_rotation``)."""


class RobotError(RuntimeError):
    """A robot or camera problem at run time (the message says what happened and what to check)."""


class ControlFault(RobotError):
    """The controller refused or aborted a motion (a reflex, a limit, a preempted move); ``recover()`` may help."""


class ConnectionLost(RobotError):
    """The link to the robot or camera dropped; ``recover()`` reconnects if it can."""


class CameraTimeout(RobotError):
    """No frame arrived in time."""


@dataclass(frozen=True)
class Pose:
    """A flange pose in the base frame."""

    position: np.ndarray
    rotation: Rotation

    @classmethod
    def from_euler(cls, position, euler_xyz) -> Pose:
        return cls(np.asarray(position, np.float64), Rotation.from_euler("xyz", np.asarray(euler_xyz, np.float64)))

    @classmethod
    def from_quat(cls, position, quat_xyzw) -> Pose:
        return cls(np.asarray(position, np.float64), Rotation.from_quat(np.asarray(quat_xyzw, np.float64)))

    @property
    def euler_xyz(self) -> np.ndarray:
        return self.rotation.as_euler("xyz")

    @property
    def quat_xyzw(self) -> np.ndarray:
        return self.rotation.as_quat()

    def moved(self, dposition, drotation_xyz) -> Pose:
        """This pose after a base-frame delta: ``p + dp``, ``R_d R``."""
        rot = Rotation.from_euler("xyz", np.asarray(drotation_xyz, np.float64)) * self.rotation
        return Pose(self.position + np.asarray(dposition, np.float64), rot)

    def distance_to(self, other: Pose) -> tuple[float, float]:
        """Translation (m) and rotation angle (rad) between two poses."""
        angle = float((other.rotation * self.rotation.inv()).magnitude())
        return float(np.linalg.norm(other.position - self.position)), angle


@dataclass(frozen=True)
class RobotState:
    """One read of the robot: flange pose, gripper, joints, when it was read and the last fault (if any)."""

    pose: Pose
    gripper: float
    """Closedness in [0, 1]: 0 open, 1 closed (1 - width / max_width)."""
    gripper_width_m: float = float("nan")
    joints: np.ndarray = field(default_factory=lambda: np.full(7, np.nan))
    stamp_ns: int = field(default_factory=time.monotonic_ns)
    fault: str | None = None

    def vector(self) -> np.ndarray:
        """The project's ``float32[7]`` state: position, Euler "xyz", closedness."""
        state = np.empty(layout.STATE_DIM, np.float32)
        state[layout.POSITION] = self.pose.position
        state[layout.ROTATION] = self.pose.euler_xyz
        state[layout.GRIPPER] = self.gripper
        return state


@dataclass(frozen=True)
class Health:
    """What ``health()`` reports: connected, in a fault state (with the text), and a free-form mode name."""

    connected: bool
    fault: str | None = None
    mode: str = ""

    @property
    def ok(self) -> bool:
        return self.connected and self.fault is None


class RobotAdapter(abc.ABC):
    """One control stack behind one small interface. Every motion blocks until it ends or fails.

    Adapters implement the absolute primitives; :meth:`move_delta` composes base-frame targets from them. Nothing
    here checks limits: the real env always drives an adapter through :class:`~vjepa_bench.envs.real.safety.SafeRobot`.
    """

    name = "robot"
    ready_rotation: Rotation = READY_ROTATION
    """Flange orientation of the home pose (the real env's home keeps it for every episode)."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the link (idempotent); raise ``UsageError`` naming the setting to check when it cannot."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def read_state(self) -> RobotState: ...

    @abc.abstractmethod
    def move_to(self, pose: Pose, speed: float, timeout_s: float) -> None:
        """Blocking Cartesian move of the flange to ``pose`` at ``speed`` (fraction of the maximum, (0, 1])."""

    @abc.abstractmethod
    def set_gripper(self, closedness: float, force_n: float, timeout_s: float) -> None:
        """Blocking gripper move to ``closedness`` (0 open, 1 closed: a grasp limited to ``force_n``)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop any motion now and hold the current pose (safe to call from any thread, at any time)."""

    @abc.abstractmethod
    def recover(self) -> bool:
        """Clear a fault (or reconnect); True when the robot accepts commands again."""

    @abc.abstractmethod
    def health(self) -> Health: ...

    def move_delta(self, dposition, drotation_xyz, speed: float, timeout_s: float) -> Pose:
        """Blocking base-frame delta move from the measured pose; returns the target sent."""
        target = self.read_state().pose.moved(dposition, drotation_xyz)
        self.move_to(target, speed, timeout_s)
        return target


@dataclass(frozen=True)
class Frame:
    """One RGB frame, ``(H, W, 3)`` uint8, and its capture time (monotonic ns)."""

    rgb: np.ndarray
    stamp_ns: int


class CameraAdapter(abc.ABC):
    """A colour camera. ``read`` returns the newest frame as captured; the env crops and resizes it."""

    name = "camera"

    @abc.abstractmethod
    def start(self) -> None:
        """Open the device (idempotent); raise ``UsageError`` naming the setting to check when it cannot."""

    @abc.abstractmethod
    def read(self, timeout_s: float = 2.0) -> Frame: ...

    @abc.abstractmethod
    def stop(self) -> None: ...
