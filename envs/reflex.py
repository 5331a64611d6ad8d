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

import mujoco
import numpy as np

REFLEX_FORCE = 30.0
"""Net contact force (N) on the hand that stops the arm when it lasts ``REFLEX_LOOKS`` looks in a row: ten times
the largest sustained load of a normal grasp, far below what a pressing hand reaches, and near the 20 N Cartesian
force threshold that libfranka's example programs give the real robot."""
CHECK_EVERY = 2
"""Physics substeps (2 ms each) between two looks at the hand force. A look costs about 6 us against 31 us for a
substep, so the reflex adds about 1.5 % to a control step's physics."""
REFLEX_LOOKS = 3
"""Looks in a row (a 10 ms window) the force must stay above ``REFLEX_FORCE``: fingers closing on an object strike
it with up to 250 N for at most 6 ms (the scripted oracle's grasps), a pressing hand pushes with over 1 000 N for
as long as it is driven."""


def subtree_bodies(model: mujoco.MjModel, root: int) -> np.ndarray:
    """Ids of ``root`` and every body below it."""
    inside = np.zeros(model.nbody, dtype=bool)
    inside[root] = True
    for body in range(root + 1, model.nbody):  # parents come before their children
        inside[body] = inside[model.body_parentid[body]]
    return np.flatnonzero(inside)


class ContactReflex:
    """Watches the net force that everything outside the hand exerts on it through contacts."""

    def __init__(self, model: mujoco.MjModel, hand_body: int):
        self.model = model
        self._hand_bodies = subtree_bodies(model, hand_body)
        self._looks_above = 0

    def hand_force(self, data: mujoco.MjData) -> float:
        """Magnitude (N) of the net contact force on the hand now: the sum of its bodies' external forces, in which
        contacts between two parts of the hand (pads closed on nothing) cancel out."""
        if data.ncon == 0:
            return 0.0
        mujoco.mj_rnePostConstraint(self.model, data)  # fills cfrc_ext: (torque, force) per body, world axes
        return float(np.linalg.norm(data.cfrc_ext[self._hand_bodies, 3:].sum(axis=0)))

    def reset(self) -> None:
        """Forget earlier looks (at the start of every control step)."""
        self._looks_above = 0

    def look(self, data: mujoco.MjData) -> bool:
        """Take one look; True when the force has stayed above ``REFLEX_FORCE`` for ``REFLEX_LOOKS`` looks."""
        self._looks_above = self._looks_above + 1 if self.hand_force(data) > REFLEX_FORCE else 0
        return self._looks_above >= REFLEX_LOOKS
