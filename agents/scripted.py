"""A privileged oracle that reads the simulator and solves every task: proof that the tasks are solvable and that
their success checks are right. It needs the unwrapped env (``FrankaEnv``) passed to ``reset``."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation
from vjepa_bench.agents.base import register_agent

from vjepa_bench import layout
from vjepa_bench.envs import pick_place

CLOSE_ENOUGH = 0.012
"""A waypoint counts as reached when both the commanded and the measured flange are this close (m)."""
HOVER = 0.07
"""Height (m) above the grasp pose from which the hand descends."""
PLACE_CLEARANCE = 0.01
"""The object is released this far above its resting height."""
PICK_PHASES = ("hover", "descend", "close", "lift")
"""The oracle's phases on grasp."""
PHASES = PICK_PHASES + ("carry", "lower", "open", "retreat")
"""Its phases on pick-and-place; ``step_info()["phase"]`` is the index into these on either task."""


@register_agent("scripted")
class ScriptedAgent:
    """Waypoint oracle: turn to the grasp, align over the object, descend, close, lift, carry, lower, open (whatever
    the task needs)."""

    name = "scripted"

    def __init__(self) -> None:
        self._env: Any = None
        self._phase = 0
        self._wait = 0
        self._info: dict[str, Any] = {}

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        self._env = getattr(env, "unwrapped", env)
        if not hasattr(self._env, "task"):
            raise TypeError("the scripted agent needs a vjepa_bench Franka env (privileged access)")
        self._phase = 0
        self._wait = 0
        self._rotation: Rotation | None = None

    def step_info(self) -> dict[str, Any]:
        return dict(self._info)

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        env = self._env
        task = env.task
        if task == "reach":
            action = self._move(env.goal_position, grip=0.0)
        elif task == "reach_with_object":
            offset = env.object_position() - env.flange_position()
            action = self._move(env.goal_object - offset, grip=1.0)
        else:
            action = self._pick(env)
        self._info = {"phase": self._phase}
        return action.astype(np.float32)

    # ------------------------------------------------------------------------------------------------------
    def _pick(self, env: Any) -> np.ndarray:
        if self._rotation is None:
            self._rotation = env.grasp_rotation()
        grasp = env.grasp_flange(env.start_object)
        phases = PHASES if env.task == "pick_place" else PICK_PHASES
        release = None
        if env.task == "pick_place":
            release = env.grasp_flange(env.target_object) + [0.0, 0.0, PLACE_CLEARANCE]
        while True:
            phase = phases[min(self._phase, len(phases) - 1)]
            if phase == "hover":
                target, grip, done = grasp + [0.0, 0.0, HOVER], 0.0, self._reached(grasp + [0, 0, HOVER], 0.03)
                done = done and self._turned()
            elif phase == "descend":
                target, grip = grasp, 0.0
                done = self._reached(target)
            elif phase in ("close", "open"):
                target, grip = (grasp, 1.0) if phase == "close" else (release, 0.0)
                done = self._wait >= 1  # one 0.25 s step with the new gripper command
            elif phase == "lift":
                lifted = env.goal_object if env.task == "grasp" else env.start_object + [0.0, 0.0, pick_place.LIFT]
                target, grip = env.grasp_flange(lifted), 1.0
                done = self._reached(target, 0.03) and env.task == "pick_place"
            elif phase == "carry":
                target, grip = env.grasp_flange(env.subgoal_objects[-2]), 1.0
                done = self._reached(target, 0.02)
            elif phase == "lower":
                target, grip = release, 1.0
                done = self._reached(target)
            else:
                target, grip, done = release + [0.0, 0.0, 0.08], 0.0, False
            if not done or self._phase >= len(phases) - 1:
                break
            self._phase += 1
            self._wait = 0
        if phase in ("close", "open"):
            self._wait += 1
        return self._move(target, grip)

    def _desired_rotation(self) -> Rotation:
        """The grasp orientation once chosen; before that (and on tasks without one) the current target's."""
        return self._env.target_pose()[1] if self._rotation is None else self._rotation

    def _turned(self) -> bool:
        """The rest of the turn to the grasp fits in one step (it finishes while the hand descends)."""
        error = self._desired_rotation() * self._env.target_pose()[1].inv()
        return error.magnitude() < layout.MAX_ROTATION_DELTA

    def _reached(self, target: np.ndarray, tolerance: float = CLOSE_ENOUGH) -> bool:
        env = self._env
        target = np.clip(target, *env.workspace)
        commanded = np.linalg.norm(target - env.target_pose()[0])
        measured = np.linalg.norm(target - env.flange_position())
        return commanded < 1e-3 and measured < tolerance

    def _move(self, target: np.ndarray, grip: float) -> np.ndarray:
        position, rotation, closedness = self._env.target_pose()
        action = np.zeros(layout.ACTION_DIM)
        action[layout.POSITION] = target - position
        rotvec = (self._desired_rotation() * rotation.inv()).as_rotvec()
        angle = np.linalg.norm(rotvec)
        if angle > layout.MAX_ROTATION_DELTA:  # turn at the bounded rate about the same axis
            rotvec *= layout.MAX_ROTATION_DELTA / angle
        action[layout.ROTATION] = Rotation.from_rotvec(rotvec).as_euler("xyz")
        action[layout.GRIPPER] = grip - closedness
        return layout.clip_action(action)
