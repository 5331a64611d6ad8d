"""The base Franka table-top env: scene compilation, observations, goals, the gym API and the privileged API.

Tasks subclass :class:`FrankaEnv` once and fill four hooks: ``_add_objects(spec)``, ``_initialize_episode(rng)``,
``_goal_specs()`` and ``_task_metrics(data, subgoal)``; everything else (reward, termination, info, goals, rollouts)
reads those. The hooks use the public task API only (as Gymnasium's ``MujocoEnv`` offers ``set_state`` and
``do_simulation`` to its subclasses): ``start_robot(rng)`` / ``set_robot(position, rotation, finger)`` to pose the
arm and reset the controller, ``place_object(xy, yaw, z)``, ``hold_object(yaw, settle_steps)`` and
``sample_object_yaw(rng)`` for the object, and the read-outs below (``flange_position``, ``object_position``,
``grip_position``, ``target_pose``, ``grasp_offset``, ``grasp_rotation``, ``grip_to_flange``,
``object_rest_height``, ``object_half_width``, ``is_grasped``), with ``grasp_flange(object_position)`` and
``held_goal(object_position, steps)`` for the grasp's flange position and a goal that shows the object grasped
(``grasp_goals`` adds the open-hand pre-grasp goal before it when the env was made with ``pregrasp_goal``).

Controller: ``vjepa_bench.envs.controller`` (bounded targets, position-first IK, the servo plan of one step); its
plan depends only on the action sequence and the controller state, so ``rollout`` precomputes it and runs the
physics in C with ``mujoco.rollout``; the contact reflex (``envs/reflex.py``) reads two contact sensors that the
rollouts record, and the samples it would stop run again through ``step``'s own loop.

State frame: the ``flange`` site is Franka's ``panda_link8`` (0.107 m along link 7's axis, same orientation); the
hand is mounted on it rotated by -45 deg about z, as on the real robot. World frame = robot base frame.

Privileged API (oracle agents, tests): ``get_sim_state()`` / ``set_sim_state(state)`` (physics with the warm
start + controller + step count), ``task_distance()``, ``task_metrics()``, ``rollout(actions (S, H, 7), read)``
(the final state of each sample, bit for bit what ``step`` reaches), ``rollout_distance(actions) -> (S,)``,
``target_pose()``, ``flange_position()``, ``object_position()``, and the task attributes set at reset
(``goal_position``, ``goal_object``, ``start_object``, ``target_object``, ``subgoal_objects``, depending on the
task).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gymnasium as gym
import mujoco
import numpy as np
from mujoco import rollout as mujoco_rollout
from scipy.spatial.transform import Rotation
from vjepa_bench.envs import scene
from vjepa_bench.envs.camera import CameraPose, CameraRandomization
from vjepa_bench.envs.controller import (HOME_QPOS, NROBOT, SUBSTEPS, TOP_DOWN, WORKSPACE_HIGH, WORKSPACE_LOW,
                                         ArmController, ControllerState)
from vjepa_bench.envs.gripper import FRANKA_GRIP_TO_FLANGE, Gripper, body_geoms
from vjepa_bench.envs.objects import OBJECTS, ObjectSpec
from vjepa_bench.envs.reflex import CHECK_EVERY, ContactReflex
from vjepa_bench.envs.rendering import Renderer

from vjepa_bench import layout
from vjepa_bench.goal_schedule import active_goal

STATE_LOW = np.array([-1.5, -1.5, -0.5, -np.pi, -np.pi / 2, -np.pi, 0.0], np.float32)
STATE_HIGH = np.array([1.5, 1.5, 1.5, np.pi, np.pi / 2, np.pi, 1.0], np.float32)
"""Observation-space bounds of the state: beyond the arm's reach, Euler "xyz" ranges, closedness in [0, 1]."""
_ROLLOUT_CONTROL = mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_MOCAP_POS | mujoco.mjtState.mjSTATE_MOCAP_QUAT
"""What each ``rollout`` step sets besides the physics state: the servo targets and the mocap bodies' poses."""
_ROLLOUT_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
"""The state a ``rollout`` starts from and records (the warm start is passed apart, the mocap bodies with the
controls)."""
_SNAPSHOT_STATE = mujoco.mjtState.mjSTATE_INTEGRATION
"""What ``get_sim_state`` keeps: the physics state, the controls, the mocap bodies and the solver's warm start, so
that stepping on from a restored snapshot is bit for bit stepping on from the moment it was taken."""

T = TypeVar("T")

START_LOW = (0.35, -0.15, 0.25)
START_HIGH = (0.55, 0.15, 0.4)
"""Range (m) of the random start flange position, hand pointing down and open."""

@dataclass
class GoalSpec:
    """One goal configuration: the flange pose, the gripper opening and where the object is."""

    position: np.ndarray
    rotation: Rotation = field(default_factory=lambda: TOP_DOWN)
    finger: float | None = None
    """Finger opening (m per finger, ``envs/gripper.py``) shown in the goal; None: fully open."""
    object_in_hand: bool = False
    object_pos: np.ndarray | None = None
    """Object position if not in the hand (None: leave it where it is)."""
    steps: int = 0
    """Control steps this goal stays active; ignored on the last goal, which covers the remaining steps."""


class FrankaEnv(gym.Env):
    """Base class; see the task modules for the specs."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    max_episode_steps = 50
    uses_object = False
    task = "base"
    """Task family name: reach, grasp, pick_place or reach_with_object."""
    pregrasp_schedule: tuple[int, ...] | None = None
    """Steps of each goal with ``pregrasp_goal=True`` (the open hand at the grasp pose comes first); None: the task
    shows no grasp, and the option is refused."""
    workspace = (WORKSPACE_LOW, WORKSPACE_HIGH)

    def __init__(
        self,
        object: str | None = None,
        image_size: int = 256,
        camera: CameraPose | dict | None = None,
        camera_randomization: CameraRandomization | dict | None = None,
        render_mode: str | None = None,
        shadows: bool = True,
        gripper: str = scene.DEFAULT_GRIPPER,
        pregrasp_goal: bool = False,
    ):
        if not self.uses_object and object is not None:
            raise TypeError(f"{type(self).__name__} has no object; do not pass object={object!r}")
        if pregrasp_goal and self.pregrasp_schedule is None:
            raise TypeError(f"{type(self).__name__} has no grasp goal; do not pass pregrasp_goal=True")
        object = ("box" if object is None else object) if self.uses_object else None
        if self.uses_object and object not in OBJECTS:
            raise ValueError(f"object must be one of {sorted(OBJECTS)}, got {object!r}")
        if not 16 <= int(image_size) <= 1024:
            raise ValueError(f"image_size must be in [16, 1024], got {image_size}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.object_kind = object
        self.pregrasp_goal = bool(pregrasp_goal)
        self.object_spec: ObjectSpec | None = OBJECTS[object] if object is not None else None
        self.image_size = int(image_size)
        self.camera = CameraPose.from_any(camera)
        self.camera_randomization = CameraRandomization.from_any(camera_randomization)
        self.render_mode = render_mode
        self.camera_pose = self.camera

        spec = scene.build_base_spec(self.image_size, gripper)
        self._add_objects(spec)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self._scratch = mujoco.MjData(self.model)
        self._rollout_data: list[mujoco.MjData] = []
        self._renderer: Renderer | None = None
        self._shadows = shadows

        m = self.model
        self._flange = m.site("flange").id
        self._camera_id = m.camera(scene.OBS_CAMERA).id
        self.gripper = Gripper(m, gripper)
        self._finger_geoms = self.gripper.finger_geoms
        self._finger_geom_sets = tuple(frozenset(np.asarray(g).tolist()) for g in self._finger_geoms)
        self.controller = ArmController(m, self.gripper)
        self._reflex = ContactReflex(m)
        self._arm_qpos = self.controller.arm_qpos
        self._finger_qpos = self.gripper.qpos
        if self.uses_object:
            self._object_body = m.body("object").id
            self._object_qpos = m.jnt_qposadr[m.joint("object_joint").id]
            self._object_geoms = body_geoms(m, {"object"})
            self._object_geom_set = frozenset(self._object_geoms.tolist())
        self._grip_to_flange: dict[float, float] = {}

        self.action_space = gym.spaces.Box(layout.ACTION_LOW, layout.ACTION_HIGH, dtype=np.float32)
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (self.image_size, self.image_size, 3), dtype=np.uint8),
            "state": gym.spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32),
        })
        self._target_pos = np.zeros(3)
        self._target_rot = TOP_DOWN
        self._target_grip = 0.0
        self._q_target = HOME_QPOS.copy()
        self._elapsed = 0
        self._goals: list[GoalSpec] = []
        self._last_image: np.ndarray | None = None
        self._needs_reset = True

    # ----------------------------------------------------------------------------------------------- task hooks
    def _add_objects(self, spec: mujoco.MjSpec) -> None:
        """Add the task's bodies to the scene spec (called once, before compiling): the chosen object, if any."""
        if self.object_spec is not None:
            self.object_spec.build(spec)

    def _initialize_episode(self, rng: np.random.Generator) -> None:
        """Place robot and objects for a new episode (``self.data`` was just reset); may only use ``rng``."""
        raise NotImplementedError

    def _goal_specs(self) -> list[GoalSpec]:
        """Goal configurations of this episode, in order, with their step budgets."""
        raise NotImplementedError

    def _task_metrics(self, data: mujoco.MjData, subgoal: int) -> dict[str, Any]:
        """Named booleans (``success`` among them) and ``distance`` (m) to goal ``subgoal``, read from ``data``."""
        raise NotImplementedError

    # -------------------------------------------------------------------- task API (for _initialize_episode)
    def start_robot(self, rng: np.random.Generator, low: tuple[float, float, float] = START_LOW,
                    high: tuple[float, float, float] = START_HIGH) -> None:
        """Random start above the table, hand pointing down, open."""
        self.set_robot(rng.uniform(low, high))

    def set_robot(self, position: np.ndarray, rotation: Rotation = TOP_DOWN, finger: float | None = None) -> None:
        """Teleport the arm (IK from home), the fingers to opening ``finger`` (m per finger; None: open), and reset
        the controller targets to that pose (episode start)."""
        finger = self.gripper.open_opening if finger is None else finger
        q = self.solve_ik(position, rotation, HOME_QPOS)
        self.data.qpos[self._arm_qpos] = q
        self.data.qpos[self._finger_qpos] = self.gripper.joint_positions(finger)
        self.data.ctrl[:NROBOT] = q
        self.data.ctrl[self.gripper.ctrl] = self.gripper.holding_targets(finger)
        self._q_target = q
        mujoco.mj_kinematics(self.model, self.data)
        self._target_pos = self.data.site_xpos[self._flange].copy()
        self._target_rot = self.flange_rotation()
        self._target_grip = 1.0 - finger / self.gripper.open_opening

    def place_object(self, xy: np.ndarray, yaw: float, z: float | None = None) -> None:
        """Put the object upright at ``xy`` turned by ``yaw`` (rad), standing on the table unless ``z`` is given."""
        adr = self._object_qpos
        self.data.qpos[adr:adr + 3] = [xy[0], xy[1], self.object_rest_height() if z is None else z]
        self.data.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

    def hold_object(self, yaw: float, settle_steps: int) -> None:
        """Put the object between the fingers at the grip point, close them on it (no weld) and let the contacts
        settle for ``settle_steps`` physics steps (episode start of the tasks that begin holding it)."""
        self.data.qpos[self._finger_qpos] = self.gripper.joint_positions(self.object_half_width())
        mujoco.mj_kinematics(self.model, self.data)
        centre = self.grip_position() - self.grasp_offset()
        self.place_object(centre[:2], yaw, z=centre[2])
        self._target_grip = 1.0
        self.data.ctrl[self.gripper.ctrl] = self.gripper.servo_targets(1.0)
        for _ in range(settle_steps):
            mujoco.mj_step(self.model, self.data)

    def sample_object_yaw(self, rng: np.random.Generator) -> float:
        """Box: any yaw in +-45 deg. Cup: handle within +-40 deg of the +y or -y axis (clear of the fingers)."""
        return self.object_spec.sample_yaw(rng)

    # ------------------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        base = self.camera
        unknown = set(options or {}) - {"camera"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; the only option is 'camera'")
        if options and "camera" in options:
            base = CameraPose.from_any(options["camera"])
        self.camera_pose = self.camera_randomization.sample(base, rng) if self.camera_randomization else base
        self._apply_camera(self.camera_pose)

        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._arm_qpos] = HOME_QPOS
        self._elapsed = 0
        self._initialize_episode(rng)
        mujoco.mj_forward(self.model, self.data)
        self._goals = self._goal_specs()
        goal = self._render_goals(self._goals)
        obs = self._get_obs()
        info = self._get_info(self._task_metrics(self.data, 0))
        info["goal"] = goal
        info["camera"] = self.camera_pose.as_dict()
        self._needs_reset = False
        return obs, info

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset(); call env.reset(seed=...) first")
        action = layout.checked_action(action)
        self._run_controller(action)
        self._elapsed += 1
        evaluation = self._task_metrics(self.data, self.current_subgoal())
        reward, info = self._reward(evaluation), self._get_info(evaluation)
        return self._get_obs(), reward, bool(evaluation["success"]), False, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._last_image is None:
            self._last_image = self.render_frame()
        return self._last_image.copy()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ------------------------------------------------------------------------------------------- observations
    def _get_obs(self) -> dict[str, np.ndarray]:
        # The image last: Python run right after a render runs about 3x slower (the rasteriser has evicted its data
        # from the caches), so the state and everything else are read first.
        state = self.robot_state()
        self._last_image = self.render_frame()
        return {"image": self._last_image, "state": state}

    def _reward(self, evaluation: dict[str, Any]) -> float:
        return float(-evaluation["distance"] + (1.0 if evaluation["success"] else 0.0))

    def _get_info(self, evaluation: dict[str, Any]) -> dict[str, Any]:
        info = {k: (bool(v) if isinstance(v, (bool, np.bool_)) else float(v)) for k, v in evaluation.items()}
        info["is_success"] = info["success"]
        if "distance_to_final_goal" not in info:
            info["distance_to_final_goal"] = info["distance"]
        info["subgoal"] = self.current_subgoal()
        return info

    def robot_state(self, data: mujoco.MjData | None = None) -> np.ndarray:
        """State ``float32[7]``: flange position, extrinsic xyz Euler angles, gripper closedness (layout.py)."""
        data = self.data if data is None else data
        state = np.empty(layout.STATE_DIM, np.float32)
        state[layout.POSITION] = data.site_xpos[self._flange]
        state[layout.ROTATION] = self.flange_rotation(data).as_euler("xyz")
        state[layout.GRIPPER] = self.controller.closedness(data)
        return state

    def flange_rotation(self, data: mujoco.MjData | None = None) -> Rotation:
        """The flange's orientation. MuJoCo builds ``site_xmat`` from a unit quaternion, so it is orthonormal to
        rounding and scipy's validity checks (a determinant and an orthogonality test, 4x the cost of the conversion)
        are skipped: they would keep the matrix as it is."""
        data = self.data if data is None else data
        return Rotation.from_matrix(data.site_xmat[self._flange].reshape(3, 3), assume_valid=True)

    def render_frame(self, data: mujoco.MjData | None = None) -> np.ndarray:
        """The camera image ``uint8 (image_size, image_size, 3)`` of ``data`` (default: the env's own state), e.g. of
        a ``rollout`` sample's end state: the frame ``step`` would observe there."""
        if self._renderer is None:
            self._renderer = Renderer(self.model, self.image_size, self.image_size, shadows=self._shadows,
                                      ground_geoms=(self.model.geom(scene.FLOOR).id,))
        return self._renderer.render(self.data if data is None else data, self._camera_id)

    def _apply_camera(self, pose: CameraPose) -> None:
        self.model.cam_pos[self._camera_id] = pose.position()
        self.model.cam_quat[self._camera_id] = pose.quaternion()
        self.model.cam_fovy[self._camera_id] = pose.fovy_deg
        mujoco.mj_camlight(self.model, self.data)

    # --------------------------------------------------------------------------------------------- controller
    def _controller_state(self) -> ControllerState:
        return ControllerState(self._target_pos.copy(), self._target_rot, float(self._target_grip),
                               self._q_target.copy())

    def _run_controller(self, action: np.ndarray) -> None:
        state = self._execute(self.data, self._controller_state(), action)
        self._target_pos, self._target_rot, self._target_grip, self._q_target = state

    def _execute(self, data: mujoco.MjData, start: ControllerState, action: np.ndarray) -> ControllerState:
        """One control step on ``data`` from the controller state ``start``: the servo plan of ``action``, stopped by
        the contact reflex (``envs/reflex.py``) if the hand pushes too hard, in which case the step ends with the
        target at the measured pose. Returns the controller state after it."""
        state, ctrl = self.controller.plan_step(start, action)
        stopped = False
        self._reflex.reset()
        for k in range(SUBSTEPS):
            data.ctrl[:] = ctrl[k]
            mujoco.mj_step(self.model, data)
            if not stopped and k % CHECK_EVERY == CHECK_EVERY - 1 and self._reflex.look(data):
                ctrl[k + 1:, :NROBOT] = data.qpos[self._arm_qpos]  # hold the arm where it is
                stopped = True
        mujoco.mj_forward(self.model, data)
        if not stopped:
            return state
        measured = self.flange_rotation(data)
        return ControllerState(self.flange_position(data), measured, state.grip, data.qpos[self._arm_qpos].copy())

    def solve_ik(self, position: np.ndarray, rotation: Rotation, q_init: np.ndarray) -> np.ndarray:
        """Joint positions putting the flange at ``position`` / ``rotation`` (see ``ArmController.solve_ik``)."""
        return self.controller.solve_ik(position, rotation, q_init)

    def target_pose(self) -> tuple[np.ndarray, Rotation, float]:
        """The controller's current target: flange position, orientation, gripper closedness."""
        return self._target_pos.copy(), self._target_rot, float(self._target_grip)

    def flange_position(self, data: mujoco.MjData | None = None) -> np.ndarray:
        data = self.data if data is None else data
        return data.site_xpos[self._flange].copy()

    # ----------------------------------------------------------------------------------------------- goals
    def _render_goals(self, goals: list[GoalSpec]) -> dict[str, Any]:
        images, states = [], []
        for index in range(len(goals)):
            data = self.goal_data(index, goals)
            images.append(self.render_frame(data))
            states.append(self.robot_state(data))
        steps = [g.steps for g in goals]
        steps[-1] = self.max_episode_steps - sum(steps[:-1])
        return {"images": np.stack(images), "states": np.stack(states).astype(np.float32), "steps": steps}

    def goal_data(self, index: int, goals: list[GoalSpec] | None = None) -> mujoco.MjData:
        """A fresh ``MjData`` posed in goal configuration ``index`` of this episode (kinematics and contacts
        computed; the env's own state is untouched): what the goal image shows."""
        spec = (self._goals if goals is None else goals)[index]
        data = mujoco.MjData(self.model)
        mujoco.mj_copyData(data, self.model, self.data)
        data.qpos[self._arm_qpos] = self.solve_ik(spec.position, spec.rotation, HOME_QPOS)
        data.qpos[self._finger_qpos] = self.gripper.joint_positions(
            self.gripper.open_opening if spec.finger is None else spec.finger)
        mujoco.mj_kinematics(self.model, data)
        if self.uses_object:
            adr = self._object_qpos
            if spec.object_in_hand:
                data.qpos[adr:adr + 3] = self.gripper.grip_point(data) - self.grasp_offset()
            elif spec.object_pos is not None:
                data.qpos[adr:adr + 3] = spec.object_pos
        data.qvel[:] = 0
        mujoco.mj_forward(self.model, data)
        return data

    # ------------------------------------------------------------------------------------------- objects
    def grip_to_flange(self, finger: float | None = None) -> float:
        """Distance (m) from the grip point between the finger pads up to the flange, with the fingers at opening
        ``finger`` (m; None: closed on the object, or open without one). Constant for the Franka Hand; the
        Robotiq's pads move along the hand axis as they close."""
        if finger is None:
            finger = self.object_half_width() if self.uses_object else self.gripper.open_opening
        if finger not in self._grip_to_flange:
            data = mujoco.MjData(self.model)
            data.qpos[self._arm_qpos] = HOME_QPOS
            data.qpos[self._finger_qpos] = self.gripper.joint_positions(finger)
            mujoco.mj_kinematics(self.model, data)
            self._grip_to_flange[finger] = float(np.linalg.norm(data.site_xpos[self._flange]
                                                                - self.gripper.grip_point(data)))
        return self._grip_to_flange[finger]

    def hand_lift(self) -> np.ndarray:
        """Shift (m, world z) of the tasks' flange goal ranges, which are set for the Franka Hand: how much longer
        this gripper's hand is at the task's grip (``grip_to_flange()``), so that fingers and objects reach the same
        places whichever hand is on (zero for the Franka Hand)."""
        if self.gripper.kind == "franka_hand":
            return np.zeros(3)
        return np.array([0.0, 0.0, self.grip_to_flange() - FRANKA_GRIP_TO_FLANGE])

    def grasp_flange(self, object_position: np.ndarray) -> np.ndarray:
        """Flange position of the grasp (fingers closed on the object) with the object's origin at
        ``object_position``."""
        return object_position + self.grasp_offset() + [0.0, 0.0, self.grip_to_flange()]

    def held_goal(self, object_position: np.ndarray, steps: int = 0) -> GoalSpec:
        """A goal showing the object at ``object_position`` between the closed fingers, the hand turned to the grasp."""
        return GoalSpec(self.grasp_flange(object_position), self.grasp_rotation(), self.object_half_width(),
                        object_in_hand=True, steps=steps)

    def grasp_goals(self, object_position: np.ndarray, steps: int) -> list[GoalSpec]:
        """The grasp of the object at ``object_position`` active ``steps`` steps (``held_goal``); with
        ``pregrasp_goal``, first the open hand around it at the same flange pose, the two active for the first two
        step budgets of ``pregrasp_schedule`` instead."""
        if not self.pregrasp_goal:
            return [self.held_goal(object_position, steps=steps)]
        pregrasp_steps, grasp_steps = self.pregrasp_schedule[:2]
        return [GoalSpec(self.grasp_flange(object_position), self.grasp_rotation(), steps=pregrasp_steps),
                self.held_goal(object_position, steps=grasp_steps)]

    def object_yaw(self, data: mujoco.MjData | None = None) -> float:
        data = self.data if data is None else data
        w, x, y, z = data.xquat[self._object_body]
        return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))

    def grasp_offset(self) -> np.ndarray:
        """Grasp point minus object origin (world axes, object upright): box centre, cup wall 6 cm up."""
        return np.array([0.0, 0.0, self.object_spec.grasp_height])

    def object_rest_height(self) -> float:
        """Height of the object's origin when it stands on the table (box: its centre; cup: its base)."""
        return scene.TABLE_TOP + self.object_spec.rest_height

    def object_half_width(self) -> float:
        """Finger joint position (m per finger) when the fingers close on the object."""
        return self.object_spec.half_width

    def grasp_rotation(self, object_yaw: float | None = None) -> Rotation:
        """Flange orientation of the nearest good top-down grasp of the object at ``object_yaw`` (default: now)."""
        yaw = self.object_yaw() if object_yaw is None else object_yaw
        return Rotation.from_euler("z", self.object_spec.grasp_yaw(yaw)) * TOP_DOWN

    def current_subgoal(self) -> int:
        """Index of the goal active at the current step (the 4 / 10 / 4 schedule for pick-and-place)."""
        return active_goal(self._elapsed, [goal.steps for goal in self._goals]) if self._goals else 0

    # ------------------------------------------------------------------------------------- privileged API
    def get_sim_state(self) -> dict[str, Any]:
        """Everything needed to restore this exact moment: physics state, controller targets, step count."""
        return {"physics": self._physics_snapshot(), "controller": self._controller_state(), "elapsed": self._elapsed}

    def _physics_snapshot(self) -> np.ndarray:
        """``self.data``'s state as ``_SNAPSHOT_STATE`` keeps it (warm start and mocap bodies included)."""
        physics = np.empty(mujoco.mj_stateSize(self.model, _SNAPSHOT_STATE))
        mujoco.mj_getState(self.model, self.data, physics, _SNAPSHOT_STATE)
        return physics

    def set_sim_state(self, state: dict[str, Any]) -> None:
        """Restore a ``get_sim_state`` snapshot (then recompute derived quantities)."""
        mujoco.mj_setState(self.model, self.data, state["physics"], _SNAPSHOT_STATE)
        pos, rot, grip, q = state["controller"]
        self._target_pos, self._target_rot, self._target_grip, self._q_target = pos.copy(), rot, grip, q.copy()
        self._elapsed = state["elapsed"]
        mujoco.mj_forward(self.model, self.data)

    def task_distance(self) -> float:
        """Privileged distance (m) to the active sub-goal, as reported in ``info["distance"]``."""
        return float(self._task_metrics(self.data, self.current_subgoal())["distance"])

    def task_metrics(self) -> dict[str, Any]:
        """The task's named booleans (``success`` among them) and ``distance`` (m) for the current state and
        sub-goal: what ``step`` puts in ``info``."""
        return self._task_metrics(self.data, self.current_subgoal())

    def rollout(self, actions: np.ndarray, read: Callable[[mujoco.MjData, ControllerState], T],
                nthread: int | None = None) -> list[T]:
        """Execute each action sequence from the current state without changing the env, bit for bit as ``step``.

        ``actions``: (S, H, 7), clipped like ``step``. Returns ``read(data, controller_state)`` per sample, called
        with an ``MjData`` at the state the sequence ends in (``mj_forward`` done; reused for the next sample) and
        the controller state there. The servo targets are planned per sample and the physics runs in C
        (``mujoco.rollout``, ``nthread`` threads, default: up to the number of CPUs), from this state's warm start and
        with the mocap bodies where they are. A sample whose recorded hand force shows that the contact reflex
        (``envs/reflex.py``) would have stopped the arm is run again through ``step``'s own control loop, which the
        reflex changes.
        """
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 3 or actions.shape[2] != layout.ACTION_DIM:
            raise ValueError(f"actions must have shape (S, H, {layout.ACTION_DIM}), got {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ValueError("actions must be finite")
        samples, horizon = actions.shape[:2]
        actions = np.clip(actions, layout.ACTION_LOW, layout.ACTION_HIGH)
        start = self._controller_state()
        control = np.empty((samples, horizon * SUBSTEPS, self.model.nu))
        ends = []
        for s in range(samples):
            ctrl_state = start
            for h in range(horizon):
                ctrl_state, control[s, h * SUBSTEPS:(h + 1) * SUBSTEPS] = self.controller.plan_step(
                    ctrl_state, actions[s, h])
            ends.append(ctrl_state)
        # The physics state leaves out the mocap bodies (the coaster), which travel with the controls, and the
        # solver's warm start, which is passed on.
        mocap = np.concatenate([self.data.mocap_pos.ravel(), self.data.mocap_quat.ravel()])
        control = np.concatenate([control, np.broadcast_to(mocap, control.shape[:2] + mocap.shape)], axis=2)
        initial = np.empty(mujoco.mj_stateSize(self.model, _ROLLOUT_STATE))
        mujoco.mj_getState(self.model, self.data, initial, _ROLLOUT_STATE)
        nthread = nthread or min(os.cpu_count() or 1, samples)
        while len(self._rollout_data) < nthread:
            self._rollout_data.append(mujoco.MjData(self.model))
        states, sensordata = mujoco_rollout.rollout(
            self.model, self._rollout_data[:nthread], np.tile(initial, (samples, 1)), control,
            control_spec=_ROLLOUT_CONTROL, initial_warmstart=np.tile(self.data.qacc_warmstart, (samples, 1)))
        stopped = self._reflex.stops(sensordata, SUBSTEPS)
        snapshot = self._physics_snapshot() if stopped.any() else None
        d, out = self._scratch, []
        for s in range(samples):
            if stopped[s]:
                mujoco.mj_setState(self.model, d, snapshot, _SNAPSHOT_STATE)
                ends[s] = start
                for h in range(horizon):
                    ends[s] = self._execute(d, ends[s], actions[s, h])
            else:
                mujoco.mj_setState(self.model, d, states[s, -1], _ROLLOUT_STATE)
                mujoco.mj_forward(self.model, d)  # contacts too, so every field of _task_metrics is current
            out.append(read(d, ends[s]))
        return out

    def rollout_distance(self, actions: np.ndarray, nthread: int | None = None) -> np.ndarray:
        """Task distance to the current sub-goal after each (S, H, 7) action sequence (``rollout``) -> (S,) float64.
        Distances use the sub-goal active now, not the one active after H steps."""
        subgoal = self.current_subgoal()
        return np.array(self.rollout(actions, lambda data, _: self._task_metrics(data, subgoal)["distance"], nthread))

    # ------------------------------------------------------------------------------------------- helpers
    def object_position(self, data: mujoco.MjData | None = None) -> np.ndarray:
        data = self.data if data is None else data
        return data.xpos[self._object_body].copy()

    def grip_position(self, data: mujoco.MjData | None = None) -> np.ndarray:
        return self.gripper.grip_point(self.data if data is None else data)

    def is_grasped(self, data: mujoco.MjData | None = None) -> bool:
        """Both fingers touch the object (a real contact grasp, no weld)."""
        data = self.data if data is None else data
        obj, fingers = self._object_geom_set, self._finger_geom_sets
        touching = [False, False]
        for pair in data.contact.geom.tolist():  # (ncon, 2) geom ids
            if obj.isdisjoint(pair):
                continue
            for side in (0, 1):
                if not fingers[side].isdisjoint(pair):
                    touching[side] = True
        return touching[0] and touching[1]
