"""Inverse dynamics read off a world model: transition choice and the report's figures on known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from world_models import write_random_world_model

from vjepa_bench import layout
from vjepa_bench.agents import make_agent
from vjepa_bench.data.store import Trajectory, TrajectoryWriter
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.inverse_dynamics import (
    choose_transitions,
    inverse_dynamics_report,
    main,
    world_model_inference,
)


def _trajectory(seed: int, length: int = 12) -> Trajectory:
    """Random moves; the gripper closes between frames 5 and 6. Frame t's image carries t in its first pixel."""
    rng = np.random.default_rng(seed)
    states = np.zeros((length, 7), np.float32)
    states[:, 3] = np.pi
    states[:, :3] = np.cumsum(rng.uniform(-0.05, 0.05, (length, 3)), axis=0)
    states[6:, 6] = 1.0
    images = np.zeros((length, 4, 4, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(length)
    actions = layout.action_between(states[:-1], states[1:])
    return Trajectory(images=images, states=states, actions=actions, task="synthetic", seed=seed, index=seed)


def test_gripper_events_come_first_and_the_rest_spreads_evenly():
    states = [_trajectory(s).states for s in range(3)]
    chosen = choose_transitions(states, 8)
    assert chosen[:3] == [(0, 5), (1, 5), (2, 5)]  # the three closings
    assert len(chosen) == 8 and len(set(chosen)) == 8
    assert chosen[3] == (0, 0) and chosen[-1] == (2, 10)  # first and last of the others
    assert len(choose_transitions(states, 1000)) == 3 * 11


def test_report_scores_an_oracle_and_a_do_nothing_model():
    trajectories = [_trajectory(s) for s in range(4)]

    def oracle(image, state, next_image):
        tr = next(t for t in trajectories if np.allclose(t.states[image[0, 0, 0]], state))
        action = layout.action_between(state, tr.states[next_image[0, 0, 0]]).astype(np.float64)
        action[6] = np.sign(action[6]) * 0.75 if abs(action[6]) > 0.25 else 0.0  # clipped as the planner would
        return action

    args = (trajectories, [0, 1, 2, 3], ["a", "a", "b", "b"], 40, 0.075, 0.25)
    report = inverse_dynamics_report(oracle, *args)
    assert set(report) == {"a", "b"}
    for figures in report.values():
        assert figures["pairs"] == 22 and figures["gripper_events"] == 2
        assert figures["position_error_cm"] == pytest.approx(0.0, abs=1e-4)
        assert figures["position_correlation"] == pytest.approx(1.0)
        assert figures["gripper_event_accuracy"] == 1.0 and figures["gripper_false_commands"] == 0.0
    idle = inverse_dynamics_report(lambda *_: np.zeros(7), *args)
    for name, figures in idle.items():
        assert figures["position_error_cm"] == pytest.approx(report[name]["zero_action_error_cm"])
        assert figures["position_error_cm"] > 2.0  # random 5 cm moves
        assert figures["gripper_event_accuracy"] == 0.0 and figures["position_correlation"] is None


def test_an_agent_without_a_world_model_is_a_one_line_error():
    with pytest.raises(UsageError, match="agent='random' has no world model, which inferring actions needs"):
        world_model_inference(make_agent("random"))


def test_the_command_reports_every_store_on_its_held_out_trajectories(tmp_path, capsys):
    stores = []
    for name, seeds in (("reach", range(0, 6)), ("grasp", range(6, 12))):
        writer = TrajectoryWriter(tmp_path / name, shard_size=3)
        for seed in seeds:
            tr = _trajectory(seed, length=6)
            tr.images = np.random.default_rng(seed).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
            writer.write(tr)
        stores.append(str(tmp_path / name))
    checkpoint = write_random_world_model(tmp_path, depth=1)
    main([checkpoint, *stores, "--pairs", "3", "--val-fraction", "0.5"])
    out = json.loads(capsys.readouterr().out)
    assert out["held_out_trajectories"] == 6
    assert set(out["stores"]) == {"reach", "grasp"}
    for figures in out["stores"].values():
        assert figures["pairs"] == 3 and np.isfinite(figures["position_error_cm"])
