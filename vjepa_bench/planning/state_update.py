"""The imagined-state update (docs/conventions.md#state-update) in torch, batched over any leading axes and differentiable.

Matches a SciPy reference (``tests/state_reference.py``) numerically away from gimbal lock (pitch = ±pi/2).
Euler angles are extrinsic "xyz": ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.
"""

from __future__ import annotations

import torch

from vjepa_bench.layout import GRIPPER, POSITION, ROTATION


def euler_xyz_to_matrix(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices of extrinsic "xyz" Euler angles: ``(..., 3)`` rad -> ``(..., 3, 3)``."""
    cos, sin = angles.cos(), angles.sin()  # (..., 3) each
    ca, cb, cc = cos.unbind(-1)
    sa, sb, sc = sin.unbind(-1)
    rows = (
        (cb * cc, sa * sb * cc - ca * sc, ca * sb * cc + sa * sc),
        (cb * sc, sa * sb * sc + ca * cc, ca * sb * sc - sa * cc),
        (-sb, sa * cb, ca * cb),
    )
    return torch.stack([torch.stack(row, -1) for row in rows], -2)  # (..., 3, 3)


def matrix_to_euler_xyz(matrix: torch.Tensor) -> torch.Tensor:
    """Extrinsic "xyz" Euler angles of rotation matrices: ``(..., 3, 3)`` -> ``(..., 3)`` rad.

    Ranges as SciPy: roll and yaw in [-pi, pi], pitch in [-pi/2, pi/2].
    """
    roll = torch.atan2(matrix[..., 2, 1], matrix[..., 2, 2])
    pitch = torch.atan2(-matrix[..., 2, 0], torch.hypot(matrix[..., 0, 0], matrix[..., 1, 0]))
    yaw = torch.atan2(matrix[..., 1, 0], matrix[..., 0, 0])
    return torch.stack((roll, pitch, yaw), -1)  # (..., 3)


def apply_action(state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Next imagined state: position += dp; R = R(dtheta) @ R; gripper += dg, clipped to [0, 1].

    ``state`` and ``action`` are ``(..., 7)`` (broadcast); returns ``(..., 7)``.
    """
    state, action = torch.broadcast_tensors(state, action)
    rotation = euler_xyz_to_matrix(action[..., ROTATION]) @ euler_xyz_to_matrix(state[..., ROTATION])  # (..., 3, 3)
    return torch.cat(
        (
            state[..., POSITION] + action[..., POSITION],
            matrix_to_euler_xyz(rotation),
            (state[..., GRIPPER] + action[..., GRIPPER]).clamp(0.0, 1.0),
        ),
        -1,
    )  # (..., 7)
