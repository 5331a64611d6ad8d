"""FrankaPickPlace-v1: pick the object up and place it on a coaster, following three goal images."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from vjepa_bench.envs import scene
from vjepa_bench.envs.base import FrankaEnv, GoalSpec

PLACE_SUCCESS = 0.05
"""Pick-and-place succeeds when the object is within 5 cm of its target position and released."""
SCHEDULE = (4, 10, 4)
"""Steps each sub-goal is active: grasped, near the target, placed (the paper's schedule)."""
PREGRASP_SCHEDULE = (2, 2, 10, 4)
"""The same with ``pregrasp_goal=True``: the open hand at the grasp pose, grasped, near the target, placed."""
LIFT = 0.08
"""How high the carried object is held: the second goal shows it this far above the coaster."""
OBJECT_LOW = np.array([0.4, -0.2])
OBJECT_HIGH = np.array([0.6, 0.2])
TARGET_LOW = np.array([0.35, -0.25])
TARGET_HIGH = np.array([0.6, 0.25])
MIN_SEPARATION = 0.18
APPROACH_HEIGHT = 0.07
"""The hand starts this far above its grasp pose, over the object (within 2 cm in x and y)."""


class FrankaPickPlaceEnv(FrankaEnv):
    """Pick-and-place: grasp the object (box or mug), carry it over the coaster and put it down there.

    ## Description
    The object stands on the table next to a round blue coaster (a physical, visible place target). Three goal
    images are given, each active for a fixed number of steps: 1. the object grasped where it stands, fingers
    closed on it (4 steps), 2. the object held 8 cm above the coaster (10 steps), 3. the object on the coaster,
    hand open (4 steps). The first goal shows the grasp itself, not a lift: a greedy planner that matches a lifted
    grasp stops with the open hand at the lifted pose, above the object (the hand's position outweighs the
    object's in any image energy), and never grasps.

    ## Action Space
    ``Box(-bound, bound, (7,), float32)``: flange position delta (m, bound 0.075), rotation delta (Euler xyz, rad,
    bound 0.25), gripper closedness delta (bound 1); clipped; NaN, inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Dict(image=Box(0, 255, (image_size, image_size, 3), uint8),
    state=Box(STATE_LOW, STATE_HIGH, (7,), float32))`` (bounds in ``vjepa_bench.envs.base``).

    ## Rewards
    ``-distance`` (m) between the object and the object position of the active sub-goal (for the first, where it
    stands), plus 1 on success.

    ## Starting State
    Object upright at x [0.4, 0.6], y [-0.2, 0.2] m (yaw as in ``FrankaGrasp-v1``); coaster centre at x [0.35, 0.6],
    y [-0.25, 0.25] m, at least 18 cm from the object. The open hand starts 7 cm above its grasp pose over the object
    (x, y within 2 cm), so that the first sub-goal can be reached within its 4 steps.

    ## Episode End
    Terminates on success: object within 5 cm of its resting position at the coaster centre and released (no finger
    touches it). Truncated after 18 steps (4 + 10 + 4).

    ## Arguments
    ``gym.make("vjepa_bench/FrankaPickPlace-v1", object="box", image_size=256, camera=None, camera_randomization=None,
    render_mode=None, shadows=True, gripper="robotiq_2f85", pregrasp_goal=False)``; ``object`` is "box" (6 cm cube) or
    "cup" (mug with a handle). ``pregrasp_goal=True`` puts the open hand around the object at the grasp pose first
    (2 steps), then grasped (2), near the target (10) and placed (4); see ``FrankaGrasp-v1``. See ``FrankaReach-v1``
    for the other arguments.

    ## Version History
    * v1: everything in ``FrankaReach-v1``'s v1 entry, and: the goal grasp turns the hand to the object's yaw
      (no finger drawn through the object), a 6 cm box, the mug's handle across the fingers' closing axis
      (+-40 deg of the y axis), the mug's mass 150 g as documented; the first goal is the grasp where the object
      stands (v0: grasped and lifted 8 cm).
    * v0: initial version.
    """

    task = "pick_place"
    max_episode_steps = sum(SCHEDULE)
    uses_object = True
    pregrasp_schedule = PREGRASP_SCHEDULE

    def _add_objects(self, spec: mujoco.MjSpec) -> None:
        super()._add_objects(spec)
        scene.add_plate(spec)

    def _initialize_episode(self, rng: np.random.Generator) -> None:
        object_xy = rng.uniform(OBJECT_LOW, OBJECT_HIGH)
        while True:
            target_xy = rng.uniform(TARGET_LOW, TARGET_HIGH)
            if np.linalg.norm(target_xy - object_xy) >= MIN_SEPARATION:
                break
        self.place_object(object_xy, self.sample_object_yaw(rng))
        self.data.mocap_pos[0] = [target_xy[0], target_xy[1], scene.TABLE_TOP]
        hand_xy = object_xy + rng.uniform(-0.02, 0.02, size=2)
        grasp_z = self.object_rest_height() + self.grasp_offset()[2] + self.grip_to_flange()
        self.set_robot(np.array([hand_xy[0], hand_xy[1], grasp_z + APPROACH_HEIGHT]))
        mujoco.mj_kinematics(self.model, self.data)
        self.start_object = self.object_position()
        self.target_object = np.array([target_xy[0], target_xy[1], self.object_rest_height() + scene.PLATE_THICKNESS])
        lift = np.array([0.0, 0.0, LIFT])
        self.subgoal_objects = [self.start_object] * self.pregrasp_goal + [self.start_object,
                                                                           self.target_object + lift,
                                                                           self.target_object]

    def _goal_specs(self) -> list[GoalSpec]:
        grasped, carried, _ = self.subgoal_objects[-3:]
        return self.grasp_goals(grasped, SCHEDULE[0]) + [self.held_goal(carried, steps=SCHEDULE[1]),
                                                         self._placed_goal()]

    def _placed_goal(self) -> GoalSpec:
        """The last goal: the object resting on the coaster, the open hand 2 cm above its grasp pose."""
        flange = self.grasp_flange(self.target_object) + [0.0, 0.0, 0.02]
        return GoalSpec(flange, self.grasp_rotation(), object_pos=self.target_object)

    def _task_metrics(self, data: mujoco.MjData, subgoal: int) -> dict[str, Any]:
        position = self.object_position(data)
        grasped = self.is_grasped(data)
        placed = float(np.linalg.norm(position - self.target_object)) < PLACE_SUCCESS
        return {"is_grasped": grasped, "is_placed": placed, "success": bool(placed and not grasped),
                "distance": float(np.linalg.norm(position - self.subgoal_objects[subgoal])),
                "distance_to_final_goal": float(np.linalg.norm(position - self.subgoal_objects[-1]))}


class FrankaPickPlaceFinalEnv(FrankaPickPlaceEnv):
    """Pick-and-place from the final goal image alone: the long-horizon variant of ``FrankaPickPlace-v1``.

    ## Description
    The same scene, start and success check as ``FrankaPickPlace-v1``, but one goal image only: the object on the
    coaster, hand open above it. No sub-goals tell the planner to grasp and carry first, so the task asks whether a
    world model plans over the whole pick-and-place (the question the paper leaves open).

    ## Action Space
    ``Box(-bound, bound, (7,), float32)``: flange position delta (m, bound 0.075), rotation delta (Euler xyz, rad,
    bound 0.25), gripper closedness delta (bound 1); clipped; NaN, inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Dict(image=Box(0, 255, (image_size, image_size, 3), uint8),
    state=Box(STATE_LOW, STATE_HIGH, (7,), float32))`` (bounds in ``vjepa_bench.envs.base``).

    ## Rewards
    ``-distance`` (m) between the object and its final resting position on the coaster, plus 1 on success.

    ## Starting State
    As ``FrankaPickPlace-v1``.

    ## Episode End
    Terminates on success (object within 5 cm of its resting position at the coaster centre and released).
    Truncated after 30 steps.

    ## Arguments
    ``gym.make("vjepa_bench/FrankaPickPlaceFinal-v1", object="box", image_size=256, camera=None,
    camera_randomization=None, render_mode=None, shadows=True, gripper="robotiq_2f85")``, as ``FrankaPickPlace-v1``.

    ## Version History
    * v1: initial version (the v1 scene of ``FrankaPickPlace-v1``).
    """

    max_episode_steps = 30
    pregrasp_schedule = None

    def _goal_specs(self) -> list[GoalSpec]:
        return [self._placed_goal()]

    def _task_metrics(self, data: mujoco.MjData, subgoal: int) -> dict[str, Any]:
        return super()._task_metrics(data, len(self.subgoal_objects) - 1)
