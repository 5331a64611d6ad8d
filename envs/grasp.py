"""FrankaGrasp-v1: grasp the object (cup or box) and lift it, following two goal images: the grasp, then the lift."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from vjepa_bench.envs.base import FrankaEnv, GoalSpec

LIFT_SUCCESS = 0.05
"""Grasp succeeds when the object is at least 5 cm above its start height and held by both fingers."""
GOAL_LIFT = 0.1
SCHEDULE = (8, 22)
"""Steps each goal is active: the grasp where the object stands, then the lift."""
PREGRASP_SCHEDULE = (6, 3, 21)
"""The same with ``pregrasp_goal=True``: the open hand at the grasp pose, the grasp, the lift."""
OBJECT_LOW = np.array([0.4, -0.15])
OBJECT_HIGH = np.array([0.6, 0.15])


class FrankaGraspEnv(FrankaEnv):
    """Grasp: pick up the object (a 6 cm box or a mug) and hold it lifted.

    ## Description
    The Panda (see ``FrankaReach-v1`` for the robot, the action and the observation) faces one object on the table.
    Two goal images are given, each active for a fixed number of steps: 1. the object held between the closed
    fingers where it stands (8 steps), 2. the same grasp lifted 10 cm (22 steps). Both turn the hand to the grasp a
    competent grasp takes (``grasp_rotation``: fingers across two box faces, or across the mug's body with the
    handle clear). The grasp comes first because a lifted goal alone is out of reach of a greedy (horizon-1) image
    planner: the open hand at the lifted pose, above the untouched object, matches that picture better than any
    pose on the way down to the object, with a perfect world model too
    (``python -m vjepa_bench.evaluation.grasp_path``).
    Grasps are physical: finger servos limited to 20 N and friction, no weld.

    ## Action Space
    ``Box(-bound, bound, (7,), float32)``: flange position delta (m, bound 0.075), rotation delta (Euler xyz, rad,
    bound 0.25), gripper closedness delta (bound 1); clipped; NaN, inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Dict(image=Box(0, 255, (image_size, image_size, 3), uint8),
    state=Box(STATE_LOW, STATE_HIGH, (7,), float32))`` (bounds in ``vjepa_bench.envs.base``).

    ## Rewards
    ``-distance`` (m) between the object and its position in the active goal (where it stands, then lifted), plus 1
    on success.

    ## Starting State
    Object upright at x [0.4, 0.6], y [-0.15, 0.15] m; box yaw within +-45 deg, cup handle within +-40 deg of the
    +-y axis. Flange uniform in x [0.35, 0.55], y [-0.15, 0.15], z [0.25, 0.4] m, hand down, gripper open.

    ## Episode End
    Terminates on success: object lifted at least 5 cm and held (both fingers in contact). Truncated after 30 steps
    (8 + 22).

    ## Arguments
    ``gym.make("vjepa_bench/FrankaGrasp-v1", object="box", image_size=256, camera=None, camera_randomization=None,
    render_mode=None, shadows=True, gripper="robotiq_2f85", pregrasp_goal=False)``; ``object`` is "box" (6 cm cube) or
    "cup" (mug with a handle). ``pregrasp_goal=True`` puts a third goal image first: the open hand around the object
    at the grasp pose (6 steps), then the grasp (3) and the lift (21): an experiment on greedy planners that close
    the empty hand early (it did not change the Robotiq world model's success over 50 episodes,
    ``assets/checkpoints/README.md``). See ``FrankaReach-v1`` for the other arguments.

    ## Version History
    * v1: everything in ``FrankaReach-v1``'s v1 entry, and: the goal grasp turns the hand to the object's yaw
      (no finger drawn through the object), a 6 cm box, the mug's handle across the fingers' closing axis
      (+-40 deg of the y axis), the mug's mass 150 g as documented; two goal images, the grasp where the object
      stands before the lifted one (v0: the lifted one alone).
    * v0: initial version.
    """

    task = "grasp"
    max_episode_steps = sum(SCHEDULE)
    uses_object = True
    pregrasp_schedule = PREGRASP_SCHEDULE

    def _initialize_episode(self, rng: np.random.Generator) -> None:
        self.start_robot(rng)
        self.place_object(rng.uniform(OBJECT_LOW, OBJECT_HIGH), self.sample_object_yaw(rng))
        mujoco.mj_kinematics(self.model, self.data)
        self.start_object = self.object_position()
        self.goal_object = self.start_object + [0.0, 0.0, GOAL_LIFT]
        self.subgoal_objects = [self.start_object] * self.pregrasp_goal + [self.start_object, self.goal_object]

    def _goal_specs(self) -> list[GoalSpec]:
        return self.grasp_goals(self.start_object, SCHEDULE[0]) + [self.held_goal(self.goal_object)]

    def _task_metrics(self, data: mujoco.MjData, subgoal: int) -> dict[str, Any]:
        position = self.object_position(data)
        lifted = position[2] - self.start_object[2] >= LIFT_SUCCESS
        grasped = self.is_grasped(data)
        return {"is_grasped": grasped, "is_lifted": bool(lifted), "success": bool(lifted and grasped),
                "distance": float(np.linalg.norm(position - self.subgoal_objects[subgoal])),
                "distance_to_final_goal": float(np.linalg.norm(position - self.goal_object))}
