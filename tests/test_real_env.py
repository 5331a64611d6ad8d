"""``FrankaRealEnv`` over the MuJoCo sim robot and camera: the sim envs' spaces and info keys, goals, the log."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from PIL import Image

from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.envs import make_env
from vjepa_bench.envs.real import REAL_ENV_ID
from vjepa_bench.envs.real.env import FrankaRealEnv, Operator
from vjepa_bench.envs.real.interface import READY_ROTATION
from vjepa_bench.envs.real.sim_robot import SimCamera, SimRobot
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.command import env_settings
from vjepa_bench.schema import parse


def _mujoco(tmp_path, **robot):
    config = {"name": "mujoco", "interactive": False, "goal": {"positions": [[0.5, 0.1, 0.3]]},
              "log_dir": str(tmp_path / "log"), "episode_steps": 4, **robot}
    return make_env(REAL_ENV_ID, task="vjepa_bench/FrankaReach-v1", robot=config, camera={"name": "sim"},
                    image_size=32)


def test_sim_robot_through_the_real_env_matches_the_sim_contract(tmp_path):
    sim = make_env("vjepa_bench/FrankaReach-v1", image_size=32)
    real = _mujoco(tmp_path)
    assert real.action_space == sim.action_space and real.observation_space == sim.observation_space
    sim_obs, sim_info = sim.reset(seed=0)
    obs, info = real.reset(seed=0)
    assert set(sim_info) <= set(info) and info["goal"]["images"].shape == (1, 32, 32, 3)
    np.testing.assert_allclose(info["goal"]["states"][0, :3], [0.5, 0.1, 0.3], atol=0.006)
    assert obs["image"].shape == sim_obs["image"].shape and real.observation_space.contains(obs)
    for _ in range(4):  # the scripted way to the goal: base-frame steps toward it
        delta = np.clip(info["goal"]["states"][0, :3] - obs["state"][:3], -0.075, 0.075)
        obs, _, terminated, truncated, info = real.step(np.r_[delta, 0, 0, 0, 0].astype(np.float32))
        if terminated or truncated:
            break
    _, _, _, _, sim_step_info = sim.step(np.zeros(7, np.float32))
    assert set(sim_step_info) <= set(info)
    assert terminated and info["success"] and info["outcome"] == "success" and info["distance"] < 0.04
    real.close()
    with TrajectoryReader(tmp_path / "log") as reader:
        stored = reader[0]
        assert stored.success and stored.task == "vjepa_bench/FrankaReach-v1" and len(stored) == len(stored.actions) + 1


def test_goal_files_operator_labels_and_unattended_refusal(tmp_path):
    goal = tmp_path / "goal.png"
    Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(goal)
    answers = iter(["maybe", "y"])
    env = FrankaRealEnv(robot={"name": "mujoco", "goal": {"source": "files", "files": [str(goal)]},
                               "success": "operator", "log_dir": None, "episode_steps": 1},
                        camera={"name": "sim"}, image_size=16, operator=Operator(True, lambda _: next(answers)))
    _, info = env.reset(seed=0)
    assert info["goal"]["images"].shape == (1, 16, 16, 3) and info["goal"]["images"].max() == 200
    *_, terminated, truncated, info = env.step(np.zeros(7, np.float32))
    assert terminated and info["success"]  # labelled by the operator on the second answer
    env.close()
    unattended = FrankaRealEnv(robot={"name": "mujoco", "interactive": False, "log_dir": None},
                               camera={"name": "sim"}, image_size=16)
    with pytest.raises(UsageError, match="needs an operator"):
        unattended.reset(seed=0)
    unattended.close()


def test_eval_config_robot_sim_keeps_the_sim_env_and_other_robots_use_the_real_env():
    with initialize_config_module("vjepa_bench.configs", version_base=None):
        sim = compose("eval")
        real = compose("eval", ["robot=franky", "camera_device=replay", "camera_device.path=x"])
    env_id, kwargs = env_settings(parse(sim))
    assert env_id == "vjepa_bench/FrankaReach-v1" and "robot" not in kwargs
    env_id, kwargs = env_settings(parse(real))
    assert env_id == REAL_ENV_ID and kwargs["robot"]["name"] == "franky" and kwargs["camera"]["path"] == "x"


def test_a_home_the_arm_cannot_reach_is_a_one_line_error():
    """The sim hand turns at most 60 deg from its top-down pose, so Franka's ready orientation (90 deg away) cannot
    be reached: the reset refuses to start instead of running an episode from the wrong pose."""
    adapter = SimRobot(image_size=16, max_steps_per_move=2)
    adapter.ready_rotation = READY_ROTATION
    env = FrankaRealEnv(robot={"name": "mujoco", "interactive": False, "log_dir": None,
                               "goal": {"positions": [[0.5, 0.1, 0.3]]}},
                        camera={"name": "sim"}, image_size=16, robot_adapter=adapter, camera_adapter=SimCamera(adapter))
    with pytest.raises(UsageError) as err:
        env.reset(seed=0)
    env.close()
    message = str(err.value)
    assert message.startswith("robot.home=[0.45, 0.0, 0.35]: the arm stopped ") and "\n" not in message
    assert message.endswith(" deg from the home pose; choose a home the arm can reach")
