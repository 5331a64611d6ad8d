"""FrankaReachWithObject-v1: carry an object already held in the hand to the position shown in a goal image."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from vjepa_bench.envs.base import FrankaEnv, GoalSpec
from vjepa_bench.envs.reach import GOAL_HIGH, GOAL_LOW, MIN_GOAL_DISTANCE

SUCCESS_DISTANCE = 0.04
"""Succeeds when the object is still held and within 4 cm of its goal position."""
SETTLE_STEPS = 100
"""Physics steps (0.2 s) run at reset so that the fingers close on the object before the episode starts."""


class FrankaReachWithObjectEnv(FrankaEnv):
    """Reach with object: the hand holds the object (box or mug); move it to a goal position without dropping it.

    ## Description
    The episode starts with the object grasped (fingers closed on it by the physics at reset, no weld). The goal
    image shows the robot holding the object at the goal position.

    ## Action Space
    ``Box(-bound, bound, (7,), float32)``: flange position delta (m, bound 0.075), rotation delta (Euler xyz, rad,
    bound 0.25), gripper closedness delta (bound 1); clipped; NaN, inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Dict(image=Box(0, 255, (image_size, image_size, 3), uint8),
    state=Box(STATE_LOW, STATE_HIGH, (7,), float32))`` (bounds in ``vjepa_bench.envs.base``).

    ## Rewards
    ``-distance`` (m) between the object and its goal position, plus 1 on success.

    ## Starting State
    Flange uniform in x [0.35, 0.55], y [-0.15, 0.15], z [0.3, 0.45] m, hand down and closed on the object. Goal:
    flange position uniform in x [0.3, 0.65], y [-0.3, 0.3], z [0.15, 0.5] m, at least 15 cm from the start.

    ## Episode End
    Terminates on success: object held (both fingers touch it) and within 4 cm of its goal position.
    Truncated after 30 steps.

    ## Arguments
    ``gym.make("vjepa_bench/FrankaReachWithObject-v1", object="box", image_size=256, camera=None,
    camera_randomization=None, render_mode=None, shadows=True)``; ``object`` is "box" (5 cm cube) or "cup" (mug with
    a handle). See ``FrankaReach-v1`` for the other arguments.

    ## Version History
    * v0: initial version.
    """

    task = "reach_with_object"
    max_episode_steps = 30
    uses_object = True

    def _initialize_episode(self, rng: np.random.Generator) -> None:
        self._start_robot(rng)
        yaw = self._sample_object_yaw(rng)
        start = self.data.site_xpos[self._flange].copy()
        while True:
            goal = rng.uniform(GOAL_LOW, GOAL_HIGH)
            if np.linalg.norm(goal - start) >= MIN_GOAL_DISTANCE:
                break
        # Put the object between the fingers, close them on it and let the contacts settle.
        width = self.object_half_width()
        self.data.qpos[self._finger_qpos] = [width, -width]
        mujoco.mj_kinematics(self.model, self.data)
        centre = self.grip_position() - self.grasp_offset()
        self._place_object(centre[:2], yaw, z=centre[2])
        self._target_grip = 1.0
        self.data.ctrl[self._finger_ctrl] = [0.0, 0.0]
        for _ in range(SETTLE_STEPS):
            mujoco.mj_step(self.model, self.data)
        self.goal_object = goal + (self.object_position() - self.data.site_xpos[self._flange])

    def _goal_specs(self) -> list[GoalSpec]:
        flange = self.goal_object - (self.object_position() - self.data.site_xpos[self._flange])
        return [GoalSpec(position=flange, rotation=self._target_rot, finger=self.object_half_width(),
                         object_in_hand=True, steps=self.max_episode_steps)]

    def _evaluate(self, data: mujoco.MjData, subgoal: int) -> dict[str, Any]:
        distance = float(np.linalg.norm(self.object_position(data) - self.goal_object))
        grasped = self.is_grasped(data)
        return {"is_grasped": grasped, "success": bool(grasped and distance < SUCCESS_DISTANCE), "distance": distance}
