"""The gripper-reading diagnostic: which goal each oracle phase works toward, which steps it scores, and a real run."""

from __future__ import annotations

import numpy as np
import pytest

from vjepa_bench import layout
from vjepa_bench.agents import make_agent
from vjepa_bench.envs import make_env
from vjepa_bench.evaluation import gripper_reading as gr
from world_models import write_random_world_model


def test_each_phase_works_toward_the_goal_it_leads_to():
    assert [gr.goal_of_phase("grasp", p) for p in ("hover", "descend", "close", "lift")] == [0, 0, 0, 1]
    phases = ("hover", "descend", "close", "lift", "carry", "lower", "open", "retreat")
    assert [gr.goal_of_phase("pick_place", p) for p in phases] == [0, 0, 0, 1, 1, 2, 2, 2]


def test_steps_are_closes_releases_or_holds_of_the_measured_closedness():
    assert gr.step_kind(0.0, 0.18) == "close"
    assert gr.step_kind(0.18, -0.16) == "release"
    assert gr.step_kind(0.18, 0.01) == "hold"
    assert gr.step_kind(0.0, 0.05) is None  # an open hand staying open is not scored


def test_the_other_action_differs_from_the_true_one_only_in_the_gripper_or_the_x_move():
    state = np.array([0.5, 0.0, 0.2, np.pi, 0.0, 0.3, 0.2], np.float32)
    following = state + np.array([0.01, -0.02, 0.0, 0.0, 0.0, 0.05, 0.0], np.float32)
    true, held_open, moved = gr.scored_actions(state, following, "hold")
    np.testing.assert_allclose(true, layout.action_between(state, following))
    assert held_open[layout.GRIPPER] == pytest.approx(-0.2) and np.allclose(held_open[:6], true[:6])
    assert moved[0] == pytest.approx(true[0] + gr.OFFSET) and np.allclose(moved[1:], true[1:])
    assert gr.scored_actions(state, following, "close")[1][layout.GRIPPER] == 0.0


def test_a_pick_and_place_run_scores_the_oracles_close_holds_and_release(tmp_path):
    agent = make_agent("vjepa_ac", checkpoint=write_random_world_model(tmp_path, depth=1), device="cpu")
    env = make_env(gr.TASKS["pick_place"], object="box", image_size=64)
    try:
        report = gr.gripper_reading(agent, env, "pick_place", [3])
    finally:
        env.close()
    close, hold, release = (report[kind] for kind in gr.KINDS)
    assert close["steps"] == 1 and release["steps"] == 1  # one grasp and one release per episode
    assert hold["steps"] >= 5  # lift, carry and lower hold the box
    assert close["mean_closedness_change"] > gr.EVENT and release["mean_closedness_change"] < -gr.EVENT
    assert abs(hold["mean_closedness_change"]) < gr.EVENT
    for kind in (close, hold, release):
        assert 0 <= kind["read"] <= kind["steps"]
        assert np.isfinite(kind["mean_margin"]) and kind["mean_margin_1cm"] != kind["mean_margin"]


def test_the_command_names_a_bad_gripper_without_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        gr.main([write_random_world_model(tmp_path, depth=1), "--gripper", "robotiq_3f"])
    assert exit_info.value.code == 2 and "robotiq_3f" in capsys.readouterr().err
