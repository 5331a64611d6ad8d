"""``vjepa-bench robot-check``: the pre-flight before an agent may drive a real arm.

Steps, each confirmed by the operator (``confirm=false`` skips the prompts for unattended rigs): read-only state
streaming and health; a ``move_m`` (1 cm) move up and back at ``speed`` (5 %); gripper open / close / open; the
camera's frame rate. Nothing moves unless ``i_have_an_estop=true`` is given: keep the emergency stop in hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict

import numpy as np

from vjepa_bench.envs.real.config import CameraDeviceConfig, RobotConfig, make_camera, make_robot
from vjepa_bench.envs.real.env import Operator
from vjepa_bench.envs.real.safety import SafeRobot, SafetyLimits, stop_on_interrupt
from vjepa_bench.errors import UsageError


@dataclass(frozen=True)
class RobotCheckConfig:
    """Everything ``vjepa-bench robot-check`` reads (``robot_check_schema``); ``robot`` and ``camera_device`` hold
    the fields of :class:`RobotConfig` and :class:`CameraDeviceConfig`, checked when those are built."""

    robot: Dict[str, Any] = field(default_factory=lambda: {"name": "franky"})
    camera_device: Dict[str, Any] = field(default_factory=lambda: {"name": "realsense"})
    i_have_an_estop: bool = False
    confirm: bool = True
    move_m: float = 0.01
    speed: float = 0.05
    stream_s: float = 1.0
    frames: int = 30
    min_fps: float = 5.0

    def __post_init__(self) -> None:
        if not self.i_have_an_estop:
            raise UsageError("robot-check moves the arm: hold the emergency stop, then pass i_have_an_estop=true")
        if not 0 < self.move_m <= 0.05 or not 0 < self.speed <= 0.2:
            raise UsageError("robot-check: move_m must be in (0, 0.05] m and speed in (0, 0.2]")
        if not self.stream_s > 0 or not self.min_fps > 0:
            raise UsageError(f"robot-check: stream_s={self.stream_s} and min_fps={self.min_fps} must be > 0")
        if isinstance(self.frames, bool) or self.frames < 2:
            raise UsageError(f"frames={self.frames!r}: must be an integer >= 2 (the frame rate needs two stamps)")


def _step(operator: Operator, confirm: bool, text: str) -> None:
    if confirm and operator.ask(f"{text}? [y/N] ").strip().lower() not in ("y", "yes"):
        raise UsageError(f"robot-check stopped before: {text}")


def run_check(check: RobotCheckConfig, robot_cfg: RobotConfig, camera_cfg: CameraDeviceConfig,
              operator: Operator | None = None) -> list[str]:
    """Run the pre-flight; returns one PASS line per step, raises ``UsageError`` on the first failure."""
    operator = operator or Operator(interactive=check.confirm)
    adapter = make_robot(robot_cfg)
    limits = SafetyLimits.from_dict({**robot_cfg.safety, "speed": min(check.speed, robot_cfg.safety.get("speed", 1))})
    robot = SafeRobot(adapter, limits)
    lines = []
    with stop_on_interrupt(robot.estop):
        _step(operator, check.confirm, f"connect to {robot_cfg.name} at {robot_cfg.host} and stream its state")
        robot.connect()
        try:
            reads, start = [], time.monotonic()
            while time.monotonic() - start < check.stream_s:
                reads.append(adapter.read_state())
            health = adapter.health()
            if not health.ok:
                raise UsageError(f"robot-check: robot not ready ({health.fault or health.mode}); clear it in Desk")
            pose = reads[-1].pose
            lines.append(f"PASS state: {len(reads)} reads in {check.stream_s:.1f} s, flange "
                         f"{np.round(pose.position, 4).tolist()} m, gripper {reads[-1].gripper:.2f}")
            _step(operator, check.confirm, f"move {100 * check.move_m:.0f} cm up and back at {100 * check.speed:.0f} % speed")
            report = robot.move_delta([0.0, 0.0, check.move_m], [0.0, 0.0, 0.0])
            sent = report.target.position - pose.position  # the safety layer may have clipped it into the box
            moved = robot.read_state().pose.position - pose.position
            robot.move_delta(-moved, [0.0, 0.0, 0.0])
            if np.linalg.norm(moved - sent) > 0.4 * check.move_m:
                raise UsageError(f"robot-check: commanded {np.round(sent, 4).tolist()} m, measured "
                                 f"{np.round(moved, 4).tolist()} m; check the end-effector settings in Desk")
            clipped = f" (clipped: {', '.join(report.events)})" if report.events else ""
            lines.append(f"PASS move: {1000 * np.linalg.norm(moved):.1f} mm and back{clipped}")
            _step(operator, check.confirm, "open, close and open the gripper")
            closed = []
            for closedness in (0.0, 1.0, 0.0):
                robot.set_gripper(closedness)
                closed.append(robot.read_state().gripper)
            if not closed[1] > closed[0] + 0.5:
                raise UsageError(f"robot-check: gripper closedness {closed}; check the gripper in Desk")
            lines.append(f"PASS gripper: closedness open {closed[0]:.2f}, closed {closed[1]:.2f}")
        finally:
            robot.close()
    camera = make_camera(camera_cfg, adapter)
    camera.start()
    try:
        stamps = [camera.read().stamp_ns for _ in range(check.frames)]
    finally:
        camera.stop()
    fps = (len(stamps) - 1) / max((stamps[-1] - stamps[0]) * 1e-9, 1e-9)
    if fps < check.min_fps:
        raise UsageError(f"robot-check: camera {camera_cfg.name} delivers {fps:.1f} fps (< {check.min_fps}); "
                         "check the cable (USB 3) and the mode")
    lines.append(f"PASS camera: {camera_cfg.name} at {fps:.1f} fps")
    return lines


def main(check: RobotCheckConfig) -> None:
    robot_cfg = RobotConfig.from_dict(check.robot)
    camera_cfg = CameraDeviceConfig.from_dict(check.camera_device)
    for line in run_check(check, robot_cfg, camera_cfg):
        print(line)
    print("robot-check passed: the arm, gripper and camera respond; start with robot.safety.speed=0.05")
