"""Camera sweep: the axis test recovers a known rotation, calibration removes it, the sweep resumes, bad input."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from vjepa_bench.agents import make_agent
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.calibration import CalibratedAgent, analyse_axes
from vjepa_bench.evaluation.sweep import (
    AxisTrajectory,
    SweepJob,
    angle_dir,
    axis_test,
    random_xy_moves,
    run_sweep,
)
from vjepa_bench.evaluation.inverse_dynamics import world_model_inference
from vjepa_bench.schema.sweep import SweepSettings
from vjepa_bench.evaluation.sweep_report import write_report

NOISE_M = 0.002


def rotation(degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def synthetic_trajectory(steps: int = 200, seed: int = 0) -> AxisTrajectory:
    """Positions from the sweep's own random moves; each frame is unique noise the synthetic model looks up."""
    moves = random_xy_moves(steps, 0.05, 0.15, seed)
    states = np.zeros((steps + 1, 7), np.float32)
    states[1:, :2] = np.cumsum(moves, axis=0)
    frames = np.random.default_rng(seed).integers(0, 256, (steps + 1, 4, 4, 3), dtype=np.uint8)
    actions = np.zeros((steps, 7), np.float32)
    actions[:, :2] = moves
    return AxisTrajectory(frames, states, actions)


def synthetic_world_model(trajectory: AxisTrajectory, theta_deg: float, scale: float, seed: int):
    """Sees the true move between two frames and reports it rotated by theta, scaled, with noise added first."""
    index = {frame.tobytes(): i for i, frame in enumerate(trajectory.frames)}
    rng = np.random.default_rng(seed)
    turn = scale * rotation(theta_deg)

    def infer(image, state, next_image):
        true = trajectory.states[index[next_image.tobytes()], :2] - trajectory.states[index[image.tobytes()], :2]
        return turn @ (true + rng.normal(0.0, NOISE_M, 2))

    return infer


@pytest.mark.parametrize("camera_deg", [35.0, 65.0, 125.0, 180.0])
def test_axis_test_recovers_rotation_and_scale_and_calibration_removes_the_error(camera_deg):
    theta = 0.5 * (camera_deg - 65.0)  # a synthetic model whose axes turn with the camera
    scale = 0.8
    trajectory = synthetic_trajectory(seed=int(camera_deg))
    inferred = axis_test(synthetic_world_model(trajectory, theta, scale, seed=1), trajectory)
    fit = analyse_axes(inferred, trajectory.true_moves)
    assert abs(fit.rotation_deg - (-theta)) < 0.5  # W* turns the inferred moves back by theta
    assert all(abs(s * scale - 1.0) < 0.02 for s in fit.singular_values)
    assert fit.condition_number < 1.05
    noise_cm = 100 * NOISE_M * np.sqrt(2 / np.pi)  # mean |N(0, sigma)|
    assert abs(fit.error_after_cm - noise_cm) < 0.15 * noise_cm
    if theta:
        assert fit.error_before_cm > 3 * noise_cm


def test_calibrated_agent_maps_only_the_xy_move():
    class Fixed:
        name = "fixed"

        def reset(self, observation, info, env):
            pass

        def act(self, observation):
            return np.array([0.05, 0.0, 0.01, 0.1, 0.0, 0.0, 0.5], np.float32)

        def step_info(self):
            return {"energy": 1.0}

    agent = CalibratedAgent(Fixed(), rotation(90.0))
    action = agent.act({})
    np.testing.assert_allclose(action, [0.0, 0.05, 0.01, 0.1, 0.0, 0.0, 0.5], atol=1e-7)
    assert agent.step_info() == {"energy": 1.0} and agent.name == "calibrated_fixed"
    with pytest.raises(ValueError, match="2x2"):
        CalibratedAgent(Fixed(), [[1.0, 0.0]])


def test_sweep_on_the_real_envs_writes_every_output_and_resumes(tmp_path):
    calls = []

    def infer(image, state, next_image):
        calls.append(1)
        return rotation(20.0) @ np.array([0.03, 0.01]) + 0.01 * np.random.default_rng(len(calls)).normal(size=2)

    settings = SweepSettings(angles=(35, 95), axis_steps=4, episodes=1, calibrate=True, progress=False)
    task = {"image_size": 32, "object": "box"}  # the axis test runs in the reach scene, without the object
    job = SweepJob(settings, "random", {"seed": 0}, "vjepa_bench/FrankaGrasp-v1", task, tmp_path)
    rows = run_sweep(job, infer)
    assert len(calls) == 8
    write_report(rows, tmp_path, {"agent": "random", "env_id": job.env_id, "settings": {}})
    for name in ("sweep.json", "sweep.csv", "summary.md", "rotation.png", "success.png", "frames.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    folder = angle_dir(tmp_path, 95.0)
    pairs = np.loadtxt(folder / "axis_pairs.csv", delimiter=",", skiprows=1)
    assert pairs.shape == (4, 5) and np.abs(pairs[:, 3:]).max() > 0.01  # the arm really moved
    calibrated = json.loads((folder / "calibrated" / "results.json").read_text())
    assert calibrated["agent"]["config"]["matrix"] == rows[1]["axis"]["matrix"]
    assert json.loads((folder / "uncalibrated" / "results.json").read_text())["summary"]["n"] == 1
    assert run_sweep(job, infer) == rows and len(calls) == 8  # resumed: nothing redone
    longer = dataclasses.replace(job, settings=SweepSettings(angles=(35,), axis_steps=5, episodes=0))
    with pytest.raises(UsageError, match="axis_steps"):
        run_sweep(longer, infer)


@pytest.mark.parametrize("angles", [[], ["a"], "35", [float("nan")]])
def test_bad_angle_lists_are_one_line_errors(angles):
    with pytest.raises(UsageError, match=r"^angles=") as err:
        SweepSettings(angles=angles)
    assert "\n" not in str(err.value)


def test_protocol_1_needs_a_world_model_agent():
    with pytest.raises(UsageError, match="agent='random' has no world model"):
        world_model_inference(make_agent("random"))


def test_a_checkpoint_that_does_not_load_names_the_field(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    job = SweepJob(SweepSettings(angles=(65,)), "vjepa_ac", {"checkpoint": str(broken)},
                   "vjepa_bench/FrankaReach-v1", {}, tmp_path / "out")
    with pytest.raises(UsageError, match="agent.kwargs.checkpoint="):
        run_sweep(job)


def test_cli_reports_an_empty_angle_list_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "vjepa_bench.cli", "sweep-camera", "angles=[]",
                           f"output_dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "angles=[] is empty" in done.stderr
