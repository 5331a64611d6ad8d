"""The grasp-path diagnostic: real frames of the key grasp configurations and a perfect world model's energy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from vjepa_bench.agents import make_agent
from vjepa_bench.evaluation import grasp_path
from world_models import write_random_world_model


@pytest.fixture(scope="module")
def env():
    env = gym.make("vjepa_bench/FrankaGrasp-v1", object="box", image_size=64, gripper="franka_hand").unwrapped
    yield env
    env.close()


def test_the_configurations_pose_the_hand_and_the_object_as_named(env):
    frames, goal = grasp_path.grasp_path_frames(env, seed=3)
    assert list(frames) == list(grasp_path.CONFIGURATIONS) and goal.shape == (64, 64, 3)
    images = np.stack(list(frames.values())).astype(int)
    assert all(np.abs(images[i] - images[j]).sum() > 0 for i in range(len(images)) for j in range(i))
    assert env.is_grasped()  # the last configuration holds the box between the fingers
    assert env.object_position()[2] == pytest.approx(env.start_object[2] + grasp_path.LIFT, abs=1e-6)


def test_energies_are_the_feature_distance_to_the_goal_image(env, tmp_path):
    agent = make_agent("vjepa_ac", checkpoint=write_random_world_model(tmp_path, depth=1), device="cpu")
    report = grasp_path.grasp_path_energies(agent, env, [3, 4])
    assert [s["seed"] for s in report["per_seed"]] == [3, 4]
    frames, goal = grasp_path.grasp_path_frames(env, seed=4)
    features = agent.encode(np.stack([goal, frames["closed"]]))
    assert report["per_seed"][1]["closed"] == pytest.approx(float((features[1] - features[0]).abs().mean()), abs=1e-4)
    assert all(report["mean"][name] > 0 for name in grasp_path.CONFIGURATIONS)
    assert 0 <= report["seeds_where_the_object_beats_hover_goal"] <= 2
