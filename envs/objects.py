"""The graspable objects as one table: how each is built, where it rests, where and how the hand grasps it.

Tasks and oracles read an :class:`ObjectSpec` instead of branching on the object's name. Yaw conventions: the
object's yaw is its rotation about the world z axis; the hand grasps with the fingers closing along its local x
axis, so a grasp yaw makes the closing axis cross two box faces, or cross the mug's body with the handle clear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np
from vjepa_bench.envs import scene


@dataclass(frozen=True)
class ObjectSpec:
    """Everything the envs and oracles need to know about one object kind."""

    name: str
    build: Callable[[mujoco.MjSpec], mujoco.MjsBody]
    rest_height: float
    """Height of the body origin above the table top when the object stands on it."""
    grasp_height: float
    """Height of the grasp point above the body origin (object upright)."""
    half_width: float
    """Finger joint position (m per finger) when the fingers close on the object."""
    yaw_half_range: float
    """Start yaw is drawn uniformly within +-this of ``yaw_centre`` (plus a half turn for the mug)."""
    yaw_centre: float
    grasp_period: float
    """Grasp symmetry (rad): the hand may grasp at any multiple of it; the oracle picks the smallest turn."""
    flips: bool
    """Whether a half turn of the start yaw is drawn too (the mug's handle points either way)."""

    def sample_yaw(self, rng: np.random.Generator) -> float:
        """A start yaw; consumes two random numbers whatever the object."""
        offset, flip = rng.uniform(-self.yaw_half_range, self.yaw_half_range), rng.integers(2)
        return float(self.yaw_centre + offset + (np.pi * flip if self.flips else 0.0))

    def grasp_yaw(self, object_yaw: float) -> float:
        """Hand yaw (about world z, relative to the top-down pose) of the nearest good grasp, in
        ``[-period / 2, period / 2)``."""
        period = self.grasp_period
        return float((object_yaw - self.yaw_centre + period / 2) % period - period / 2)


OBJECTS: dict[str, ObjectSpec] = {
    "box": ObjectSpec("box", scene.add_box, rest_height=scene.BOX_HALF, grasp_height=0.0,
                      half_width=scene.BOX_HALF, yaw_half_range=np.pi / 4, yaw_centre=0.0,
                      grasp_period=np.pi / 2, flips=False),
    # The handle points along the mug's +x axis; a yaw centre of pi/2 turns it across the closing axis.
    "cup": ObjectSpec("cup", scene.add_cup, rest_height=0.0, grasp_height=scene.CUP_GRASP_HEIGHT,
                      half_width=scene.CUP_RADIUS, yaw_half_range=0.7, yaw_centre=np.pi / 2, grasp_period=np.pi,
                      flips=True),
}
