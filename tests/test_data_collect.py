"""Exploration policies and ``collect``: a tiny stand-in env for the store/resume logic, then the real envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import vjepa_bench.envs  # noqa: F401  (registers the env ids)

from vjepa_bench import layout
from vjepa_bench.collection.collect import collect
from vjepa_bench.collection.policies import RandomPolicy, make_policy
from vjepa_bench.data.store import StoreError, TrajectoryReader
from state_reference import apply_action

FAKE_ID = "vjepa_bench_test/PointMass-v0"
CAMERA = {
    "azimuth_deg": 60.0, "elevation_deg": 30.0, "distance": 1.3, "lookat": [0.5, 0.0, 0.0], "roll_deg": 0.0,
    "fovy_deg": 50.0,
}  # fmt: skip


class PointMassEnv(gym.Env):
    """The env contract in miniature: the state follows the actions, the image encodes the state."""

    def __init__(self, image_size: int = 8):
        self.image_size = image_size
        self.action_space = gym.spaces.Box(layout.ACTION_LOW, layout.ACTION_HIGH, dtype=np.float32)
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (image_size, image_size, 3), dtype=np.uint8),
            "state": gym.spaces.Box(-np.inf, np.inf, (7,), dtype=np.float32),
        })  # fmt: skip

    def _obs(self):
        level = np.uint8(int(255 * np.clip(self.state[0], 0, 1)))
        return {"image": np.full((self.image_size, self.image_size, 3), level, np.uint8), "state": self.state.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = np.zeros(7, np.float32)
        self.state[:3] = self.np_random.uniform(0.3, 0.6, 3)
        camera = dict(CAMERA, azimuth_deg=float(self.np_random.uniform(35, 85)))
        return self._obs(), {"goal": {}, "success": False, "camera": camera, "distance": 1.0}

    def step(self, action):
        self.state = apply_action(self.state, action)
        success = bool(self.state[0] > 0.9)
        return self._obs(), 0.0, success, False, {"success": success, "distance": float(abs(0.9 - self.state[0]))}


UNLIMITED_ID = "vjepa_bench_test/PointMassUnlimited-v0"
if FAKE_ID not in gym.registry:
    gym.register(FAKE_ID, entry_point=PointMassEnv, max_episode_steps=6)
    gym.register(UNLIMITED_ID, entry_point=PointMassEnv)


def fake_observation(rng):
    state = np.concatenate([rng.uniform(0, 1, 6), [0.0]]).astype(np.float32)
    return {"image": np.zeros((8, 8, 3), np.uint8), "state": state}


def test_random_policy_is_bounded_smooth_and_seeded():
    def actions(seed):
        policy = RandomPolicy()
        observation = fake_observation(np.random.default_rng(0))
        policy.reset(observation, {}, None, np.random.default_rng(seed))
        out = []
        for _ in range(40):
            out.append(policy.act(observation))
            observation = {"image": observation["image"], "state": apply_action(observation["state"], out[-1])}
        return np.stack(out)

    a = actions(1)
    assert a.shape == (40, 7) and a.dtype == np.float32
    assert np.all(a >= layout.ACTION_LOW) and np.all(a <= layout.ACTION_HIGH)
    np.testing.assert_array_equal(a, actions(1))
    assert not np.array_equal(a, actions(2))
    steps = np.diff(a[:, layout.POSITION], axis=0)  # AR(1): consecutive deltas are correlated
    assert np.corrcoef(a[:-1, 0], a[1:, 0])[0, 1] > 0.3 and np.abs(steps).mean() < np.abs(a[:, :3]).mean() * 1.5
    assert set(np.unique(np.sign(a[:, layout.GRIPPER]))) - {0.0}  # the gripper is used


def test_make_policy_names_and_errors():
    assert isinstance(make_policy("random", position_std=0.01), RandomPolicy)
    with pytest.raises(KeyError, match="noisy_scripted"):
        make_policy("nope")


def test_collect_writes_and_resumes(tmp_path):
    summary = collect(FAKE_ID, 3, tmp_path, policy="random", seed=10, shard_size=2, progress=False)
    assert (summary.written, summary.skipped) == (3, 0)
    reader = TrajectoryReader(tmp_path)
    assert [t.seed for t in reader] == [10, 11, 12] and [t.index for t in reader] == [0, 1, 2]
    first = reader[0]
    assert first.images.shape == (7, 8, 8, 3) and first.states.shape == (7, 7) and first.actions.shape == (6, 7)
    assert first.task == FAKE_ID and first.attrs["policy"] == "random" and 35 <= first.camera["azimuth_deg"] <= 85
    np.testing.assert_allclose(first.states[1:], apply_action(first.states[:-1], first.actions), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "collect.json", "shard_00000.h5", "shard_00001.h5"]
    reader.close()  # HDF5 will not open a shard for writing while a reader holds it

    again = collect(FAKE_ID, 5, tmp_path, policy="random", seed=10, shard_size=2, progress=False)
    assert (again.written, again.skipped) == (2, 3)
    reloaded = TrajectoryReader(tmp_path)
    assert [t.seed for t in reloaded] == [10, 11, 12, 13, 14]
    np.testing.assert_array_equal(reloaded[0].states, first.states)  # untouched by the resumed run
    reloaded.close()

    # same seed, fresh directory: identical episodes
    twin = collect(FAKE_ID, 1, tmp_path / "twin", policy="random", seed=10, shard_size=2, progress=False)
    assert twin.written == 1
    np.testing.assert_array_equal(TrajectoryReader(tmp_path / "twin")[0].actions, first.actions)

    with pytest.raises(StoreError, match="another base seed"):
        collect(FAKE_ID, 5, tmp_path, policy="random", seed=0, shard_size=2, progress=False)


def test_policy_kwargs_reach_the_policy(tmp_path):
    still = {"position_std": 0.0, "rotation_std": 0.0, "pull": 0.0}
    collect(FAKE_ID, 1, tmp_path, policy="random", policy_kwargs=still, progress=False, max_steps=3)
    trajectory = TrajectoryReader(tmp_path)[0]
    assert len(trajectory.actions) == 3
    np.testing.assert_array_equal(trajectory.actions[:, :6], 0.0)


def test_collect_refuses_an_env_without_step_limit(tmp_path):
    with pytest.raises(ValueError, match="no episode step limit"):
        collect(UNLIMITED_ID, 1, tmp_path, policy="random", progress=False)
    assert collect(UNLIMITED_ID, 1, tmp_path, policy="random", progress=False, max_steps=2).written == 1


@pytest.mark.parametrize("env_id", ["vjepa_bench/FrankaReach-v1", "vjepa_bench/FrankaReachWithObject-v1"])
def test_collect_on_real_env(tmp_path, env_id):
    summary = collect(
        env_id, 2, tmp_path, policy="mix", seed=3, shard_size=10, progress=False, max_steps=4,
        env_kwargs={"image_size": 64, "camera_randomization": {"azimuth_deg": [35.0, 85.0]}},
    )  # fmt: skip
    assert summary.written == 2
    with TrajectoryReader(tmp_path) as reader:
        for trajectory in reader:
            assert trajectory.images.shape[1:] == (64, 64, 3) and len(trajectory.images) == len(trajectory.actions) + 1
            assert 2 <= len(trajectory.actions) <= 4 and trajectory.task == env_id
            assert 35.0 <= trajectory.camera["azimuth_deg"] <= 85.0
            assert trajectory.images.std() > 0  # rendered, not blank


def test_noisy_scripted_grasps_and_carries(tmp_path):
    env_id = "vjepa_bench/FrankaPickPlace-v1"
    summary = collect(
        env_id, 1, tmp_path, policy="noisy_scripted", seed=0, env_kwargs={"image_size": 32}, progress=False
    )
    with TrajectoryReader(tmp_path) as reader:
        trajectory = reader[0]
    assert trajectory.attrs["policy"] == "noisy_scripted"
    assert trajectory.states[:, layout.GRIPPER].max() > 0.2  # the fingers closed on the object
    assert summary.successes == 1


def test_noisy_scripted_releases_what_it_holds_when_asked(tmp_path):
    env = gym.make("vjepa_bench/FrankaGrasp-v1", object="box", image_size=32)
    policy = make_policy("noisy_scripted", release_prob=1.0, segment_prob=0.0)
    observation, info = env.reset(seed=0)
    policy.reset(observation, info, env, np.random.default_rng(0))
    commands = []
    for _ in range(12):
        closed_before = env.unwrapped.target_pose()[2] >= 0.5
        action = policy.act(observation)
        commands.append((closed_before, float(action[layout.GRIPPER])))
        observation, *_ = env.step(action)
    env.close()
    # every step that starts with the gripper closed opens it; the scripted agent then closes it again
    assert any(closed for closed, _ in commands)
    assert all(grip == -1.0 for closed, grip in commands if closed)
    assert any(grip > 0.5 for closed, grip in commands if not closed)
    assert make_policy("mix", release_prob=0.2)._choices["noisy_scripted"].release_prob == 0.2
    with pytest.raises(ValueError, match="release_prob"):
        make_policy("mix", release_prob=1.5)


def test_collect_command_reads_its_config(tmp_path, capsys):
    import dataclasses

    from vjepa_bench.collection.command import main
    from vjepa_bench.errors import UsageError
    from vjepa_bench.schema import CollectConfig, EnvConfig
    from vjepa_bench.schema.env import EnvKwargs

    cfg = CollectConfig(env=EnvConfig(name="fake", id=FAKE_ID, kwargs=EnvKwargs(image_size=4)), episodes=2, seed=5,
                        policy="random", shard_size=10, max_steps=2, progress=False, out_dir=str(tmp_path))
    main(cfg)
    assert "collected 2 episode(s)" in capsys.readouterr().out
    with TrajectoryReader(tmp_path) as reader:
        assert [t.seed for t in reader] == [5, 6] and reader[0].images.shape == (3, 4, 4, 3)
    with pytest.raises(UsageError, match="another base seed"):
        main(dataclasses.replace(cfg, seed=0))
    with pytest.raises(UsageError, match="unknown exploration policy"):
        main(dataclasses.replace(cfg, policy="nope"))
    with pytest.raises(UsageError, match="episodes=-1: must be an integer >= 0"):
        dataclasses.replace(cfg, episodes=-1)


def test_collect_refuses_to_mix_settings_in_one_folder(tmp_path):
    collect(FAKE_ID, 1, tmp_path, policy="random", seed=0, progress=False, env_kwargs={"image_size": 4})
    with pytest.raises(StoreError, match="collected with other env_kwargs"):
        collect(FAKE_ID, 2, tmp_path, policy="random", seed=0, progress=False, env_kwargs={"image_size": 8})
    assert collect(FAKE_ID, 2, tmp_path, policy="random", seed=0, progress=False, env_kwargs={"image_size": 4}).written == 1
