"""The planning agents end to end on real envs: vjepa_ac with a saved checkpoint, and sim_cem."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
import vjepa_bench.envs  # noqa: F401
from vjepa_bench.agents import make_agent

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.runner import run_episode
from vjepa_bench.models import build_ac_predictor, build_encoder, save_checkpoint

SMALL_PLANNER = {"samples": 16, "iterations": 2, "topk": 4, "device": "cpu"}


@pytest.fixture(scope="module")
def world_model(tmp_path_factory) -> str:
    torch.manual_seed(0)
    encoder = build_encoder("vit_tiny", img_size=64, depth=2)
    predictor = build_ac_predictor("ac_tiny", embed_dim=encoder.embed_dim, img_size=64, depth=2)
    path = tmp_path_factory.mktemp("ckpt") / "world_model.pt"
    save_checkpoint(path, encoder=encoder, ac_predictor=predictor, meta={"note": "random weights for tests"})
    return str(path)


def test_vjepa_ac_plans_every_step_within_bounds(world_model):
    env = gym.make("vjepa_bench/FrankaReach-v1", image_size=64, max_episode_steps=3)
    agent = make_agent("vjepa_ac", checkpoint=world_model, planner=SMALL_PLANNER)
    record = run_episode(env, agent, seed=0)
    env.close()
    assert record["steps"] == 3
    assert len(record["energies"]) == 3 and all(np.isfinite(record["energies"]))
    assert all(t > 0 for t in record["planning_time_s"])
    info = agent.step_info()
    assert info["evaluations"] == SMALL_PLANNER["samples"] * SMALL_PLANNER["iterations"] + 1
    assert agent.checkpoint_sha256 and len(agent.checkpoint_sha256) == 64


def test_vjepa_ac_switches_goals_on_the_pick_and_place_schedule(world_model):
    env = gym.make("vjepa_bench/FrankaPickPlace-v1", image_size=64)
    obs, info = env.reset(seed=0)
    agent = make_agent("vjepa_ac", checkpoint=world_model, planner=SMALL_PLANNER)
    agent.reset(obs, info, env.unwrapped)
    env.close()
    assert agent.goal_features.shape[0] == 3
    schedule = []
    for step in range(18):
        agent.steps = step
        schedule.append(agent.current_goal())
    assert schedule == [0] * 4 + [1] * 10 + [2] * 4


def test_vjepa_ac_rejects_a_mismatched_image_size(world_model):
    with pytest.raises(UsageError, match="tokens per frame"):
        make_agent("vjepa_ac", checkpoint=world_model, image_size=128)


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


def test_planner_presets_in_configs_equal_the_library_presets():
    from importlib.resources import files

    from omegaconf import OmegaConf

    from vjepa_bench.planning import PRESETS, PlannerConfig

    assert sorted(PRESETS) == sorted(p.name.removesuffix(".yaml") for p in files("vjepa_bench.configs").joinpath(
        "planner").iterdir() if p.name.endswith(".yaml"))
    for name, preset in PRESETS.items():
        text = files("vjepa_bench.configs").joinpath("planner", f"{name}.yaml").read_text()
        values = OmegaConf.to_container(OmegaConf.create(text))
        assert PlannerConfig.from_dict(values) == preset
