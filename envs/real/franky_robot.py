"""The franky adapter (PyPI ``franky-control``: libfranka for FR3 system >= 5.9, robot server version 10).

franky reports and commands the *end-effector* frame configured in Desk (flange times ``F_T_EE``, e.g. the Franka
Hand's 10.34 cm and -45 deg). This adapter reads ``F_T_EE`` at connect and converts, so states and targets are the
flange (``panda_link8``) as everywhere else in the project. franky's ``ReferenceType.Relative`` targets live in the
end-effector frame; this adapter only sends absolute base-frame targets (the base class composes deltas).

Motions run asynchronously and are joined with a timeout, so ``stop()`` from the watchdog or the emergency stop
preempts them at once.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy.spatial.transform import Rotation

from vjepa_bench.envs.real.interface import (
    ConnectionLost,
    ControlFault,
    Health,
    Pose,
    RobotAdapter,
    RobotState,
)
from vjepa_bench.errors import UsageError

SERVER_VERSION = 10
"""Robot server version of the libfranka bundled in franky-control 2.x (FR3 system >= 5.9)."""
WHEEL_INDEX = "https://timschneider42.github.io/franky/whl/by-robot-server-version/{version}/"


def import_franky():
    try:
        import franky
    except ImportError as error:
        raise UsageError(f"robot=franky needs franky-control ({error}): pip install -e \".[franky]\" "
                         "(the PyPI package 'franky' is unrelated)") from None
    return franky


def _matrix(pose: Pose) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = pose.rotation.as_matrix()
    out[:3, 3] = pose.position
    return out


def _pose(matrix: np.ndarray) -> Pose:
    return Pose(np.array(matrix[:3, 3]), Rotation.from_matrix(matrix[:3, :3]))


def connection_error(host: str, error: Exception) -> UsageError:
    """The one-line error for a failed connect: unreachable host or a libfranka / robot version mismatch."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if type(error).__name__ == "IncompatibleVersionException":
        digits = [int(s) for s in text.replace(",", " ").replace(")", " ").split() if s.isdigit()]
        server = digits[0] if digits else "<N>"
        return UsageError(
            f"robot.host={host}: {text}; franky-control bundles libfranka for robot server version {SERVER_VERSION} "
            f"(FR3 >= 5.9): install the wheel for your robot: pip install franky-control --extra-index-url "
            f"{WHEEL_INDEX.format(version=server)}")
    return UsageError(f"robot.host={host}: cannot connect ({text}); check the Ethernet link and the IP, that the "
                      "brakes are open and FCI is activated in Desk")


class FrankyRobot(RobotAdapter):
    name = "franky"

    def __init__(self, host: str, gripper: bool = True, collision_force_n: float = 40.0,
                 collision_torque_nm: float = 40.0) -> None:
        self.host = host
        self.use_gripper = gripper
        self.collision_force_n = collision_force_n
        self.collision_torque_nm = collision_torque_nm
        self._franky = import_franky()
        self._robot = None
        self._gripper = None
        self._flange_to_ee = np.eye(4)
        self._stopping = threading.Event()

    # ------------------------------------------------------------------------------------------------ link
    def connect(self) -> None:
        if self._robot is not None:
            return
        franky = self._franky
        try:
            self._robot = franky.Robot(self.host, realtime_config=franky.RealtimeConfig.Ignore)
            if self.use_gripper:
                self._gripper = franky.Gripper(self.host)
        except Exception as error:  # franky raises its own hierarchy; map every connect failure to one line
            self._robot = None
            raise connection_error(self.host, error) from None
        self._robot.set_collision_behavior([self.collision_torque_nm] * 7, [self.collision_force_n] * 6)
        self._flange_to_ee = np.array(self._robot.state.F_T_EE.matrix)

    def close(self) -> None:
        self._robot = None
        self._gripper = None

    def _require(self):
        if self._robot is None:
            raise ConnectionLost(f"franky: not connected to {self.host}")
        return self._robot

    def _mapped(self, call):
        franky = self._franky
        try:
            return call()
        except franky.NetworkException as error:
            raise ConnectionLost(f"franky {self.host}: {error}") from error
        except (franky.ControlException, franky.GripperException, franky.CommandException) as error:
            raise ControlFault(f"franky {self.host}: {error}") from error

    # ------------------------------------------------------------------------------------------------ state
    def read_state(self) -> RobotState:
        robot = self._require()

        def read():
            ee = np.array(robot.current_cartesian_state.pose.end_effector_pose.matrix)
            joints = np.array(robot.current_joint_state.position)
            fault = str(robot.state.current_errors) if robot.has_errors else None
            return ee, joints, fault

        ee, joints, fault = self._mapped(read)
        flange = _pose(ee @ np.linalg.inv(self._flange_to_ee))
        width, closedness = float("nan"), 0.0
        if self._gripper is not None:
            width = float(self._mapped(lambda: self._gripper.width))
            max_width = float(self._gripper.max_width) or 0.08
            closedness = float(np.clip(1.0 - width / max_width, 0.0, 1.0))
        return RobotState(pose=flange, gripper=closedness, gripper_width_m=width, joints=joints, fault=fault)

    # ------------------------------------------------------------------------------------------------ motion
    def move_to(self, pose: Pose, speed: float, timeout_s: float) -> None:
        franky, robot = self._franky, self._require()
        ee = _matrix(pose) @ self._flange_to_ee
        motion = franky.CartesianMotion(franky.Affine(ee), franky.ReferenceType.Absolute)
        self._stopping.clear()

        def run() -> None:
            robot.relative_dynamics_factor = float(speed)
            robot.move(motion, asynchronous=True)
            if not robot.join_motion(timeout=timeout_s):
                robot.stop()
                raise ControlFault(f"franky {self.host}: motion did not finish within {timeout_s} s; stopped")

        try:
            self._mapped(run)
        except ControlFault:
            if self._stopping.is_set() and not robot.has_errors:
                return  # preempted by our own stop(): the arm holds where it stopped
            raise

    def set_gripper(self, closedness: float, force_n: float, timeout_s: float) -> None:
        if self._gripper is None:
            return
        gripper = self._gripper

        def run() -> None:
            if closedness >= 0.99:
                gripper.grasp(0.0, 0.05, float(force_n), epsilon_inner=0.08, epsilon_outer=0.08)
            else:
                gripper.move(float(gripper.max_width) * (1.0 - closedness), 0.05)

        self._mapped(run)

    def stop(self) -> None:
        self._stopping.set()
        if self._robot is not None:
            self._robot.stop()

    def recover(self) -> bool:
        try:
            if self._robot is None:
                self.connect()
            return bool(self._mapped(self._robot.recover_from_errors))
        except (ConnectionLost, ControlFault, UsageError):
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
            state = self._robot.state
            fault = str(state.current_errors) if self._robot.has_errors else None
            return Health(connected=True, fault=fault, mode=str(state.robot_mode))
        except Exception as error:  # a dead link shows up here first
            return Health(connected=False, fault=str(error), mode="unreachable")
