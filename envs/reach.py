"""FrankaReach-v1: move the end effector to the position shown in a goal image."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from vjepa_bench.envs.base import FrankaEnv, GoalSpec

SUCCESS_DISTANCE = 0.04
"""Reach succeeds when the flange is within 4 cm of the goal position (the paper's figure)."""
GOAL_LOW = np.array([0.35, -0.25, 0.15])
GOAL_HIGH = np.array([0.62, 0.25, 0.4])
"""Goal flange positions (m): inside the default camera's view and the arm's dexterous workspace."""
MIN_GOAL_DISTANCE = 0.15


class FrankaReachEnv(FrankaEnv):
    """Reach: bring the end effector (flange) to a goal position, given as an image of the robot there.

    ## Description
    A Franka Panda with its parallel gripper stands on a table (no object). At reset the env renders the robot in
    its goal configuration from the observation camera and returns that image as the goal.

    ## Action Space
    ``Box(-bound, bound, (7,), float32)``, one 0.25 s control step, clipped to the bounds (``vjepa_bench.layout``):

    | index | meaning                                   | bound      |
    |-------|-------------------------------------------|------------|
    | 0-2   | flange position delta x, y, z (m, base)   | 0.075      |
    | 3-5   | rotation delta, Euler xyz of R' R^T (rad) | 0.25       |
    | 6     | gripper closedness delta                  | 1.0        |

    NaN, inf or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Dict(image=Box(0, 255, (image_size, image_size, 3), uint8),
    state=Box(STATE_LOW, STATE_HIGH, (7,), float32))`` (bounds in ``vjepa_bench.envs.base``); state =
    flange position (m), extrinsic xyz Euler angles (rad), gripper closedness in [0, 1].

    ## Rewards
    ``-distance`` (m) to the goal position, plus 1 on success.

    ## Starting State
    Flange uniform in x [0.35, 0.55], y [-0.15, 0.15], z [0.25, 0.4] m, hand pointing down, gripper open. Goal
    position uniform in x [0.35, 0.62], y [-0.25, 0.25], z [0.15, 0.4] m, at least 15 cm from the start, same
    orientation.

    ## Episode End
    Terminates on success: flange within 4 cm of the goal position. Truncated after 30 steps (``max_episode_steps``).

    ## Arguments
    ``gym.make("vjepa_bench/FrankaReach-v1", image_size=256, camera=None, camera_randomization=None,
    render_mode=None, shadows=True, gripper="robotiq_2f85")``:

    * ``image_size``: side (px) of the square observation and goal images.
    * ``camera``: ``CameraPose`` or a dict of its fields; ``None`` = the default pose (see ``vjepa_bench.envs.camera``).
      ``reset(options={"camera": ...})`` overrides it for one episode.
    * ``camera_randomization``: ``CameraRandomization`` or a dict of ``(low, high)`` ranges sampled at every reset
      from the env's seeded RNG; ``None`` = fixed camera. The pose used is in ``info["camera"]``.
    * ``render_mode``: ``None`` or ``"rgb_array"`` (``render()`` returns the latest observation image).
    * ``shadows``: one directional light's shadow map (512 px), which helps to judge heights; ``False`` renders
      2.5x faster (the whole step 1.7x).
    * ``gripper``: ``"robotiq_2f85"`` (the default: the Robotiq 2F-85 of DROID and the paper's robot, linkage
      fingers, 8.5 cm, whose opening changes 1.0-1.7 % of a 256 px frame at the default camera) or
      ``"franka_hand"`` (the Franka Hand, sliding fingers, 8 cm: 0.5-0.7 %). Both grasp by friction; with the Robotiq
      the flange goal ranges are raised by its extra length (``hand_lift``), so fingers and objects reach the same
      places. ``envs/gripper.py`` holds both behind one interface.

    Reach has no object: passing ``object`` is a ``TypeError``.

    ## Version History
    * v1: fingers close along the base x axis (across the default view) and are drawn dark with their pads,
      off-white links under toned lights (no saturated areas), a closer default camera (0.85 m, elevation 25 deg);
      bounded target orientation (cone: tilt <= 29 deg, turn <= 60 deg) and position-first IK (the step contract
      holds within ``controller.STEP_TOLERANCE`` on random action streams);
      fingertips stop 3 mm above the table; the closed gripper closes fully
      (closedness 1); goals and starts inside the view (ranges above); renderer teardown safe with many envs;
      non-finite camera values and ``step()`` before ``reset()`` are clear errors. Later in v1, the ``gripper``
      argument (the Robotiq 2F-85 as an option; the default Franka Hand env is unchanged, bit for bit);
      then a tilted target out of reach gets its tilt cut back instead of an IK jump to another joint branch, and
      a tilted hand keeps 4 cm more fingertip clearance per rad of tilt (top-down targets unchanged, bit for bit);
      then the floor and the walls collide, so an object knocked off the table comes to rest (episodes where it
      stays on the table unchanged, bit for bit); then ``pregrasp_goal`` as an option of the grasping tasks; then
      the Robotiq 2F-85 as the default hand (DROID's; its opening shows in 1 % of the pixels, the Franka Hand's
      cannot) and one contact per convex pair (multi-CCD off: it launched a resting mug in 3 of 100 scripted
      pick-and-place episodes); then the arm's contact reflex (``envs/reflex.py``): a hand pushing on the world
      with over 30 N for 10 ms stops where it is (a closed hand driven onto a box edge pressed with over 1 000 N
      and threw the box off the table in 4 of 50 grasp-box episodes of the bundled model; 749 of the scripted
      oracle's 750 object-task baseline episodes unchanged, bit for bit); then the reflex reads two contact sensors
      on the hand (the same force to 1e-13 N; episodes unchanged, bit for bit) and ``get_sim_state`` keeps the
      solver's warm start; then ``rollout`` (``sim_cem``'s rollouts) includes the reflex, bit for bit what ``step``
      does; then a tilted hand's move that needs a joint to turn more than 1 rad in one step (near the wrist
      singularity) is cut back to a half, a quarter or nothing, so the step contract holds on every extreme action
      stream measured (top-down targets unchanged, bit for bit); then the Robotiq's visual meshes decimated to 20 %
      of their triangles (the physics unchanged, bit for bit; about 1 % of the pixels change, on the hand and its
      shadow).
    * v0: initial version.
    """

    task = "reach"
    max_episode_steps = 30

    def _initialize_episode(self, rng: np.random.Generator) -> None:
        self.start_robot(rng)
        start = self.flange_position()
        while True:
            goal = rng.uniform(GOAL_LOW, GOAL_HIGH) + self.hand_lift()
            if np.linalg.norm(goal - start) >= MIN_GOAL_DISTANCE:
                break
        self.goal_position = goal

    def _goal_specs(self) -> list[GoalSpec]:
        return [GoalSpec(position=self.goal_position, rotation=self.target_pose()[1])]

    def _task_metrics(self, data: mujoco.MjData, subgoal: int) -> dict[str, Any]:
        distance = float(np.linalg.norm(self.flange_position(data) - self.goal_position))
        return {"success": distance < SUCCESS_DISTANCE, "distance": distance}
