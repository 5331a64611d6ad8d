"""The planning agents end to end on real envs: vjepa_ac with a saved checkpoint, sim_image_cem and sim_cem."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
import vjepa_bench.envs  # noqa: F401
from vjepa_bench.agents import make_agent

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.runner import run_episode
from vjepa_bench.models.checkpoints import save_checkpoint
from vjepa_bench.models.encoder import build_encoder
from world_models import write_random_world_model

SMALL_PLANNER = {"samples": 16, "iterations": 2, "topk": 4}


@pytest.fixture(scope="module")
def world_model(tmp_path_factory) -> str:
    return write_random_world_model(tmp_path_factory.mktemp("ckpt"), depth=2)


def test_vjepa_ac_plans_every_step_within_bounds(world_model):
    env = gym.make("vjepa_bench/FrankaReach-v1", image_size=64, max_episode_steps=3)
    agent = make_agent("vjepa_ac", checkpoint=world_model, device="cpu", planner=SMALL_PLANNER)
    record = run_episode(env, agent, seed=0)
    env.close()
    assert record["steps"] == 3
    assert len(record["energies"]) == 3 and all(np.isfinite(record["energies"]))
    assert all(t > 0 for t in record["planning_time_s"])
    info = agent.step_info()
    assert info["evaluations"] == SMALL_PLANNER["samples"] * SMALL_PLANNER["iterations"] + 1
    assert agent.checkpoint_sha256 and len(agent.checkpoint_sha256) == 64


def test_vjepa_ac_switches_goals_on_the_pick_and_place_schedule(world_model):
    env = gym.make("vjepa_bench/FrankaPickPlace-v1", image_size=64, shadows=False)
    obs, info = env.reset(seed=0)
    agent = make_agent("vjepa_ac", checkpoint=world_model, device="cpu",
                       planner={**SMALL_PLANNER, "samples": 8, "iterations": 1})
    agent.reset(obs, info, env.unwrapped)
    assert agent.goal_features.shape[0] == 3
    schedule = []
    for _ in range(18):  # the goal in use at each decision, as act() advances it
        schedule.append(agent.current_goal())
        obs = env.step(agent.act(obs))[0]
    env.close()
    assert schedule == [0] * 4 + [1] * 10 + [2] * 4


def test_vjepa_ac_rejects_a_mismatched_image_size(world_model):
    with pytest.raises(UsageError, match="tokens per frame"):
        make_agent("vjepa_ac", checkpoint=world_model, image_size=128)


def test_sim_image_cem_scores_the_frame_step_would_observe(world_model):
    env = gym.make("vjepa_bench/FrankaGrasp-v1", image_size=64, shadows=False)
    agent = make_agent("sim_image_cem", checkpoint=world_model, device="cpu", planner=SMALL_PLANNER)
    obs, info = env.reset(seed=3)
    agent.reset(obs, info, env.unwrapped)
    goal = agent.goal_features[agent.current_goal()]
    actions = np.zeros((3, 1, 7), np.float32)
    actions[1, 0, 0], actions[2, 0, 2], actions[2, 0, 6] = 0.05, -0.06, 1.0  # still; forward; down and close
    energies = agent.decision_energy(obs, goal)(torch.from_numpy(actions))
    stepped = []
    for action in actions[:, 0]:
        env.reset(seed=3)
        frame = env.step(action)[0]["image"]
        stepped.append(float((agent.encode(frame[None])[0] - goal).abs().mean()))
    env.close()
    assert energies.shape == (3,) and len(set(stepped)) == 3
    np.testing.assert_allclose(energies.numpy(), stepped, rtol=0, atol=1e-6)


def test_sim_image_cem_plans_with_an_encoder_alone(tmp_path):
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "encoder.pt", encoder=build_encoder("vit_tiny", img_size=64, depth=2))
    with pytest.raises(UsageError, match="must hold an encoder and an AC predictor"):
        make_agent("vjepa_ac", checkpoint=str(path))
    env = gym.make("vjepa_bench/FrankaReach-v1", image_size=64, shadows=False, max_episode_steps=2)
    agent = make_agent("sim_image_cem", checkpoint=str(path), device="cpu", planner=SMALL_PLANNER)
    record = run_episode(env, agent, seed=0)
    env.close()
    assert agent.predictor is None and record["steps"] == 2 and all(np.isfinite(record["energies"]))
    with pytest.raises(TypeError, match="simulated vjepa_bench env"):
        agent.reset({}, {"goal": {"images": [], "steps": []}}, object())


def test_vjepa_ac_names_a_missing_checkpoint(tmp_path):
    with pytest.raises(UsageError, match="nothing_here.pt"):
        make_agent("vjepa_ac", checkpoint=str(tmp_path / "nothing_here.pt"))


def test_sim_cem_reaches_the_goal():
    env = gym.make("vjepa_bench/FrankaReach-v1", image_size=64)
    agent = make_agent("sim_cem")
    record = run_episode(env, agent, seed=3)
    env.close()
    assert record["success"], record
    assert record["final_distance"] < 0.04
    assert agent.step_info()["evaluations"] == 64 * 3 + 1


def test_planner_typos_and_bad_values_name_the_field():
    with pytest.raises(UsageError, match="planner.sample is not a planner setting"):
        make_agent("sim_cem", planner={"sample": 10})
    assert make_agent("sim_cem", planner={"samples": 32, "topk": 4}).planner.config.samples == 32
    with pytest.raises(UsageError, match="planner.samples"):
        make_agent("sim_cem", planner={"samples": 0})


def test_unknown_agent_settings_are_usage_errors():
    with pytest.raises(UsageError, match="agent 'sim_cem'.*checkpoint"):
        make_agent("sim_cem", checkpoint="x")
    with pytest.raises(UsageError, match="unknown agent 'nope'"):
        make_agent("nope")


def test_planner_defaults_are_the_cli_default_and_presets_come_from_configs():
    from hydra import compose, initialize_config_module

    from vjepa_bench.planning import PRESETS, PlannerConfig, planner_preset
    from vjepa_bench.schema import parse

    with initialize_config_module("vjepa_bench.configs", version_base=None):
        default = parse(compose("eval"))
        paper = parse(compose("eval", ["planner=paper"]))
        sim = parse(compose("eval", ["agent=sim_cem"]))
    assert default.agent.kwargs.planner == PlannerConfig() == planner_preset("small")
    assert paper.agent.kwargs.planner == PRESETS["paper"]
    assert (PRESETS["paper"].samples, PRESETS["paper"].iterations) == (800, 10)
    assert sim.agent.kwargs.planner == PRESETS["sim"] != PlannerConfig()
    with pytest.raises(UsageError, match="planner preset 'nope' does not exist"):
        planner_preset("nope")
