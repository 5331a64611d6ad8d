"""The arm's end-effector controller: bounded targets, position-first IK and the servo plan of one control step.

One call per 0.25 s action: the action moves a *target* flange pose (previous target + delta; position clipped to
``WORKSPACE_LOW/HIGH`` and to ``REACH_RADIUS`` from the shoulder, then raised so that no fingertip goes below
``FINGERTIP_CLEARANCE`` over the table, ``TILT_CLEARANCE`` more per rad of tilt; orientation kept inside a cone around
the top-down pose: tilt of the hand axis at most ``MAX_TILT``, turn about the vertical at most ``MAX_YAW``).
Damped-least-squares IK on the MuJoCo Jacobian, position first (orientation errors weigh ``ROTATION_WEIGHT`` m per
rad), null-space pull toward the home posture, turns it into joint targets, solved from the previous ones; a tilted
target they cannot reach gets its tilt cut back (``reachable_target``) rather than a jump to another joint branch,
and a tilted hand's move that needs a joint to turn more than ``MAX_JOINT_SWING`` is cut back (``SWING_CUTS``).
The joint position servos (gravity-compensated links, see ``assets/panda.xml``) follow a smooth-step interpolation
from the previous joint target over the first 70 % of the step and hold for the rest (125 physics steps of 2 ms),
with velocity feed-forward (the servo aims at q_ref + (kv / kp) dq_ref). Step contract (tested with random action
streams, measured by ``python -m vjepa_bench.evaluation.step_contract``): the measured flange pose follows the target
within ``STEP_TOLERANCE``, so next state = state + clipped action up to that tolerance. The gripper target closedness
(previous + delta, clipped to [0, 1]) drives the two finger servos (force-limited to 20 N, so grasps are real
friction contacts; closed = pads pressed together, closedness 1). The servo plan depends only on the action and the
controller state, so rollouts can precompute it and run the physics in C.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation
from vjepa_bench.envs import scene
from vjepa_bench.envs.gripper import Gripper

from vjepa_bench import layout

SUBSTEPS = int(round(layout.CONTROL_DT / scene.TIMESTEP))
MOVE_FRACTION = 0.7
"""Fraction of a control step over which the joint target moves; the rest lets the servos settle."""
WORKSPACE_LOW = np.array([0.3, -0.35, 0.0])
WORKSPACE_HIGH = np.array([0.7, 0.35, 0.55])
"""Box (m, base frame) the flange target is clipped to (the fingertip floor below raises it further)."""
FINGERTIP_CLEARANCE = 0.003
"""No fingertip of the target pose goes lower than this above the table (m): the hand stops at the table."""
TILT_CLEARANCE = 0.04
"""Extra fingertip clearance (m per rad of tilt beyond ``TILT_DEADBAND``) for a tilted hand: tipped fingers turning
or moving at the table floor catch on it, and the hand stayed up to 11 cm behind its target (Robotiq)."""
TILT_DEADBAND = 0.01
"""Tilts (rad) up to this count as top-down: such targets keep the plain clearance and the plain IK, bit for bit."""
IK_TOLERANCE = 2e-3
"""A joint target whose flange misses the target position by more than this (m) counts as out of reach."""
MAX_TILT = 0.5
"""Largest tilt (rad, ~29 deg) of the target hand axis away from pointing straight down."""
MAX_YAW = np.pi / 3
"""Largest turn (rad, 60 deg) of the target hand about the vertical, either way from the top-down pose (every grasp
needs at most 45 deg)."""
SHOULDER = np.array([0.0, 0.0, 0.333])
REACH_RADIUS = 0.7
"""The flange target stays within this distance (m) of the shoulder (joint 2), where every orientation of the cone
is reachable; beyond it the arm is nearly straight."""
ROTATION_WEIGHT = 0.2
"""IK weight of an orientation error (m per rad): small, so an unreachable orientation never drags the position."""
STEP_TOLERANCE = (0.02, 0.15)
"""Measured flange vs target after each step: position (m) and orientation (rad) within these on any action stream
the contract test draws. Over 1 000 streams of 15 steps whose entries sit at the action bounds
(``python -m vjepa_bench.evaluation.step_contract --streams 1000``), no step goes beyond: p99 3.2 mm (Robotiq) and
3.4 mm (Franka Hand), at worst 5.0 and 6.0 mm and 0.063 and 0.072 rad. Before too-wide moves were cut back
(``MAX_JOINT_SWING``) 10 and 6 steps went beyond 5 cm or 0.35 rad, at worst 6.2 and 5.5 cm."""
MAX_JOINT_SWING = 1.0
"""Largest change (rad) of any joint target in one step of a tilted hand. Near the wrist singularity (joint 6 close to
pi) a small pose change can need joints 5 and 7 to turn 1.5-2.8 rad against each other, which the servos cannot follow
in 0.25 s (they lagged 0.34-0.65 rad); such a move is cut back towards the previous target (``SWING_CUTS``)."""
SWING_CUTS = (0.5, 0.25)
"""Fractions of a too-wide move tried in turn; when none is narrow enough, the target and the joints stay."""
HOME_QPOS = np.array([0.0, -0.35, 0.0, -2.35, 0.0, 2.0, -0.785])
TOP_DOWN = Rotation.from_euler("xyz", [np.pi, 0.0, np.pi / 4])
"""Flange orientation with the hand pointing down and the fingers closing along the base x axis (across the default
camera's view, so that the gripper's opening shows in the image)."""
_TOP_DOWN_INV = TOP_DOWN.inv()
IK_ITERATIONS = 30
IK_DAMPING = 1e-2
_DAMPING = IK_DAMPING * np.eye(6)
_NULL_SPACE_DAMPING = 1e-6 * np.eye(6)
NROBOT = 7


def _smooth_profile() -> tuple[np.ndarray, np.ndarray]:
    """Smooth-step position profile s(t) in [0, 1] over the first MOVE_FRACTION of a step, and its rate ds/dt (1/s),
    sampled at the end of each physics step."""
    move_time = MOVE_FRACTION * layout.CONTROL_DT
    t = np.clip(np.arange(1, SUBSTEPS + 1) * scene.TIMESTEP / move_time, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t) / move_time


_PROFILE, _PROFILE_RATE = _smooth_profile()


def _spd_solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve a small symmetric positive-definite system with MuJoCo's Cholesky (no BLAS threads: ~20x faster than
    ``np.linalg.inv`` here when the CPUs are busy)."""
    factor = np.array(matrix, dtype=np.float64)
    mujoco.mju_cholFactor(factor, 0.0)
    out = np.zeros(len(rhs))
    mujoco.mju_cholSolve(out, factor, np.ascontiguousarray(rhs, dtype=np.float64))
    return out


def _swing_twist(rotation: Rotation) -> tuple[np.ndarray, np.ndarray]:
    """Rotation vectors of the tilt (swing about a horizontal axis) and the turn (twist about the vertical) that take
    ``TOP_DOWN`` to ``rotation``: ``rotation = swing * twist * TOP_DOWN``."""
    relative = rotation * _TOP_DOWN_INV
    x, y, z, w = relative.as_quat()
    norm = np.hypot(z, w)
    twist = Rotation.from_quat([0.0, 0.0, z / norm, w / norm]) if norm > 1e-9 else Rotation.identity()
    swing = relative * twist.inv()
    return swing.as_rotvec(), twist.as_rotvec()


def bound_rotation(rotation: Rotation) -> Rotation:
    """``rotation`` moved into the controller's cone: tilt from top-down at most ``MAX_TILT``, turn about the
    vertical at most ``MAX_YAW`` (swing-twist split of the world-frame rotation away from ``TOP_DOWN``)."""
    swing_vec, twist_vec = _swing_twist(rotation)
    tilt, turn = np.linalg.norm(swing_vec), abs(twist_vec[2])
    if tilt > MAX_TILT:
        swing_vec *= MAX_TILT / tilt
    if turn > MAX_YAW:
        twist_vec *= MAX_YAW / turn
    return Rotation.from_rotvec(swing_vec) * Rotation.from_rotvec(twist_vec) * TOP_DOWN


def hand_tilt(rotation: Rotation) -> float:
    """Angle (rad) of the hand axis away from pointing straight down."""
    return float(np.linalg.norm(_swing_twist(rotation)[0]))


def _tilt_clearance(rotation: Rotation) -> float:
    """Extra fingertip clearance (m) of a tilted hand: ``TILT_CLEARANCE`` per rad of tilt beyond ``TILT_DEADBAND``.
    A hand whose axis is within half the deadband of straight down (``-R[2, 2]`` is the cosine of the tilt, 1 us
    against 130 us for ``hand_tilt``: this runs on every planned step) gets none."""
    if np.arccos(np.clip(-rotation.as_matrix()[2, 2], -1.0, 1.0)) <= TILT_DEADBAND / 2:
        return 0.0
    return TILT_CLEARANCE * max(0.0, hand_tilt(rotation) - TILT_DEADBAND)


def tilted_back(rotation: Rotation, fraction: float) -> Rotation:
    """``rotation`` with its tilt scaled by ``fraction`` and its turn about the vertical kept."""
    swing_vec, twist_vec = _swing_twist(rotation)
    return Rotation.from_rotvec(fraction * swing_vec) * Rotation.from_rotvec(twist_vec) * TOP_DOWN


class ControllerState(NamedTuple):
    """The controller's target: flange position, orientation, gripper closedness, and the last joint target."""

    position: np.ndarray
    rotation: Rotation
    grip: float
    q: np.ndarray

    def copy(self) -> ControllerState:
        return ControllerState(self.position.copy(), self.rotation, float(self.grip), self.q.copy())


class ArmController:
    """IK and servo plans for the Panda of a compiled scene and its ``gripper`` (one scratch ``MjData`` for the
    IK)."""

    def __init__(self, model: mujoco.MjModel, gripper: Gripper):
        m = self.model = model
        self._scratch = mujoco.MjData(model)
        self._flange = m.site("flange").id
        self.arm_qpos = np.array([m.jnt_qposadr[m.joint(f"joint{i + 1}").id] for i in range(NROBOT)])
        self._arm_dof = np.array([m.jnt_dofadr[m.joint(f"joint{i + 1}").id] for i in range(NROBOT)])
        self.gripper = gripper
        self._joint_low = m.jnt_range[[m.joint(f"joint{i + 1}").id for i in range(NROBOT)], 0]
        self._joint_high = m.jnt_range[[m.joint(f"joint{i + 1}").id for i in range(NROBOT)], 1]
        # Servo force = kp (ctrl - q) - kv qdot; aiming at q_ref + (kv / kp) qdot_ref makes it a PD on the reference
        # trajectory (velocity feed-forward), which removes the tracking lag of a moving target.
        self._servo_lead = -m.actuator_biasprm[:NROBOT, 2] / m.actuator_gainprm[:NROBOT, 0]
        self._fingertips = self._fingertip_points()
        self._closed_opening = self._measure_closed_opening()

    def _fingertip_points(self) -> np.ndarray:
        """Corners of the finger collision shapes (open and closed) in the flange frame, (N, 3): what must stay
        above the table."""
        d = self._scratch
        points = []
        for opening in (self.gripper.open_opening, 0.0):
            d.qpos[self.gripper.qpos] = self.gripper.joint_positions(opening)
            mujoco.mj_kinematics(self.model, d)
            flange_pos, flange_mat = d.site_xpos[self._flange], d.site_xmat[self._flange].reshape(3, 3)
            for geom in np.concatenate(self.gripper.finger_geoms):
                centre, half = self.model.geom_aabb[geom, :3], self.model.geom_aabb[geom, 3:]
                corners = centre + half * np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
                world = d.geom_xpos[geom] + corners @ d.geom_xmat[geom].reshape(3, 3).T
                points.append((world - flange_pos) @ flange_mat)
        return np.concatenate(points)

    def _measure_closed_opening(self) -> float:
        """Finger opening (m) of the empty closed gripper: the pads meet about 1 mm before the joint limits."""
        d = mujoco.MjData(self.model)
        d.qpos[self.arm_qpos] = HOME_QPOS
        d.ctrl[:NROBOT] = HOME_QPOS
        d.ctrl[self.gripper.ctrl] = self.gripper.servo_targets(1.0)
        for _ in range(200):
            mujoco.mj_step(self.model, d)
        return float(self.gripper.openings(d).sum())

    def closedness(self, data: mujoco.MjData) -> float:
        """Gripper closedness: 0 fully open, 1 when the empty fingers' pads meet."""
        opening = self.gripper.openings(data).sum()
        span = 2 * self.gripper.open_opening - self._closed_opening
        return float(np.clip(1.0 - (opening - self._closed_opening) / span, 0.0, 1.0))

    def plan_step(self, ctrl_state: ControllerState, action: np.ndarray) -> tuple[ControllerState, np.ndarray]:
        """Controller state after ``action`` and the (SUBSTEPS, nu) servo targets that execute it."""
        start_pos, start_rot, grip, q_prev = ctrl_state
        rot = bound_rotation(Rotation.from_euler("xyz", action[layout.ROTATION]) * start_rot)
        pos, rot, q_new = self.reachable_target(start_pos + action[layout.POSITION], rot, q_prev)
        if np.abs(q_new - q_prev).max() > MAX_JOINT_SWING and max(hand_tilt(rot), hand_tilt(start_rot)) > TILT_DEADBAND:
            pos, rot, q_new = self._cut_back(ctrl_state, pos, rot)
        grip = float(np.clip(grip + action[layout.GRIPPER][0], 0.0, 1.0))
        ctrl = np.empty((SUBSTEPS, self.model.nu))
        ctrl[:, :NROBOT] = q_prev + _PROFILE[:, None] * (q_new - q_prev) + _PROFILE_RATE[:, None] * (
            self._servo_lead * (q_new - q_prev))
        ctrl[:, self.gripper.ctrl] = self.gripper.servo_targets(grip)
        return ControllerState(pos, rot, grip, q_new), ctrl

    def reachable_target(
        self, position: np.ndarray, rotation: Rotation, q_prev: np.ndarray
    ) -> tuple[np.ndarray, Rotation, np.ndarray]:
        """The target pose for a requested flange ``position`` (bounded) and ``rotation`` (inside the cone), and its
        joint target, solved from the previous one. Position first: when the IK misses by more than
        ``IK_TOLERANCE`` and the hand is tilted, the tilt is cut in quarters (the turn kept) until the pose is in
        reach. A pose still out of reach restarts the IK from the home posture (``solve_ik``), which may jump to
        another joint branch that the servos need more than one step to reach."""
        target = self.bounded_position(position, rotation)
        q, error = self._dls_ik(target, rotation, q_prev)
        if error > IK_TOLERANCE and hand_tilt(rotation) > TILT_DEADBAND:
            for fraction in (0.75, 0.5, 0.25, 0.0):
                lower = tilted_back(rotation, fraction)
                lower_target = self.bounded_position(position, lower)
                q_lower, error_lower = self._dls_ik(lower_target, lower, q_prev)
                if error_lower <= IK_TOLERANCE:
                    return lower_target, lower, q_lower
        return target, rotation, self._restart_from_home(target, rotation, q, error)

    def _cut_back(
        self, start: ControllerState, position: np.ndarray, rotation: Rotation
    ) -> tuple[np.ndarray, Rotation, np.ndarray]:
        """The largest of the ``SWING_CUTS`` fractions of the move from ``start``'s target to ``position`` /
        ``rotation`` (position linear, orientation along the shortest arc) whose joint target stays within
        ``MAX_JOINT_SWING`` of the previous one; if none, the target and the joints stay as they were."""
        turn = (start.rotation.inv() * rotation).as_rotvec()
        for fraction in SWING_CUTS:
            rot = bound_rotation(start.rotation * Rotation.from_rotvec(fraction * turn))
            pos, rot, q = self.reachable_target(start.position + fraction * (position - start.position), rot, start.q)
            if np.abs(q - start.q).max() <= MAX_JOINT_SWING:
                return pos, rot, q
        return start.position.copy(), start.rotation, start.q.copy()

    def bounded_position(self, position: np.ndarray, rotation: Rotation) -> np.ndarray:
        """``position`` clipped to the workspace box, then raised until every fingertip clears the table (by
        ``TILT_CLEARANCE`` more per rad of tilt)."""
        position = np.clip(position, WORKSPACE_LOW, WORKSPACE_HIGH)
        reach = np.linalg.norm(position - SHOULDER)
        if reach > REACH_RADIUS:
            position = SHOULDER + (position - SHOULDER) * (REACH_RADIUS / reach)
        lowest = float(rotation.apply(self._fingertips)[:, 2].min())
        position[2] = max(position[2], scene.TABLE_TOP + FINGERTIP_CLEARANCE + _tilt_clearance(rotation) - lowest)
        return position

    def solve_ik(self, position: np.ndarray, rotation: Rotation, q_init: np.ndarray) -> np.ndarray:
        """Joint positions putting the flange at ``position`` / ``rotation``: DLS IK from ``q_init``, and from the
        home posture too when that start ends more than 2 mm off (a long action stream can wander into a joint
        configuration from which the target is out of reach)."""
        q, error = self._dls_ik(position, rotation, q_init)
        return self._restart_from_home(position, rotation, q, error)

    def _restart_from_home(self, position: np.ndarray, rotation: Rotation, q: np.ndarray, error: float) -> np.ndarray:
        """``q`` (its flange ``error`` m from ``position``), or if that is beyond ``IK_TOLERANCE`` the IK from the
        home posture when it comes closer."""
        if error > IK_TOLERANCE:
            q_home, error_home = self._dls_ik(position, rotation, HOME_QPOS)
            if error_home < error:
                return q_home
        return q

    def _dls_ik(self, position: np.ndarray, rotation: Rotation, q_init: np.ndarray) -> tuple[np.ndarray, float]:
        """Damped-least-squares IK from ``q_init``; returns the joints and their final position error (m).

        It runs up to ``IK_ITERATIONS`` times per step, so the loop keeps its views and constants and takes lengths as
        ``sqrt(v.dot(v))``, which is what ``np.linalg.norm`` computes for a vector. (Filling a reused Jacobian
        buffer instead of stacking a fresh one changed results by 1 ulp, so the stack stays.)"""
        m, d = self.model, self._scratch
        target_quat = np.roll(rotation.as_quat(), 1)  # scipy (x, y, z, w) -> MuJoCo (w, x, y, z)
        q = np.array(q_init, dtype=np.float64)
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        quat, err_rot_local = np.zeros(4), np.zeros(3)
        error = np.empty(6)
        site_xpos, site_xmat = d.site_xpos[self._flange], d.site_xmat[self._flange]
        xmat = site_xmat.reshape(3, 3)
        for _ in range(IK_ITERATIONS):
            d.qpos[self.arm_qpos] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            error[:3] = position - site_xpos
            mujoco.mju_mat2Quat(quat, site_xmat)
            mujoco.mju_subQuat(err_rot_local, target_quat, quat)
            error[3:] = ROTATION_WEIGHT * (xmat @ err_rot_local)
            err_pos, err_rot = error[:3], error[3:]
            if math.sqrt(err_pos.dot(err_pos)) < 1e-4 and math.sqrt(err_rot.dot(err_rot)) < 1e-3 * ROTATION_WEIGHT:
                break
            mujoco.mj_jacSite(m, d, jacp, jacr, self._flange)
            jac = np.vstack([jacp[:, self._arm_dof], ROTATION_WEIGHT * jacr[:, self._arm_dof]])
            gram = jac @ jac.T
            dq = jac.T @ _spd_solve(gram + _DAMPING, error)  # damped least squares
            posture = 0.1 * (HOME_QPOS - q)
            dq += posture - jac.T @ _spd_solve(gram + _NULL_SPACE_DAMPING, jac @ posture)  # in the null space
            step = math.sqrt(dq.dot(dq))
            if step > 0.5:
                dq *= 0.5 / step
            q = np.minimum(np.maximum(q + dq, self._joint_low), self._joint_high)  # np.clip, without its overhead
        d.qpos[self.arm_qpos] = q
        mujoco.mj_kinematics(m, d)
        miss = position - site_xpos
        return q, math.sqrt(miss.dot(miss))
