"""``FrankaRealEnv``: a Franka behind a robot adapter and a camera, with the sim envs' spaces, goals and ``info``.

The same agent, planner and evaluation runner drive it: an action is one blocking base-frame step (position delta,
rotation delta applied on the left, gripper closedness delta), passed through :class:`SafeRobot` before anything is
sent. Observations are the camera frame cropped and resized to ``image_size`` and the measured flange state.

Goals (``robot.goal``): captured from the live camera after commanding the arm to ``positions`` (or after the
operator moved it there and pressed Enter), or loaded from image files. Success: ``measured`` (reach: the flange
within 4 cm of the goal position, as in the sim) or labelled by the ``operator`` at the end of the episode.

``info`` has the sim keys (``success``, ``is_success``, ``distance``, ``distance_to_final_goal``, ``subgoal``;
``goal`` and ``camera`` at reset) plus ``outcome`` (``success``, ``failure`` or ``aborted_safety``),
``safety_events``, ``clipped``, ``exec_error_m`` (reached minus commanded flange position) and ``latency_s``. Every
episode is appended to the trajectory store in ``robot.log_dir`` (the ``vjepa-bench collect`` HDF5 format).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from PIL import Image

from vjepa_bench import layout
from vjepa_bench.envs.base import STATE_HIGH, STATE_LOW
from vjepa_bench.envs.real.cameras import square_resize
from vjepa_bench.envs.real.config import CameraDeviceConfig, RobotConfig, make_camera, make_robot
from vjepa_bench.envs.real.interface import CameraAdapter, CameraTimeout, Pose, RobotAdapter
from vjepa_bench.envs.real.safety import SafeRobot, SafetyAbort, SafetyLimits, SafetyViolation, stop_on_interrupt
from vjepa_bench.envs.reach import SUCCESS_DISTANCE
from vjepa_bench.errors import UsageError
from vjepa_bench.goal_schedule import active_goal

GRIPPER_DEADBAND = 0.05
"""Gripper targets closer than this to the last one are not sent (a slow gripper call every step helps nobody)."""


class Operator:
    """Prompts on stdin; a non-interactive operator refuses, so an unattended run never blocks on a prompt."""

    def __init__(self, interactive: bool = True, ask: Callable[[str], str] = input) -> None:
        self.interactive = interactive
        self._ask = ask

    def ask(self, prompt: str) -> str:
        if not self.interactive:
            raise UsageError(f"needs an operator ({prompt.strip()}); set robot.interactive=true or give "
                             "robot.goal.positions / robot.goal.files and robot.success=measured")
        return self._ask(prompt)

    def label_success(self) -> bool:
        while True:
            answer = self.ask("episode over: success? [y/n] ").strip().lower()
            if answer in ("y", "yes", "n", "no"):
                return answer.startswith("y")


def _task_class(task: str):
    from vjepa_bench.envs import ENV_CLASSES

    for env_id, cls in ENV_CLASSES.items():
        if task in (env_id, cls.task):
            return env_id, cls
    raise UsageError(f"task {task!r}: choose one of {list(ENV_CLASSES)}")


HOME_TOLERANCE_M = 0.01
HOME_TOLERANCE_RAD = 0.05
"""How far from ``robot.home`` the arm may stop before a reset refuses to start the episode."""


class FrankaRealEnv(gym.Env):
    """A real (or stand-in) Franka with image goals; see the module docstring."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, task: str = "reach", robot: dict | RobotConfig | None = None,
                 camera: dict | CameraDeviceConfig | None = None, image_size: int = 256,
                 render_mode: str | None = None, robot_adapter: RobotAdapter | None = None,
                 camera_adapter: CameraAdapter | None = None, operator: Operator | None = None) -> None:
        self.config = robot if isinstance(robot, RobotConfig) else RobotConfig.from_dict(robot)
        self.camera_config = camera if isinstance(camera, CameraDeviceConfig) else CameraDeviceConfig.from_dict(camera)
        self.env_id, task_cls = _task_class(task)
        self.task = task_cls.task
        if self.config.success == "measured" and self.task != "reach":
            raise UsageError(f"robot.success=measured exists for reach only; the {self.task} task needs "
                             "robot.success=operator")
        self.image_size = int(image_size)
        self.render_mode = render_mode
        self.max_episode_steps = int(self.config.episode_steps or task_cls.max_episode_steps)
        self.limits = SafetyLimits.from_dict(self.config.safety)
        adapter = robot_adapter or make_robot(self.config, self.env_id, self.image_size)
        self.robot = SafeRobot(adapter, self.limits)
        self.camera = camera_adapter or make_camera(self.camera_config, adapter)
        self.operator = operator or Operator(self.config.interactive)
        self.home = Pose(np.asarray(self.config.home, np.float64), adapter.ready_rotation)
        self.action_space = gym.spaces.Box(layout.ACTION_LOW, layout.ACTION_HIGH, dtype=np.float32)
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (self.image_size, self.image_size, 3), dtype=np.uint8),
            "state": gym.spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32),
        })
        self._started = False
        self._goal: dict[str, Any] = {}
        self._elapsed = 0
        self._gripper_target = 0.0
        self._last_image: np.ndarray | None = None
        self._last_state: np.ndarray | None = None
        self._episode: dict[str, list] = {}
        self._seed: int | None = None
        self._writer = None

    # ------------------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; the real env takes none")
        if not self._started:
            self._interrupt = contextlib.ExitStack()  # Ctrl-C triggers the emergency stop while connected
            self._interrupt.enter_context(stop_on_interrupt(self.robot.estop))
            self.robot.connect()
            self.camera.start()
            self._started = True
        self._seed = seed
        self.robot.start_episode()
        self._go_home()
        self._goal = self._capture_goals()
        self._go_home()
        self._elapsed = 0
        obs = self._observe()
        self._episode = {"images": [obs["image"]], "states": [obs["state"]], "actions": []}
        info = self._info(obs["state"], outcome="running")
        info["goal"] = self._goal
        info["camera"] = self.camera_config.pose
        return obs, info

    def step(self, action):
        action = layout.checked_action(action)
        start = time.perf_counter()
        self.robot.heartbeat()
        events: list[str] = []
        target, aborted = None, None
        try:
            report = self.robot.move_delta(action[layout.POSITION], action[layout.ROTATION])
            target, events = report.target, list(report.events)
            gripper = float(np.clip(self._gripper_target + action[layout.GRIPPER][0], 0.0, 1.0))
            if abs(gripper - self._gripper_target) >= GRIPPER_DEADBAND or gripper in (0.0, 1.0) and \
                    gripper != self._gripper_target:
                self.robot.set_gripper(gripper)
                self._gripper_target = gripper
        except SafetyViolation as error:
            events.append(f"refused: {error}")
        except SafetyAbort as error:
            aborted = str(error)
        events.extend(e for e in self.robot.events if e not in events and e.startswith(("fault", "recovered",
                                                                                         "watchdog")))
        self.robot.events = []
        self._elapsed += 1
        try:
            obs = self._observe()
        except SafetyAbort as error:
            aborted = aborted or str(error)
            obs = {"image": self._last_image, "state": self._last_state}  # the link may be gone: last known
        self.robot.heartbeat()
        state = obs["state"]
        info = self._info(state, outcome="running")
        truncated = self._elapsed >= self.max_episode_steps or aborted is not None
        success = info["success"]
        if self.config.success == "operator" and truncated and aborted is None:
            success = self.operator.label_success()
        terminated = bool(success) and aborted is None
        outcome = "aborted_safety" if aborted else "success" if success else "failure"
        info.update({"success": bool(success), "is_success": bool(success),
                     "outcome": outcome if (terminated or truncated) else "running",
                     "aborted_safety": aborted is not None, "safety_events": events,
                     "clipped": any("clipped" in e for e in events),
                     "exec_error_m": float(np.linalg.norm(state[layout.POSITION] - target.position))
                     if target is not None else 0.0,
                     "latency_s": time.perf_counter() - start})
        if aborted:
            info["abort_reason"] = aborted
        self._episode["images"].append(obs["image"])
        self._episode["states"].append(state)
        self._episode["actions"].append(action.astype(np.float32))
        if terminated or truncated:
            self._log_episode(info["outcome"], bool(success))
        return obs, self._reward(info), terminated, truncated, info

    def render(self):
        return None if self.render_mode != "rgb_array" or self._last_image is None else self._last_image.copy()

    def close(self):
        if self._started:
            self.robot.stop()
            self.robot.close()
            self._interrupt.close()
            self.camera.stop()
            self._started = False

    # ------------------------------------------------------------------------------------------------- pieces
    def _go_home(self) -> None:
        """Open the gripper and move to ``robot.home``; a home the arm cannot reach is a one-line error."""
        self.robot.set_gripper(0.0)
        self._gripper_target = 0.0
        translation, angle = self.robot.move_to(self.home).distance_to(self.home)
        if translation > HOME_TOLERANCE_M or angle > HOME_TOLERANCE_RAD:
            raise UsageError(f"robot.home={list(self.config.home)}: the arm stopped {100 * translation:.1f} cm and "
                             f"{np.degrees(angle):.0f} deg from the home pose; choose a home the arm can reach")

    def _observe(self) -> dict[str, np.ndarray]:
        try:
            frame = self.camera.read()
        except CameraTimeout:
            try:
                frame = self.camera.read()  # one retry: a dropped USB frame is common
            except CameraTimeout as error:
                self.robot.stop()
                raise SafetyAbort(f"camera: {error}; the arm was stopped") from error
        self._last_image = square_resize(frame.rgb, self.image_size)
        self._last_state = self.robot.read_state().vector()
        return {"image": self._last_image, "state": self._last_state}

    def _goal_schedule(self, count: int) -> list[int]:
        steps = list(self.config.goal.steps or [self.max_episode_steps] * count)
        if len(steps) != count:
            raise UsageError(f"robot.goal.steps={steps} must have one entry per goal ({count})")
        steps[-1] = self.max_episode_steps - sum(steps[:-1])
        return steps

    def _capture_goals(self) -> dict[str, Any]:
        goal = self.config.goal
        if goal.source == "files":
            images = [square_resize(np.asarray(Image.open(self._goal_file(p)).convert("RGB")), self.image_size)
                      for p in goal.files]
            states = np.asarray(goal.states, np.float32) if goal.states else np.full((len(images), 7), np.nan,
                                                                                        np.float32)
            if states.shape != (len(images), layout.STATE_DIM):
                raise UsageError(f"robot.goal.states must be {len(images)} states of 7 numbers, got {states.shape}")
        else:
            count = len(goal.positions) if goal.positions else len(goal.steps or [None])
            images, states = [], []
            for k in range(count):
                if goal.positions:
                    self.robot.move_to(Pose(np.asarray(goal.positions[k], np.float64), self.home.rotation))
                else:
                    self.operator.ask(f"move the arm to goal {k + 1}/{count} (guiding mode), then press Enter ")
                observation = self._observe()
                images.append(observation["image"])
                states.append(observation["state"])
            states = np.stack(states).astype(np.float32)
        return {"images": np.stack(images), "states": states, "steps": self._goal_schedule(len(images))}

    @staticmethod
    def _goal_file(path: str) -> Path:
        path = Path(path).expanduser()
        if not path.is_file():
            raise UsageError(f"robot.goal.files: {path} does not exist")
        return path

    def _info(self, state: np.ndarray, outcome: str) -> dict[str, Any]:
        subgoal = active_goal(self._elapsed, self._goal["steps"])
        goal_state = self._goal["states"][subgoal]
        distance = float(np.linalg.norm(state[layout.POSITION] - goal_state[layout.POSITION]))
        final = float(np.linalg.norm(state[layout.POSITION] - self._goal["states"][-1][layout.POSITION]))
        success = self.config.success == "measured" and distance < SUCCESS_DISTANCE
        return {"success": success, "distance": distance, "is_success": success, "distance_to_final_goal": final,
                "subgoal": subgoal, "outcome": outcome}

    @staticmethod
    def _reward(info: dict[str, Any]) -> float:
        distance = info["distance"] if np.isfinite(info["distance"]) else 0.0
        return float(-distance + (1.0 if info["success"] else 0.0))

    def _log_episode(self, outcome: str, success: bool) -> None:
        if not self.config.log_dir:
            return
        from vjepa_bench.data.store import Trajectory, TrajectoryWriter

        if self._writer is None:
            self._writer = TrajectoryWriter(self.config.log_dir)
        done = self._writer.done_indices
        self._writer.write(Trajectory(
            images=np.stack(self._episode["images"]), states=np.stack(self._episode["states"]).astype(np.float32),
            actions=np.stack(self._episode["actions"]).astype(np.float32), task=self.env_id, seed=self._seed,
            success=success, camera=self.camera_config.pose, index=max(done) + 1 if done else 0,
            attrs={"outcome": outcome, "robot": self.config.name, "camera_device": self.camera_config.name,
                   "goal_steps": self._goal["steps"]}))
