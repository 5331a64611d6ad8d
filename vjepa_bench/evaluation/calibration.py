"""Action-frame calibration: fit the 2x2 map from a world model's inferred x-y moves to the true ones, and an
agent wrapper that sends every planned position delta through it before execution.

A world model trained from one viewpoint learns the robot's x-y axes as they look from there; seen from another
camera its inferred moves come out rotated (and somewhat scaled). If ``true ~= W @ inferred`` for the moves of a
random trajectory, then a move the model plans as ``a`` is really the move ``W @ a``: executing ``W @ a`` makes
the robot do what the model meant. Fitting ``W`` needs only the executed moves and the camera frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vjepa_bench.agents import Agent, make_agent, register_agent
from vjepa_bench.layout import POSITION


@dataclass(frozen=True)
class AxisFit:
    """How a world model's inferred x-y moves relate to the true ones.

    Attributes:
        matrix: ``W`` (2x2, row-major) minimising ``sum |true - W @ inferred|^2`` (least squares).
        rotation_deg: signed angle (deg, counter-clockwise seen from above) of ``W``'s polar factor ``U V^T``:
            the turn that brings the inferred moves onto the true ones (the model's axes are turned by minus it).
        singular_values: of ``W``, largest first (the scale between inferred and true moves).
        condition_number: largest / smallest singular value (1 = a scaled rotation); None when ``W`` is singular
            (strict JSON has no infinity).
        error_before_cm: mean absolute per-axis error between inferred and true moves (cm).
        error_after_cm: the same after mapping the inferred moves through ``W``.
        correlation: Pearson correlation of the inferred with the true move components (x and y pooled).
        pairs: number of move pairs fitted.
    """

    matrix: list[list[float]]
    rotation_deg: float
    singular_values: list[float]
    condition_number: float | None
    error_before_cm: float
    error_after_cm: float
    correlation: float
    pairs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_axis_map(inferred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Least-squares ``W`` (2, 2) with ``true[i] ~= W @ inferred[i]`` for ``(N, 2)`` arrays of moves."""
    inferred, true = np.asarray(inferred, np.float64), np.asarray(true, np.float64)
    if inferred.shape != true.shape or inferred.ndim != 2 or inferred.shape[1] != 2 or len(inferred) < 2:
        raise ValueError(f"need two (N >= 2, 2) arrays of moves, got {inferred.shape} and {true.shape}")
    solution, *_ = np.linalg.lstsq(inferred, true, rcond=None)  # inferred @ solution ~= true
    return solution.T


def polar_rotation_deg(matrix: np.ndarray) -> float:
    """Signed angle (deg) of the rotation factor ``U V^T`` of a 2x2 matrix's SVD."""
    u, _, vt = np.linalg.svd(np.asarray(matrix, np.float64))
    rotation = u @ vt
    return float(np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0])))


def analyse_axes(inferred: np.ndarray, true: np.ndarray) -> AxisFit:
    """Fit ``W`` and report its rotation, scale, conditioning and the action errors before and after it."""
    inferred, true = np.asarray(inferred, np.float64), np.asarray(true, np.float64)
    matrix = fit_axis_map(inferred, true)
    singular = np.linalg.svd(matrix, compute_uv=False)
    corrected = inferred @ matrix.T
    correlation = np.corrcoef(inferred.ravel(), true.ravel())[0, 1]
    return AxisFit(
        matrix=matrix.tolist(),
        rotation_deg=polar_rotation_deg(matrix),
        singular_values=singular.tolist(),
        condition_number=float(singular[0] / singular[1]) if singular[1] > 0 else None,
        error_before_cm=float(100 * np.abs(inferred - true).mean()),
        error_after_cm=float(100 * np.abs(corrected - true).mean()),
        correlation=float(correlation),
        pairs=len(inferred),
    )


class CalibratedAgent:
    """Wrap any agent: its planned x-y position delta ``a`` is replaced by ``matrix @ a``; everything else
    (z, rotation, gripper, reset, diagnostics, checkpoint hash) passes through unchanged."""

    def __init__(self, agent: Agent, matrix: np.ndarray | list[list[float]]) -> None:
        self.inner = agent
        self.matrix = np.asarray(matrix, np.float64)
        if self.matrix.shape != (2, 2) or not np.isfinite(self.matrix).all():
            raise ValueError(f"calibration matrix must be a finite 2x2, got {self.matrix.tolist()}")
        self.name = f"calibrated_{agent.name}"
        self.checkpoint_sha256 = getattr(agent, "checkpoint_sha256", None)
        self.device_name = getattr(agent, "device_name", None)

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        self.inner.reset(observation, info, env)

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        action = np.array(self.inner.act(observation), dtype=np.float32)  # (7,)
        xy = slice(POSITION.start, POSITION.start + 2)
        action[xy] = (self.matrix @ action[xy].astype(np.float64)).astype(np.float32)
        return action

    def step_info(self) -> dict[str, Any]:
        return self.inner.step_info()


@register_agent("calibrated")
def calibrated_agent(agent: str, matrix: list[list[float]], agent_kwargs: dict[str, Any] | None = None) -> Agent:
    """``make_agent("calibrated", agent=<name>, agent_kwargs={...}, matrix=[[..], [..]])``: the named agent
    wrapped in ``CalibratedAgent`` (the matrix is part of the run's agent config, so it lands in its record)."""
    return CalibratedAgent(make_agent(agent, **(agent_kwargs or {})), matrix)
