"""The arm's contact reflex: the arm stops where it is when the hand pushes on the world too hard.

The joint servos are far stiffer than a real Franka's impedance controller: a hand that a planner keeps driving
down onto an object or the table presses with over 1 000 N (measured: the bundled model closing the Robotiq above
the box and pressing it onto an edge), winds up the wrist, and on opening bats the object off the table. A real
Franka stops such a motion with its contact reflex. This one watches the net contact force on the hand (the grip's
squeeze cancels out, so a held object only adds its weight: at most 3.5 N sustained over the scripted oracle's
grasps and carries) and, when it stays above ``REFLEX_FORCE`` for 10 ms, holds the arm at its measured joints for
the rest of the step. The step then ends with the controller's target at the measured pose, so no force is stored
for the next one; the fingers keep their command.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

REFLEX_FORCE = 30.0
"""Net contact force (N) on the hand that stops the arm when it lasts ``REFLEX_LOOKS`` looks in a row: ten times
the largest sustained load of a normal grasp, far below what a pressing hand reaches, and near the 20 N Cartesian
force threshold that libfranka's example programs give the real robot."""
CHECK_EVERY = 2
"""Physics substeps (2 ms each) between two looks at the hand force. Measured with the hand closing on the box (8
contacts, two other jobs running): the two sensors add 2.4 us to a 53 us substep, and a look costs 4.6 us."""
REFLEX_LOOKS = 3
"""Looks in a row (a 10 ms window) the force must stay above ``REFLEX_FORCE``: fingers closing on an object strike
it with up to 250 N for at most 6 ms (the scripted oracle's grasps), a pressing hand pushes with over 1 000 N for
as long as it is driven."""


HAND_BODY = "right_hand"
"""Root of the hand's subtree: the flange plate and the gripper below it."""
HAND_CONTACTS = "hand_contacts"
HAND_SELF_CONTACTS = "hand_self_contacts"
_NET_FORCE = (1 << int(mujoco.mjtConDataField.mjCONDATA_FORCE), 3, 1)
"""A contact sensor's ``intprm``: report the force, reduced to the net force of all matched contacts (mode 3,
"netforce", in world axes), as one result."""


def add_hand_force_sensors(spec: mujoco.MjSpec) -> None:
    """Two contact sensors on the hand's subtree: the net force of every contact it takes part in, and of those
    between two of its own parts (pads closed on nothing). Their difference is the net force the world exerts on the
    hand. Sensors do not change the physics, and ``mujoco.rollout`` records them, so rollouts see the reflex too."""
    body = mujoco.mjtObj.mjOBJ_XBODY
    spec.add_sensor(name=HAND_CONTACTS, type=mujoco.mjtSensor.mjSENS_CONTACT, objtype=body, objname=HAND_BODY,
                    intprm=list(_NET_FORCE))
    spec.add_sensor(name=HAND_SELF_CONTACTS, type=mujoco.mjtSensor.mjSENS_CONTACT, objtype=body, objname=HAND_BODY,
                    reftype=body, refname=HAND_BODY, intprm=list(_NET_FORCE))


def _squared_norm(x: float | np.ndarray, y: float | np.ndarray, z: float | np.ndarray) -> float | np.ndarray:
    """x*x + y*y + z*z, summed left to right (floats or arrays alike, so both give the same bits)."""
    return x * x + y * y + z * z


class ContactReflex:
    """Watches the net force that everything outside the hand exerts on it through contacts."""

    def __init__(self, model: mujoco.MjModel):
        self._all = slice(model.sensor(HAND_CONTACTS).adr[0], model.sensor(HAND_CONTACTS).adr[0] + 3)
        self._own = slice(model.sensor(HAND_SELF_CONTACTS).adr[0], model.sensor(HAND_SELF_CONTACTS).adr[0] + 3)
        self._looks_above = 0

    def hand_force(self, data: mujoco.MjData) -> float:
        """Magnitude (N) of the net contact force on the hand after the last physics step (runs every other physics
        step, so it works on Python floats: 1 us against 7 us through numpy)."""
        sensordata = data.sensordata
        ax, ay, az = sensordata[self._all].tolist()
        ox, oy, oz = sensordata[self._own].tolist()
        return math.sqrt(_squared_norm(ax - ox, ay - oy, az - oz))

    def _net_force(self, sensordata: np.ndarray) -> np.ndarray:
        """``hand_force`` for many readings ``(..., nsensordata)`` at once: the same operations in the same order, so
        a rollout is rerun exactly when ``step`` would stop."""
        d = sensordata[..., self._all] - sensordata[..., self._own]
        return np.sqrt(_squared_norm(d[..., 0], d[..., 1], d[..., 2]))

    def reset(self) -> None:
        """Forget earlier looks (at the start of every control step)."""
        self._looks_above = 0

    def look(self, data: mujoco.MjData) -> bool:
        """Take one look; True when the force has stayed above ``REFLEX_FORCE`` for ``REFLEX_LOOKS`` looks."""
        self._looks_above = self._looks_above + 1 if self.hand_force(data) > REFLEX_FORCE else 0
        return self._looks_above >= REFLEX_LOOKS

    def stops(self, sensordata: np.ndarray, substeps: int) -> np.ndarray:
        """Which recorded rollouts the reflex would have stopped: ``sensordata`` (S, steps * substeps, nsensordata)
        as ``mujoco.rollout`` records it, looked at as ``look`` does (every ``CHECK_EVERY``-th substep, the count
        starting again with each control step). Returns (S,) bool."""
        force = self._net_force(sensordata)
        looks = force.reshape(len(force), -1, substeps)[..., CHECK_EVERY - 1::CHECK_EVERY] > REFLEX_FORCE
        runs = np.lib.stride_tricks.sliding_window_view(looks, REFLEX_LOOKS, axis=-1).all(axis=-1)
        return runs.any(axis=(1, 2))
