"""The gripper-reading diagnostic: which goal each oracle phase works toward, what it scores at each step, and a real run."""

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


def test_steps_are_opens_closes_releases_or_holds_of_the_measured_closedness():
    assert gr.step_kind(0.0, 0.18) == "close"
    assert gr.step_kind(0.18, -0.16) == "release"
    assert gr.step_kind(0.18, 0.01) == "hold"
    assert gr.step_kind(0.0, 0.05) == "open"  # an open hand staying open


def test_the_other_action_differs_from_the_true_one_only_in_the_gripper_or_the_x_move():
    state = np.array([0.5, 0.0, 0.2, np.pi, 0.0, 0.3, 0.2], np.float32)
    following = state + np.array([0.01, -0.02, 0.0, 0.0, 0.0, 0.05, 0.0], np.float32)
    true, held_open, moved = gr.scored_actions(state, following, "hold")
    np.testing.assert_allclose(true, layout.action_between(state, following))
    assert held_open[layout.GRIPPER] == pytest.approx(-0.2) and np.allclose(held_open[:6], true[:6])
    assert moved[0] == pytest.approx(true[0] + gr.OFFSET) and np.allclose(moved[1:], true[1:])
    assert gr.scored_actions(state, following, "close")[1][layout.GRIPPER] == 0.0
    opened = state.copy()
    opened[layout.GRIPPER] = 0.02
    assert gr.scored_actions(opened, opened, "open")[1][layout.GRIPPER] == pytest.approx(0.98)  # an empty full close


@pytest.fixture(scope="module")
def pick_place_runs(tmp_path_factory):
    """The same pick-and-place episode scored from the model's predictions and from rendered frames."""
    checkpoint = write_random_world_model(tmp_path_factory.mktemp("model"), depth=1)
    agent = make_agent("vjepa_ac", checkpoint=checkpoint, device="cpu")
    env = make_env(gr.TASKS["pick_place"], object="box", image_size=64)
    try:
        return {rendered: gr.gripper_reading(agent, env, "pick_place", [3], rendered=rendered)
                for rendered in (False, True)}  # fmt: skip
    finally:
        env.close()


def test_a_pick_and_place_run_scores_the_oracles_close_holds_and_release(pick_place_runs):
    report = pick_place_runs[False]
    opened, close, hold, release = (report[kind] for kind in gr.KINDS)
    assert close["steps"] == 1 and release["steps"] == 1  # one grasp and one release per episode
    assert opened["steps"] >= 3 and abs(opened["mean_closedness_change"]) < gr.EVENT  # hover and descend
    assert hold["steps"] >= 5  # lift, carry and lower hold the box
    assert close["mean_closedness_change"] > gr.EVENT and release["mean_closedness_change"] < -gr.EVENT
    assert abs(hold["mean_closedness_change"]) < gr.EVENT
    for kind in (opened, close, hold, release):
        assert 0 <= kind["read"] <= kind["steps"]
        assert np.isfinite(kind["mean_margin"]) and kind["mean_margin_1cm"] != kind["mean_margin"]


def test_rendered_options_leave_the_episode_as_it_was(pick_place_runs):
    predicted, rendered = pick_place_runs[False], pick_place_runs[True]
    for kind in gr.KINDS:  # the probes restore the simulator: the oracle's episode is the same step for step
        assert rendered[kind]["steps"] == predicted[kind]["steps"]
        assert rendered[kind]["mean_closedness_change"] == predicted[kind]["mean_closedness_change"]
    assert rendered["hold"]["mean_margin"] != predicted["hold"]["mean_margin"]
    assert rendered["open"]["mean_margin_1cm"] > 0  # a real frame 1 cm off the oracle's is farther from the goal


def test_rendered_options_change_only_the_gripper_command_or_the_x_move():
    action = np.array([0.01, -0.02, -0.03, 0.0, 0.0, 0.05, 0.0])
    true, other, moved = gr.rendered_options(action, "open")
    np.testing.assert_array_equal(true, action)
    assert other[layout.GRIPPER] == 1.0 and np.array_equal(other[:6], action[:6])
    assert moved[0] == pytest.approx(action[0] + gr.OFFSET)
    assert gr.rendered_options(action, "hold")[1][layout.GRIPPER] == -1.0
    assert gr.rendered_options(np.r_[action[:6], 1.0], "close")[1][layout.GRIPPER] == 0.0


def test_the_command_names_a_bad_gripper_without_a_traceback(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        gr.main([write_random_world_model(tmp_path, depth=1), "--gripper", "robotiq_3f"])
    assert exit_info.value.code == 2 and "robotiq_3f" in capsys.readouterr().err
