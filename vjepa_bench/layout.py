"""The DROID / V-JEPA 2-AC state and action layout shared by envs, agents, planners and data.

State ``float32[7]``: end-effector (flange) position x, y, z (m, robot base frame), orientation as extrinsic
Euler "xyz" angles (rad), gripper closedness in [0, 1] (0 open, 1 closed).

Action ``float32[7]``: one 0.25 s control step. Position delta (m, base frame), rotation delta as Euler "xyz"
of ``R_{t+1} R_t^T`` (rad), gripper closedness delta.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

ACTION_DIM = 7
STATE_DIM = 7
POSITION = slice(0, 3)
ROTATION = slice(3, 6)
GRIPPER = slice(6, 7)

CONTROL_DT = 0.25
"""Seconds of simulated (or real) time per action: the 4 Hz DROID control rate."""

MAX_POSITION_DELTA = 0.075
"""Per-axis bound (m) on a position delta; the paper's planner box."""
MAX_ROTATION_DELTA = 0.25
"""Per-axis bound (rad) on a rotation delta."""
MAX_GRIPPER_DELTA = 1.0
"""Bound on a gripper closedness delta."""

ACTION_LOW = np.array([-MAX_POSITION_DELTA] * 3 + [-MAX_ROTATION_DELTA] * 3 + [-MAX_GRIPPER_DELTA], np.float32)
ACTION_HIGH = -ACTION_LOW


def clip_action(action: np.ndarray) -> np.ndarray:
    """Clip an action to the documented per-axis bounds."""
    return np.clip(action, ACTION_LOW, ACTION_HIGH).astype(np.float32)


def checked_action(action: np.ndarray) -> np.ndarray:
    """An env's input action as float64, clipped to the bounds; a wrong shape or a non-finite value is a
    ``ValueError`` (what every env's ``step`` does first)."""
    array = np.asarray(action, dtype=np.float64)
    if array.shape != (ACTION_DIM,):
        raise ValueError(f"action must have shape ({ACTION_DIM},), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"action must be finite, got {array}")
    return np.clip(array, ACTION_LOW, ACTION_HIGH)


def action_between(state_from: np.ndarray, state_to: np.ndarray) -> np.ndarray:
    """The action that moves ``state_from`` to ``state_to`` (docs/conventions.md#action); ``(..., 7)`` arrays."""
    state_from = np.asarray(state_from, np.float64)
    state_to = np.asarray(state_to, np.float64)
    action = np.empty(np.broadcast_shapes(state_from.shape, state_to.shape), np.float64)
    action[..., POSITION] = state_to[..., POSITION] - state_from[..., POSITION]
    r_from = Rotation.from_euler("xyz", state_from[..., ROTATION].reshape(-1, 3))
    r_to = Rotation.from_euler("xyz", state_to[..., ROTATION].reshape(-1, 3))
    action[..., ROTATION] = (r_to * r_from.inv()).as_euler("xyz").reshape(action[..., ROTATION].shape)
    action[..., GRIPPER] = state_to[..., GRIPPER] - state_from[..., GRIPPER]
    return action.astype(np.float32)
