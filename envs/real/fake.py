"""An in-process robot and camera with fault injection: the safety layer's and the env's test double.

``FakeRobot`` is a kinematic arm: a move puts the flange at the target after ``motion_s`` of wall time (cut short
by ``stop()``). It records every command it receives (``received``) so tests can check that nothing unsafe was
sent. Faults: ``fault_on_move`` (move numbers, 1-based, that fail half way with a ``ControlFault``),
``drop_on_move`` (moves that lose the link: ``ConnectionLost`` until ``recover()``), ``recover_ok``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from vjepa_bench.envs.real.interface import (
    READY_ROTATION,
    CameraAdapter,
    CameraTimeout,
    ConnectionLost,
    ControlFault,
    Frame,
    Health,
    Pose,
    RobotAdapter,
    RobotState,
)


@dataclass(frozen=True)
class Command:
    """One command as the fake received it."""

    kind: str  # "move", "gripper", "stop", "recover"
    pose: Pose | None = None
    speed: float | None = None
    closedness: float | None = None
    force_n: float | None = None
    start: Pose | None = None
    """The pose the arm was at when the command arrived."""


class FakeRobot(RobotAdapter):
    name = "fake"

    def __init__(self, start: Pose | None = None, motion_s: float = 0.0, fault_on_move: tuple[int, ...] = (),
                 drop_on_move: tuple[int, ...] = (), recover_ok: bool = True) -> None:

        self.pose = start or Pose(np.array([0.45, 0.0, 0.35]), READY_ROTATION)
        self.gripper = 0.0
        self.motion_s = motion_s
        self.fault_on_move = set(fault_on_move)
        self.drop_on_move = set(drop_on_move)
        self.recover_ok = recover_ok
        self.received: list[Command] = []
        self.moves = 0
        self.connected = False
        self.fault: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.connected = False

    def _check_link(self) -> None:
        if not self.connected:
            raise ConnectionLost("fake robot: link down")
        if self.fault:
            raise ControlFault(f"fake robot in fault state: {self.fault}")

    def read_state(self) -> RobotState:
        self._check_link()
        return RobotState(pose=self.pose, gripper=self.gripper, gripper_width_m=0.08 * (1 - self.gripper),
                          joints=np.zeros(7))

    def move_to(self, pose: Pose, speed: float, timeout_s: float) -> None:
        with self._lock:
            self.received.append(Command("move", pose=pose, speed=speed, start=self.pose))
            self.moves += 1
            self._check_link()
            self._stop.clear()
            start = self.pose
        if self.moves in self.drop_on_move:
            self.connected = False
            raise ConnectionLost("fake robot: connection dropped mid-motion")
        if self.moves in self.fault_on_move:
            self.pose = Pose(0.5 * (start.position + pose.position), start.rotation)
            self.fault = "cartesian_reflex"
            raise ControlFault("fake robot: cartesian_reflex mid-motion")
        if self._stop.wait(self.motion_s) if self.motion_s else False:
            self.pose = Pose(0.5 * (start.position + pose.position), start.rotation)  # stopped half way
            return
        self.pose = Pose(np.array(pose.position, np.float64), pose.rotation)

    def set_gripper(self, closedness: float, force_n: float, timeout_s: float) -> None:
        self.received.append(Command("gripper", closedness=closedness, force_n=force_n, start=self.pose))
        self._check_link()
        self.gripper = float(closedness)

    def stop(self) -> None:
        self.received.append(Command("stop", start=self.pose))
        self._stop.set()

    def recover(self) -> bool:
        self.received.append(Command("recover"))
        if not self.recover_ok:
            return False
        self.connected, self.fault = True, None
        return True

    def health(self) -> Health:
        return Health(connected=self.connected, fault=self.fault, mode="fake")


class FakeCamera(CameraAdapter):
    """Frames of a solid colour that changes with every read; ``timeout_after`` reads, then ``CameraTimeout``."""

    name = "fake"

    def __init__(self, height: int = 48, width: int = 64, timeout_after: int | None = None) -> None:
        self.shape = (height, width, 3)
        self.timeout_after = timeout_after
        self.reads = 0

    def start(self) -> None:
        pass

    def read(self, timeout_s: float = 2.0) -> Frame:
        self.reads += 1
        if self.timeout_after is not None and self.reads > self.timeout_after:
            raise CameraTimeout(f"fake camera: no frame within {timeout_s} s")
        return Frame(np.full(self.shape, self.reads % 256, np.uint8), time.monotonic_ns())

    def stop(self) -> None:
        pass
