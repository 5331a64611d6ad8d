"""Camera-rotation sensitivity of a world model: the axis test and task success at each camera azimuth.

Protocol 1 (the axis test of V-JEPA 2's camera study): at each azimuth, drive the arm through one seeded
trajectory of random moves in the horizontal x-y plane (``axis_steps`` moves of ``move_cm``, kept near the start).
For every pair of adjacent frames the world model infers the move that took frame t to frame t+1: the
energy minimiser of a one-step rollout from frame t with frame t+1 as the goal, found by the configured planner.
The x-y parts of the inferred moves are compared with the executed ones (the measured flange displacement) through
the least-squares 2x2 map ``W`` (``calibration.analyse_axes``): its rotation angle is how far the model's axes are
turned at that camera.

Protocol 2: task success at each azimuth through the ordinary evaluation runner (one ``results.json`` per angle),
and with ``calibrate`` the same episodes again with the agent wrapped in ``CalibratedAgent(W)``.

Folder layout (``output_dir``)::

    angle_065.0/axis.json          protocol-1 figures and the matrix (written last: its presence = angle done)
    angle_065.0/axis_pairs.csv     inferred and true moves (m), so anyone can refit
    angle_065.0/frame.png          first frame of the trajectory at this camera
    angle_065.0/uncalibrated/      results.json of protocol 2
    angle_065.0/calibrated/        results.json with the fitted matrix
    sweep.json, sweep.csv, summary.md, *.png   every figure per angle, rebuilt after each run
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from vjepa_bench.agents import make_agent
from vjepa_bench.envs import make_env
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.calibration import analyse_axes
from vjepa_bench.evaluation.inverse_dynamics import world_model_inference
from vjepa_bench.evaluation.runner import EvalSpec, episode_list, run_evaluation
from vjepa_bench.fileio import write_json_atomic
from vjepa_bench.layout import ACTION_DIM
from vjepa_bench.schema.sweep import SweepSettings

AXIS_ENV = "vjepa_bench/FrankaReach-v1"
"""The protocol-1 trajectory runs in the reach scene (arm only, no object)."""

InferMove = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""A world model's inverse dynamics for the axis test: ``(image_t, state_t, image_t+1) -> (dx, dy, ...)`` in metres
(an ``InferAction`` of :mod:`~vjepa_bench.evaluation.inverse_dynamics` qualifies: the first two values are used)."""


@dataclass(frozen=True)
class AxisTrajectory:
    """``frames`` (N+1, S, S, 3) uint8, ``states`` (N+1, 7) and the commanded ``actions`` (N, 7)."""

    frames: np.ndarray
    states: np.ndarray
    actions: np.ndarray

    @property
    def true_moves(self) -> np.ndarray:
        """Executed x-y moves (N, 2) in metres: the measured flange displacement between frames."""
        return np.diff(self.states[:, :2], axis=0)


def random_xy_moves(steps: int, move: float, half_width: float, seed: int) -> np.ndarray:
    """``(steps, 2)`` moves of length ``move`` in random directions whose running sum stays in a square of
    ``half_width`` around the start (a component that would leave it is reversed)."""
    rng = np.random.default_rng(seed)
    position = np.zeros(2)
    moves = np.empty((steps, 2))
    for i in range(steps):
        angle = rng.uniform(0.0, 2.0 * np.pi)
        step = move * np.array([np.cos(angle), np.sin(angle)])
        outside = np.abs(position + step) > half_width
        step[outside] *= -1.0
        moves[i] = step
        position += step
    return moves


def record_axis_trajectory(env: Any, settings: SweepSettings) -> AxisTrajectory:
    """Reset ``env`` with ``axis_seed`` and execute the seeded x-y moves, keeping every frame and state."""
    moves = random_xy_moves(settings.axis_steps, settings.move_cm / 100, settings.workspace_cm / 100, settings.axis_seed)
    observation, _ = env.reset(seed=settings.axis_seed)
    frames, states = [observation["image"]], [observation["state"]]
    actions = np.zeros((len(moves), ACTION_DIM), np.float32)
    actions[:, :2] = moves
    for action in actions:
        observation, *_ = env.unwrapped.step(action)  # no time limit: the trajectory is longer than an episode
        frames.append(observation["image"])
        states.append(observation["state"])
    return AxisTrajectory(np.stack(frames), np.stack(states).astype(np.float32), actions)


def axis_test(infer: InferMove, trajectory: AxisTrajectory, progress: bool = False) -> np.ndarray:
    """Inferred x-y moves ``(N, 2)`` for every adjacent frame pair of ``trajectory``."""
    pairs = range(len(trajectory.actions))
    bar = tqdm(pairs, desc="axis test", unit="pair", disable=not progress, leave=False)
    frames, states = trajectory.frames, trajectory.states
    return np.stack([np.asarray(infer(frames[i], states[i], frames[i + 1]), np.float64)[:2] for i in bar])


def angle_dir(output_dir: Path, angle: float) -> Path:
    return output_dir / f"angle_{angle:05.1f}"


def _write_pairs(path: Path, inferred: np.ndarray, true: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pair", "inferred_dx_m", "inferred_dy_m", "true_dx_m", "true_dy_m"])
        for i, (a, b) in enumerate(zip(inferred, true)):
            writer.writerow([i, *(f"{v:.6f}" for v in (*a, *b))])
    tmp.replace(path)


def _save_frame(path: Path, frame: np.ndarray) -> None:
    import matplotlib.image

    matplotlib.image.imsave(path, frame)


def run_axis_angle(infer: InferMove, env: Any, settings: SweepSettings, folder: Path) -> dict[str, Any]:
    """Protocol 1 at one camera (resumable: a finished ``axis.json`` is read back, not redone)."""
    done = folder / "axis.json"
    trajectory_settings = {k: getattr(settings, k) for k in ("axis_steps", "move_cm", "workspace_cm", "axis_seed")}
    if done.exists():
        result = json.loads(done.read_text())
        if result.get("trajectory") != trajectory_settings:
            raise UsageError(
                f"{done} was measured with {result.get('trajectory')}, this run asks for {trajectory_settings}; "
                "keep those settings or choose another output_dir=..."
            )
        return result
    trajectory = record_axis_trajectory(env, settings)
    folder.mkdir(parents=True, exist_ok=True)
    _save_frame(folder / "frame.png", trajectory.frames[0])
    inferred = axis_test(infer, trajectory, settings.progress)
    true = trajectory.true_moves
    _write_pairs(folder / "axis_pairs.csv", inferred, true)
    result = {
        **analyse_axes(inferred, true).to_dict(),
        "mean_true_move_cm": float(100 * np.linalg.norm(true, axis=1).mean()),
        "trajectory": trajectory_settings,
    }
    write_json_atomic(done, result)
    return result


def camera_kwargs(env_kwargs: dict[str, Any], angle: float) -> dict[str, Any]:
    """``env_kwargs`` with the camera azimuth set to ``angle`` (and no longer randomised)."""
    kwargs = dict(env_kwargs)
    kwargs["camera"] = {**(kwargs.get("camera") or {}), "azimuth_deg": angle}
    if kwargs.get("camera_randomization"):
        kwargs["camera_randomization"] = {k: v for k, v in kwargs["camera_randomization"].items() if k != "azimuth_deg"}
    return kwargs


@dataclass(frozen=True)
class SweepJob:
    """One sweep: the settings, the agent by name, the protocol-2 task and the folder."""

    settings: SweepSettings
    agent: str
    agent_kwargs: dict[str, Any]
    env_id: str
    env_kwargs: dict[str, Any]
    output_dir: Path


def run_sweep(job: SweepJob, infer: InferMove | None = None) -> list[dict[str, Any]]:
    """Run (or resume) every angle of ``job``; return one row of figures per angle.

    ``infer`` replaces the agent's world model in protocol 1 (e.g. a synthetic one); by default it is built from
    the agent (``world_model_inference``), which must then be a world-model agent.
    """
    settings = job.settings
    if settings.axis_test and infer is None:
        infer = world_model_inference(
            make_agent(job.agent, **job.agent_kwargs), "protocol 1",
            "use a world-model agent (agent=vjepa_ac) or set axis_test=false calibrate=false")
    rows = []
    for angle in tqdm(settings.angles, desc="camera sweep", unit="angle", disable=not settings.progress):
        folder = angle_dir(job.output_dir, angle)
        folder.mkdir(parents=True, exist_ok=True)
        row: dict[str, Any] = {"angle_deg": angle}
        if settings.axis_test:
            scene = {k: v for k, v in job.env_kwargs.items() if k != "object"}  # the reach scene has no object
            axis_env = make_env(AXIS_ENV, **camera_kwargs(scene, angle))
            try:
                row["axis"] = run_axis_angle(infer, axis_env, settings, folder)
            finally:
                axis_env.close()
        if settings.episodes:
            env_kwargs = camera_kwargs(job.env_kwargs, angle)
            episodes = episode_list(settings.episodes, settings.seed)
            spec = EvalSpec(job.env_id, env_kwargs, job.agent, job.agent_kwargs, episodes,
                            folder / "uncalibrated", progress=settings.progress)
            row["uncalibrated"] = run_evaluation(spec)["summary"]
            if settings.calibrate:
                calibrated_kwargs = {"agent": job.agent, "agent_kwargs": job.agent_kwargs,
                                     "matrix": row["axis"]["matrix"]}
                spec = EvalSpec(job.env_id, env_kwargs, "calibrated", calibrated_kwargs, episodes,
                                folder / "calibrated", progress=settings.progress)
                row["calibrated"] = run_evaluation(spec)["summary"]
        rows.append(row)
    return rows
