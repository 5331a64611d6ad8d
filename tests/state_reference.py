"""A NumPy / SciPy reference of the imagined-state update (docs/conventions.md#state-update), for tests:
``vjepa_bench.planning.state_update`` is checked against it, and fake envs step with it."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from vjepa_bench.layout import GRIPPER, POSITION, ROTATION


def apply_action(state: np.ndarray, action: np.ndarray) -> np.ndarray:
    """Position += dp, R = R(dθ) R, gripper += dg clipped to [0, 1]; ``(..., 7)`` arrays, float32 out."""
    state = np.asarray(state, np.float64)
    action = np.asarray(action, np.float64)
    out = np.empty(np.broadcast_shapes(state.shape, action.shape), np.float64)
    out[..., POSITION] = state[..., POSITION] + action[..., POSITION]
    rot = Rotation.from_euler("xyz", action[..., ROTATION].reshape(-1, 3)) * Rotation.from_euler(
        "xyz", state[..., ROTATION].reshape(-1, 3)
    )
    out[..., ROTATION] = rot.as_euler("xyz").reshape(out[..., ROTATION].shape)
    out[..., GRIPPER] = np.clip(state[..., GRIPPER] + action[..., GRIPPER], 0.0, 1.0)
    return out.astype(np.float32)
