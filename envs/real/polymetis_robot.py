"""The Polymetis adapter (the DROID stack: a controller server on the robot's real-time PC, gRPC clients here).

Polymetis is not on PyPI (the ``polymetis`` name there is an empty placeholder): install it with conda,
``conda install -c pytorch -c fair-robotics -c aihabitat -c conda-forge polymetis`` (Python 3.8, libfranka 0.9 for
Panda / FER). Its end-effector link is ``panda_link8`` in DROID's configuration, so poses are the flange already;
quaternions are (x, y, z, w). Control exceptions are recovered on the server; the client only sees gRPC errors,
mapped here to ``ConnectionLost``.
"""

from __future__ import annotations

import numpy as np

from vjepa_bench.envs.real.interface import ConnectionLost, Health, Pose, RobotAdapter, RobotState
from vjepa_bench.errors import UsageError

INSTALL = ("conda install -c pytorch -c fair-robotics -c aihabitat -c conda-forge polymetis "
           "(never the PyPI 'polymetis', an empty placeholder)")
MAX_SPEED_MPS = 0.5
"""Cartesian speed (m/s) that ``speed=1`` stands for when choosing a move's duration."""


def import_polymetis():
    try:
        import polymetis
    except ImportError as error:
        raise UsageError(f"robot=polymetis needs the Polymetis client ({error}): {INSTALL}") from None
    return polymetis


class PolymetisRobot(RobotAdapter):
    name = "polymetis"

    def __init__(self, host: str, port: int = 50051, gripper_port: int = 50052, gripper: bool = True) -> None:
        self.host, self.port, self.gripper_port, self.use_gripper = host, port, gripper_port, gripper
        self._polymetis = import_polymetis()
        self._robot = None
        self._gripper = None

    def connect(self) -> None:
        if self._robot is not None:
            return
        try:
            self._robot = self._polymetis.RobotInterface(ip_address=self.host, port=self.port)
            if self.use_gripper:
                self._gripper = self._polymetis.GripperInterface(ip_address=self.host, port=self.gripper_port)
        except Exception as error:  # gRPC errors carry no common base class worth importing here
            self._robot = None
            raise UsageError(f"robot.host={self.host}:{self.port}: cannot reach the Polymetis server ({error}); "
                             "start launch_robot.py on the robot PC and check the address") from None

    def close(self) -> None:
        self._robot = self._gripper = None

    def _call(self, call):
        if self._robot is None:
            raise ConnectionLost(f"polymetis: not connected to {self.host}")
        try:
            return call()
        except Exception as error:  # gRPC: the server may have restarted or dropped the link
            raise ConnectionLost(f"polymetis {self.host}: {error}") from error

    def read_state(self) -> RobotState:
        position, quat = self._call(self._robot.get_ee_pose)
        joints = np.asarray(self._call(self._robot.get_joint_positions), np.float64)
        closedness, width = 0.0, float("nan")
        if self._gripper is not None:
            width = float(self._call(lambda: self._gripper.get_state().width))
            closedness = float(np.clip(1.0 - width / self._gripper.metadata.max_width, 0.0, 1.0))
        return RobotState(pose=Pose.from_quat(np.asarray(position), np.asarray(quat)), gripper=closedness,
                          gripper_width_m=width, joints=joints)

    def move_to(self, pose: Pose, speed: float, timeout_s: float) -> None:
        import torch

        current = self.read_state().pose
        distance, _ = current.distance_to(pose)
        time_to_go = float(np.clip(distance / (MAX_SPEED_MPS * speed), 0.5, timeout_s))
        self._call(lambda: self._robot.move_to_ee_pose(
            torch.as_tensor(pose.position, dtype=torch.float32), torch.as_tensor(pose.quat_xyzw, dtype=torch.float32),
            time_to_go=time_to_go))

    def set_gripper(self, closedness: float, force_n: float, timeout_s: float) -> None:
        if self._gripper is None:
            return
        width = self._gripper.metadata.max_width * (1.0 - closedness)
        self._call(lambda: self._gripper.goto(width=width, speed=0.05, force=force_n, blocking=True))

    def stop(self) -> None:
        if self._robot is not None and self._robot.is_running_policy():
            self._robot.terminate_current_policy()

    def recover(self) -> bool:
        self._robot = None
        try:
            self.connect()
        except UsageError:
            return False
        return True

    def health(self) -> Health:
        if self._robot is None:
            return Health(connected=False, mode="disconnected")
        try:
            self._robot.get_joint_positions()
        except Exception as error:  # gRPC
            return Health(connected=False, fault=str(error), mode="unreachable")
        return Health(connected=True, mode="running policy" if self._robot.is_running_policy() else "idle")
