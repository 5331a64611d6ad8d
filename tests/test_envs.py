"""Spec, controller, determinism, camera, goal, privileged-API, vector-env and video tests for vjepa_bench.envs.

Images are kept small (32-64 px) so the whole file runs in about a minute on 2 cores.
"""

from __future__ import annotations

import inspect
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
import vjepa_bench.envs as envs
from vjepa_bench.envs import base, camera, grasp, pick_place, reach, reach_with_object
from vjepa_bench.envs.camera import CameraPose, CameraRandomization

from vjepa_bench import layout

SMALL = 32


def make(env_id: str, **kwargs) -> gym.Env:
    kwargs.setdefault("image_size", SMALL)
    if env_id in envs.OBJECT_TASKS:
        kwargs.setdefault("object", "box")
    return gym.make(env_id, **kwargs)


# ------------------------------------------------------------------------------------------------------ registry
def test_ids_registered_with_documented_episode_lengths():
    assert set(envs.ENV_IDS) <= set(gym.registry)
    for env_id, cls in envs.ENV_CLASSES.items():
        assert gym.spec(env_id).max_episode_steps == cls.max_episode_steps
        match = re.search(r"[Tt]runcated after (\d+) steps", cls.__doc__)
        assert match and int(match.group(1)) == cls.max_episode_steps, env_id
    assert envs.FrankaPickPlaceEnv.max_episode_steps == 18


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    env = make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from the checker either
        check_env(env.unwrapped, skip_render_check=False)
    env.close()


def test_docstring_specs_match_code():
    for cls in envs.ENV_CLASSES.values():
        doc = cls.__doc__
        for section in ("## Description", "## Action Space", "## Observation Space", "## Rewards",
                        "## Starting State", "## Episode End", "## Arguments", "## Version History"):
            assert section in doc, (cls.__name__, section)
        call = re.search(r'gym\.make\("[^"]+", ([^`]*)\)``', doc, re.S).group(1)
        documented = dict(re.findall(r"(\w+)=([^,\s]+)", call))
        signature = inspect.signature(base.FrankaEnv.__init__).parameters
        for name, text in documented.items():
            if name == "object":
                assert cls.uses_object and text == '"box"'
                continue
            assert repr(signature[name].default).replace("'", '"') == text, (cls.__name__, name)
        assert ("object" in documented) == cls.uses_object
        assert ("pregrasp_goal" in documented) == (cls.pregrasp_schedule is not None), cls
        optional = ({"object"} if not cls.uses_object else set()) | (
            {"pregrasp_goal"} if cls.pregrasp_schedule is None else set())
        assert set(documented) | {"self"} >= set(signature) - optional, cls
    assert "| 0.075" in reach.FrankaReachEnv.__doc__ and layout.MAX_POSITION_DELTA == 0.075
    assert "| 0.25" in reach.FrankaReachEnv.__doc__ and layout.MAX_ROTATION_DELTA == 0.25
    assert "within 4 cm" in reach.FrankaReachEnv.__doc__ and reach.SUCCESS_DISTANCE == 0.04
    assert "at least 5 cm" in grasp.FrankaGraspEnv.__doc__ and grasp.LIFT_SUCCESS == 0.05
    assert "within 5 cm" in pick_place.FrankaPickPlaceEnv.__doc__ and pick_place.PLACE_SUCCESS == 0.05
    assert "within 4 cm" in reach_with_object.FrankaReachWithObjectEnv.__doc__
    assert reach_with_object.SUCCESS_DISTANCE == 0.04
    assert "(4 steps)" in pick_place.FrankaPickPlaceEnv.__doc__ and pick_place.SCHEDULE == (4, 10, 4)
    assert "stands (8 steps)" in grasp.FrankaGraspEnv.__doc__ and "10 cm (22 steps)" in grasp.FrankaGraspEnv.__doc__
    assert grasp.SCHEDULE == (8, 22) and grasp.GOAL_LIFT == 0.1
    assert "(6 steps), then the grasp (3) and the lift (21)" in grasp.FrankaGraspEnv.__doc__
    assert grasp.PREGRASP_SCHEDULE == (6, 3, 21) and pick_place.PREGRASP_SCHEDULE == (2, 2, 10, 4)
    assert "first\n    (2 steps), then grasped (2), near the target (10) and placed (4)" in pick_place.FrankaPickPlaceEnv.__doc__
    pose = CameraPose()
    text = camera.__doc__
    assert f"azimuth {pose.azimuth_deg:g} deg" in text and f"elevation {pose.elevation_deg:g} deg" in text
    assert f"distance {pose.distance:g} m" in text and f"fovy {pose.fovy_deg:g} deg" in text
    assert "look-at\n(" + ", ".join(f"{v:g}" if v else "0.0" for v in pose.lookat) + ")" in text


def test_bad_options_raise():
    with pytest.raises(ValueError, match="object"):
        make(envs.ENV_IDS[1], object="mug")
    with pytest.raises(TypeError, match="no object"):
        gym.make(envs.ENV_IDS[0], object="box")
    with pytest.raises(TypeError, match="unknown camera"):
        make(envs.ENV_IDS[0], camera={"azimuth": 3.0})
    with pytest.raises(ValueError, match="reset options"):
        make(envs.ENV_IDS[0]).reset(seed=0, options={"camara": {}})
    with pytest.raises(ValueError, match="render_mode"):
        envs.FrankaReachEnv(render_mode="human")


# ------------------------------------------------------------------------------------------------ observations
def test_observation_and_goal_contract():
    env = make("vjepa_bench/FrankaPickPlace-v1", object="cup", image_size=48)
    obs, info = env.reset(seed=3)
    assert obs["image"].dtype == np.uint8 and obs["image"].shape == (48, 48, 3)
    assert obs["state"].dtype == np.float32 and obs["state"].shape == (7,)
    goal = info["goal"]
    assert goal["images"].shape == (3, 48, 48, 3) and goal["images"].dtype == np.uint8
    assert goal["states"].shape == (3, 7) and goal["states"].dtype == np.float32
    assert goal["steps"] == [4, 10, 4]
    assert goal["states"][0, layout.GRIPPER][0] > 0.1 and goal["states"][2, layout.GRIPPER][0] < 0.05
    for key in ("success", "is_success", "distance", "is_grasped", "is_placed", "subgoal", "camera"):
        assert key in info
    # Goals are rendered without disturbing the start state: a second reset gives the same observation.
    obs2, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs["image"], obs2["image"])
    env.close()


def test_single_goal_tasks_and_goal_state_is_reachable():
    env = make("vjepa_bench/FrankaReach-v1")
    obs, info = env.reset(seed=1)
    assert info["goal"]["steps"] == [30] and info["goal"]["images"].shape[0] == 1
    goal_state = info["goal"]["states"][0]
    np.testing.assert_allclose(goal_state[layout.POSITION], env.unwrapped.goal_position, atol=2e-3)
    assert not np.array_equal(obs["image"], info["goal"]["images"][0])
    env.close()


def test_invalid_actions_raise_and_large_actions_are_clipped():
    env = make("vjepa_bench/FrankaReach-v1")
    env.reset(seed=0)
    for bad in (np.full(7, np.nan), np.array([np.inf, 0, 0, 0, 0, 0, 0]), np.zeros(6), np.zeros((1, 7))):
        with pytest.raises(ValueError):
            env.step(bad)
    big = np.array([1.0, -1.0, 1.0, 2.0, -2.0, 2.0, 5.0], np.float32)
    obs_big, *_ = env.step(big)
    env.reset(seed=0)
    obs_clipped, *_ = env.step(layout.clip_action(big))
    np.testing.assert_array_equal(obs_big["state"], obs_clipped["state"])
    env.close()


def test_controller_tracks_a_full_step():
    env = make("vjepa_bench/FrankaReach-v1").unwrapped
    env.reset(seed=0)
    for axis in range(3):
        for sign in (1.0, -1.0):
            action = np.zeros(7, np.float32)
            action[axis] = sign * layout.MAX_POSITION_DELTA
            before = env.robot_state()
            after, *_ = env.step(action)
            moved = after["state"][:3] - before[:3]
            assert abs(moved[axis] - action[axis]) < 0.01, (axis, sign, moved)
            assert np.linalg.norm(after["state"][:3] - env._target_pos) < 0.005
    before = env.robot_state()
    after, *_ = env.step(np.array([0, 0, 0, 0, 0, 0.2, 0], np.float32))
    achieved = layout.action_between(before, after["state"])[layout.ROTATION]
    np.testing.assert_allclose(achieved, [0, 0, 0.2], atol=0.02)
    env.close()


def test_gripper_closes_and_opens():
    env = make("vjepa_bench/FrankaReach-v1").unwrapped
    obs, _ = env.reset(seed=0)
    assert obs["state"][6] < 0.02
    obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, 1], np.float32))
    assert obs["state"][6] > 0.9
    obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, -1], np.float32))
    assert obs["state"][6] < 0.1
    env.close()


# -------------------------------------------------------------------------------------------------- determinism
def _episode(env, seed, steps=4):
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    images, states = [obs["image"], info["goal"]["images"]], [obs["state"]]
    for _ in range(steps):
        obs, *_ = env.step(rng.uniform(layout.ACTION_LOW, layout.ACTION_HIGH).astype(np.float32))
        images.append(obs["image"])
        states.append(obs["state"])
    return images, states


def test_same_seed_same_episode_bit_for_bit():
    env_id = "vjepa_bench/FrankaGrasp-v1"
    kwargs = {"object": "cup", "camera_randomization": {"azimuth_deg": (30, 100), "distance": (1.2, 1.6)}}
    env_a, env_b = make(env_id, **kwargs), make(env_id, **kwargs)
    first = _episode(env_a, 11)
    _episode(env_a, 12)  # another episode in between must not leak into the next one
    again = _episode(env_a, 11)
    fresh = _episode(env_b, 11)
    for other in (again, fresh):
        for x, y in zip(first[0] + first[1], other[0] + other[1]):
            np.testing.assert_array_equal(x, y)
    env_a.close()
    env_b.close()


# ------------------------------------------------------------------------------------------------------- camera
def test_camera_convention():
    behind = CameraPose(azimuth_deg=0.0, elevation_deg=0.0, distance=1.0, lookat=(0.5, 0, 0))
    np.testing.assert_allclose(behind.position(), [-0.5, 0, 0], atol=1e-9)
    left = CameraPose(azimuth_deg=90.0, elevation_deg=0.0, distance=1.0, lookat=(0.5, 0, 0))
    np.testing.assert_allclose(left.position(), [0.5, 1.0, 0], atol=1e-9)
    above = CameraPose(azimuth_deg=0.0, elevation_deg=60.0, distance=2.0, lookat=(0, 0, 0))
    assert above.position()[2] == pytest.approx(2.0 * np.sin(np.radians(60)))
    # The camera's -z axis points at the look-at point.
    import mujoco

    for pose in (CameraPose(), CameraPose(azimuth_deg=-40, elevation_deg=50, roll_deg=20)):
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, pose.quaternion())
        forward = -mat.reshape(3, 3)[:, 2]
        direction = np.asarray(pose.lookat) - pose.position()
        np.testing.assert_allclose(forward, direction / np.linalg.norm(direction), atol=1e-9)


def test_camera_options_change_the_image():
    env = make("vjepa_bench/FrankaReach-v1", image_size=48)
    default, _ = env.reset(seed=0)
    moved, info = env.reset(seed=0, options={"camera": {"azimuth_deg": 120.0, "roll_deg": 10.0}})
    assert info["camera"]["azimuth_deg"] == 120.0
    assert np.abs(default["image"].astype(int) - moved["image"]).mean() > 5
    env.close()
    env = make("vjepa_bench/FrankaReach-v1", image_size=48, camera=CameraPose(azimuth_deg=20.0, fovy_deg=60.0))
    obs, info = env.reset(seed=0)
    assert info["camera"]["azimuth_deg"] == 20.0 and info["camera"]["fovy_deg"] == 60.0
    assert not np.array_equal(obs["image"], default["image"])
    env.close()


def test_camera_randomization_samples_differ_and_stay_in_range():
    ranges = {"azimuth_deg": (20, 110), "elevation_deg": (15, 45), "distance": (1.2, 1.7), "roll_deg": (-5, 5),
              "fovy_deg": (40, 55), "lookat_offset": (0.05, 0.05, 0.02)}
    env = make("vjepa_bench/FrankaReach-v1", image_size=48, camera_randomization=ranges)
    poses, images = [], []
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        poses.append(info["camera"])
        images.append(obs["image"])
    for pose in poses:
        for name, (low, high) in ((k, v) for k, v in ranges.items() if k != "lookat_offset"):
            assert low <= pose[name] <= high
    assert len({p["azimuth_deg"] for p in poses}) == 3
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])
    env.close()
    sample = CameraRandomization(azimuth_deg=(0, 10)).sample(CameraPose(), np.random.default_rng(0))
    assert sample.elevation_deg == CameraPose().elevation_deg and 0 <= sample.azimuth_deg <= 10


# ----------------------------------------------------------------------------------------------- privileged API
def test_sim_state_roundtrip_and_rollout_distance_matches_step():
    env = make("vjepa_bench/FrankaPickPlace-v1").unwrapped
    env.reset(seed=4)
    snapshot = env.get_sim_state()
    rng = np.random.default_rng(0)
    actions = rng.uniform(layout.ACTION_LOW, layout.ACTION_HIGH, size=(3, 2, 7)).astype(np.float32)
    distances = env.rollout_distance(actions, nthread=2)
    assert distances.shape == (3,)
    after = env.get_sim_state()
    np.testing.assert_array_equal(snapshot["physics"], after["physics"])  # the env did not move
    for s in range(3):
        env.set_sim_state(snapshot)
        for h in range(2):
            env.step(actions[s, h])
        # rollout uses the sub-goal active when it was called (step 0); compare with the same sub-goal
        obj = env.object_position()
        expected = np.linalg.norm(obj - env.subgoal_objects[0])
        assert distances[s] == pytest.approx(expected, abs=1e-6)
    env.set_sim_state(snapshot)
    assert env.task_distance() == pytest.approx(np.linalg.norm(env.object_position() - env.subgoal_objects[0]))
    with pytest.raises(ValueError):
        env.rollout_distance(np.zeros((2, 7)))


# ----------------------------------------------------------------------------------------------- vector envs
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_env(mode):
    kwargs = {"vector_kwargs": {"context": "spawn"}} if mode == "async" else {}
    vec = gym.make_vec("vjepa_bench/FrankaGrasp-v1", num_envs=2, vectorization_mode=mode, image_size=SMALL,
                       object="box", **kwargs)
    obs, info = vec.reset(seed=[5, 6])
    assert obs["image"].shape == (2, SMALL, SMALL, 3) and obs["state"].shape == (2, 7)
    assert info["goal"]["images"].shape[:2] == (2, 2)  # the grasp, then the lift
    obs, reward, terminated, truncated, info = vec.step(np.zeros((2, 7), np.float32))
    assert reward.shape == (2,) and obs["image"].dtype == np.uint8
    vec.close()


# ------------------------------------------------------------------------------------------------------ video
def test_video_written_and_read_back(tmp_path):
    import imageio.v2 as imageio
    from vjepa_bench.envs.video import EpisodeRecorder

    env = make("vjepa_bench/FrankaPickPlace-v1", image_size=64)
    obs, info = env.reset(seed=0)
    recorder = EpisodeRecorder(with_goal=True)
    recorder.add(obs, info)
    for _ in range(5):
        obs, _, _, _, info = env.step(env.action_space.sample())
        recorder.add(obs, info)
    path = recorder.save(tmp_path / "episode.mp4")
    frames = imageio.mimread(path)
    assert len(frames) == 6 and frames[0].shape == (64, 128, 3)
    assert np.abs(frames[0][:, :64].astype(int) - recorder.frames[0][:, :64]).mean() < 12
    env.close()


# ---------------------------------------------------------------------------------------------------- rendering
def test_gl_backend_failure_is_a_clear_error(monkeypatch):
    from vjepa_bench.envs import rendering

    monkeypatch.setattr(rendering, "_chosen", None)
    monkeypatch.setattr(rendering, "BACKENDS", ("no-such-backend",))
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    with pytest.raises(RuntimeError, match="no headless MuJoCo GL backend"):
        rendering.select_gl_backend()


def test_render_mode_returns_the_observation():
    env = make("vjepa_bench/FrankaReach-v1", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), obs["image"])
    env.close()
