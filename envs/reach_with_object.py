"""FrankaReachWithObject-v1: carry an object already held in the hand to the position shown in a goal image."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation
from vjepa_bench.envs.base import START_HIGH, START_LOW, TOP_DOWN, FrankaEnv, GoalSpec
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
    Flange uniform in x [0.35, 0.55], y [-0.15, 0.15], z [0.25, 0.4] m, hand down, turned within +-45 deg about the
    vertical, closed on the object in a square grasp (box faces or mug body across the fingers). Goal flange position
    uniform in x [0.35, 0.62], y [-0.25, 0.25], z [0.15, 0.4] m, at least 15 cm from the start.

    ## Episode End
    Terminates on success: object held (both fingers touch it) and within 4 cm of its goal position.
    Truncated after 30 steps.

    ## Arguments
    ``gym.make("vjepa_bench/FrankaReachWithObject-v1", object="box", image_size=256, camera=None,
    camera_randomization=None, render_mode=None, shadows=True, gripper="robotiq_2f85")``; ``object`` is "box" (6 cm cube) or "cup" (mug with
    a handle). See ``FrankaReach-v1`` for the other arguments.

    ## Version History
    * v1: everything in ``FrankaReach-v1``'s v1 entry, and: the episode starts from a square grasp (the object's
      yaw follows the hand's, no corner grasp), a 6 cm box, the mug's mass 150 g as documented.
    * v0: initial version.
    """

    task = "reach_with_object"
    max_episode_steps = 30
    uses_object = True

    def _initialize_episode(self, rng: np.random.Generator) -> None:
        hand_yaw = rng.uniform(-np.pi / 4, np.pi / 4)
        self.set_robot(rng.uniform(START_LOW, START_HIGH), Rotation.from_euler("z", hand_yaw) * TOP_DOWN)
        spec = self.object_spec
        yaw = hand_yaw + spec.yaw_centre + (np.pi * rng.integers(2) if spec.flips else 0.0)
        start = self.flange_position()
        while True:
            goal = rng.uniform(GOAL_LOW, GOAL_HIGH) + self.hand_lift()
            if np.linalg.norm(goal - start) >= MIN_GOAL_DISTANCE:
                break
        self.hold_object(yaw, SETTLE_STEPS)
        self.goal_object = goal + (self.object_position() - self.flange_position())

    def _goal_specs(self) -> list[GoalSpec]:
        flange = self.goal_object - (self.object_position() - self.flange_position())
        return [GoalSpec(position=flange, rotation=self.target_pose()[1], finger=self.object_half_width(),
                         object_in_hand=True)]

    def _task_metrics(self, data: mujoco.MjData, subgoal: int) -> dict[str, Any]:
        distance = float(np.linalg.norm(self.object_position(data) - self.goal_object))
        grasped = self.is_grasped(data)
        return {"is_grasped": grasped, "success": bool(grasped and distance < SUCCESS_DISTANCE), "distance": distance}
