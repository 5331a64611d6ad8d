"""The MuJoCo sim robot behind the adapter interface, and its observation camera as a camera adapter.

``SimRobot`` drives a sim env's blocking end-effector controller (one 0.25 s control step per call of the env's
``step``): an absolute move is a sequence of in-bound steps from the controller's target toward the requested
flange pose until the flange is within ``tolerance_m``. Speed scaling does not apply (sim time is not wall time).
With ``SimCamera`` on the same robot, the real env runs entirely in MuJoCo: the real-robot code path, tested.
"""

from __future__ import annotations

import numpy as np

from vjepa_bench import layout
from vjepa_bench.envs.controller import TOP_DOWN
from vjepa_bench.envs.real.interface import (
    CameraAdapter,
    ControlFault,
    Frame,
    Health,
    Pose,
    RobotAdapter,
    RobotState,
)


class SimRobot(RobotAdapter):
    name = "sim"
    ready_rotation = TOP_DOWN  # the sim hand's start pose, inside its controller's rotation cone

    def __init__(self, task: str = "vjepa_bench/FrankaReach-v1", image_size: int = 64, seed: int = 0,
                 tolerance_m: float = 0.003, max_steps_per_move: int = 40) -> None:
        from vjepa_bench.envs import ENV_CLASSES

        self.task, self.image_size, self.seed = task, int(image_size), int(seed)
        self.tolerance_m = tolerance_m
        self.max_steps_per_move = max_steps_per_move
        self._cls = ENV_CLASSES[task]
        self.env = None
        self.stops = 0

    def connect(self) -> None:
        if self.env is None:
            self.env = self._cls(image_size=self.image_size, render_mode="rgb_array", shadows=False)
            self.env.reset(seed=self.seed)

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None

    def read_state(self) -> RobotState:
        state = self.env.robot_state()
        return RobotState(pose=Pose.from_euler(state[layout.POSITION], state[layout.ROTATION]),
                          gripper=float(state[layout.GRIPPER][0]), joints=self.env.data.qpos[:7].copy())

    def _step_toward(self, pose: Pose | None, closedness: float | None) -> None:
        target_pos, target_rot, target_grip = self.env.target_pose()
        action = np.zeros(layout.ACTION_DIM)
        if pose is not None:
            action[layout.POSITION] = pose.position - target_pos
            action[layout.ROTATION] = (pose.rotation * target_rot.inv()).as_euler("xyz")
        if closedness is not None:
            action[layout.GRIPPER] = closedness - target_grip
        self.env.step(layout.clip_action(action))

    def move_to(self, pose: Pose, speed: float, timeout_s: float) -> None:
        for _ in range(self.max_steps_per_move):
            self._step_toward(pose, None)
            translation, angle = self.read_state().pose.distance_to(pose)
            if translation <= self.tolerance_m and angle <= 0.01:
                return
        translation, _ = self.read_state().pose.distance_to(pose)
        if translation > 0.02:
            raise ControlFault(f"sim: flange stayed {translation:.3f} m from the target (out of reach?)")

    def set_gripper(self, closedness: float, force_n: float, timeout_s: float) -> None:
        for _ in range(3):  # the fingers need about two control steps to travel fully
            self._step_toward(None, closedness)

    def stop(self) -> None:
        self.stops += 1  # the sim only moves inside a command: stopping holds by construction

    def recover(self) -> bool:
        return self.env is not None

    def health(self) -> Health:
        return Health(connected=self.env is not None, mode="mujoco")


class SimCamera(CameraAdapter):
    """The sim robot's observation camera (square ``image_size`` frames)."""

    name = "sim"

    def __init__(self, robot: SimRobot) -> None:
        self.robot = robot

    def start(self) -> None:
        self.robot.connect()

    def read(self, timeout_s: float = 2.0) -> Frame:
        import time

        return Frame(self.robot.env.render(), time.monotonic_ns())

    def stop(self) -> None:
        pass
