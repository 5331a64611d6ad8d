"""The two-finger gripper of a compiled scene, whichever hand it is: joints, servos, finger geoms and opening.

Both hands are described by one number per finger, its *opening*: the distance (m) from the hand's centre plane to
the finger's pad. The Franka Hand's fingers slide, so the opening is the finger joint's position (0 to 0.04 m). The
Robotiq 2F-85's fingers swing on parallel four-bar linkages (``assets/robotiq_2f85.xml``): the opening is a smooth
function of the driver joint's angle (0 to 0.043 m), tabulated here from the model's own kinematics, and the pads
move 1.4 cm along the hand axis as they close, so the grip point is the midpoint of the pads, not a fixed site.
"""

from __future__ import annotations

import mujoco
import numpy as np
from vjepa_bench.envs import scene

FRANKA_OPEN = 0.04
"""Franka Hand finger travel (m): 0.04 per finger = 8 cm opening."""
FRANKA_OVERCLOSE = scene.FINGER_CTRL_OVERCLOSE
"""The Franka Hand's closed servo aims this far past the joint limit, so empty fingers close fully against
friction."""
FRANKA_GRIP_TO_FLANGE = 0.1029
"""Distance (m) from the Franka Hand's grip point (between its pads) up to the flange."""
ROBOTIQ_CLOSED_ANGLE = 0.82
"""The Robotiq's closed servo target (rad): past the 0.8 rad joint limit, so empty fingers close fully."""
_ROBOTIQ_JOINTS = ("driver_joint", "inner_knuckle_joint", "inner_finger_joint")
_ROBOTIQ_COUPLING = np.array([1.0, 1.0, -1.0])
"""Linkage joints as multiples of the driver angle (the joint equalities of ``robotiq_2f85.xml``)."""


def body_geoms(model: mujoco.MjModel, bodies: set[str]) -> np.ndarray:
    """Ids of the geoms attached to the named bodies."""
    ids = {model.body(b).id for b in bodies}
    return np.array([g for g in range(model.ngeom) if model.geom_bodyid[g] in ids])


class Gripper:
    """The gripper of ``model``: ``kind`` is ``"franka_hand"`` or ``"robotiq_2f85"`` (``scene.GRIPPERS``)."""

    def __init__(self, model: mujoco.MjModel, kind: str) -> None:
        self.kind = kind
        self.model = m = model
        self.ctrl = np.array([m.actuator(f"gripper_finger_joint{side}").id for side in (1, 2)])
        if kind == "franka_hand":
            self._grip_site = m.site("grip").id
            self.qpos = np.array([m.jnt_qposadr[m.joint(n).id] for n in ("finger_joint1", "finger_joint2")])
            self.finger_geoms = (body_geoms(m, {"leftfinger", "finger_joint1_tip"}),
                                 body_geoms(m, {"rightfinger", "finger_joint2_tip"}))
            self.open_opening = FRANKA_OPEN
        else:
            self.qpos = np.array([m.jnt_qposadr[m.joint(f"{side}_{j}").id] for side in ("left", "right")
                                  for j in _ROBOTIQ_JOINTS])
            self._pads = np.array([m.geom(f"{side}_pad_collision").id for side in ("left", "right")])
            self.finger_geoms = tuple(np.array([pad]) for pad in self._pads)
            self._angles, self._openings = self._robotiq_opening_table()
            self.open_opening = float(self._openings[0])

    def _robotiq_opening_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Driver angles (rad, increasing) and the finger opening (m, decreasing) at each, from the kinematics."""
        data = mujoco.MjData(self.model)
        angles = np.linspace(0.0, float(self.model.jnt_range[self.model.joint("left_driver_joint").id, 1]), 81)
        openings = []
        for angle in angles:
            data.qpos[self.qpos] = np.tile(angle * _ROBOTIQ_COUPLING, 2)
            mujoco.mj_kinematics(self.model, data)
            openings.append(self._robotiq_opening(data))
        return angles, np.array(openings)

    def _robotiq_opening(self, data: mujoco.MjData) -> float:
        left, right = data.geom_xpos[self._pads]
        pad_half_thickness = self.model.geom_size[self._pads[0], 1]
        return float(np.linalg.norm(left - right) / 2 - pad_half_thickness)

    def joint_positions(self, opening: float) -> np.ndarray:
        """Gripper joint positions (in ``self.qpos`` order) with both fingers at ``opening`` (m)."""
        if self.kind == "franka_hand":
            return np.array([opening, -opening])
        angle = float(np.interp(opening, self._openings[::-1], self._angles[::-1]))
        return np.tile(angle * _ROBOTIQ_COUPLING, 2)

    def openings(self, data: mujoco.MjData) -> np.ndarray:
        """Each finger's opening (m), (2,)."""
        q = data.qpos[self.qpos]
        if self.kind == "franka_hand":
            return np.array([q[0], -q[1]])
        return np.interp(q[[0, 3]], self._angles, self._openings)

    def servo_targets(self, closedness: float) -> np.ndarray:
        """The two finger servo targets for a gripper closedness in [0, 1] (closed aims past the joint limit)."""
        if self.kind == "franka_hand":
            finger = FRANKA_OPEN * (1.0 - closedness) - FRANKA_OVERCLOSE * closedness
            return np.array([finger, -finger])
        return np.full(2, ROBOTIQ_CLOSED_ANGLE * closedness)

    def holding_targets(self, opening: float) -> np.ndarray:
        """The two finger servo targets that hold both fingers at ``opening`` (m)."""
        q = self.joint_positions(opening)
        return q if self.kind == "franka_hand" else q[[0, 3]]

    def grip_point(self, data: mujoco.MjData) -> np.ndarray:
        """The point the gripper holds an object at (world, m): the Franka Hand's grip site, the Robotiq's pads'
        midpoint."""
        if self.kind == "franka_hand":
            return data.site_xpos[self._grip_site].copy()
        return data.geom_xpos[self._pads].mean(axis=0)
