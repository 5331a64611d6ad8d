"""The arm's contact reflex: it measures the net force on the hand, never fires in normal grasps, and stops a hand
that presses on the world before it stores the force that used to throw objects off the table."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import vjepa_bench.envs  # noqa: F401 - registers the envs
from vjepa_bench.agents import make_agent
from vjepa_bench.envs import scene
from vjepa_bench.envs.reflex import REFLEX_FORCE


def make(env_id: str = "vjepa_bench/FrankaGrasp-v1", **kwargs):
    return gym.make(env_id, image_size=64, **kwargs).unwrapped


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
def test_a_held_box_weighs_its_weight_on_the_hand(gripper):
    env = make(object="box", gripper=gripper)
    agent = make_agent("scripted")
    observation, info = env.reset(seed=0)
    agent.reset(observation, info, env)
    done = False
    while not done:
        observation, _, terminated, truncated, info = env.step(agent.act(observation))
        done = terminated or truncated
    assert info["success"] and env.is_grasped()
    weight = env.model.body("object").mass[0] * 9.81
    assert env._reflex.hand_force(env.data) == pytest.approx(weight, abs=0.3)  # the squeeze cancels out
    env.close()


@pytest.mark.parametrize("env_id, obj", [("vjepa_bench/FrankaPickPlace-v1", "box"),
                                         ("vjepa_bench/FrankaPickPlace-v1", "cup")])
def test_the_oracle_never_comes_near_the_reflex(env_id, obj):
    env = make(env_id, object=obj)
    agent = make_agent("scripted")
    for seed in range(2):
        observation, info = env.reset(seed=seed)
        agent.reset(observation, info, env)
        done, strongest = False, 0.0
        while not done:
            observation, _, terminated, truncated, info = env.step(agent.act(observation))
            strongest = max(strongest, env._reflex.hand_force(env.data))
            done = terminated or truncated
        assert info["success"] and strongest < REFLEX_FORCE / 5, (seed, strongest)
    env.close()


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
@pytest.mark.parametrize("obj", ["box", "cup"])
def test_a_hand_driven_down_onto_an_edge_stops_there(obj, gripper):
    env = make(object=obj, gripper=gripper)
    env.reset(seed=0)
    env.place_object(np.array([0.5, 0.0]), 0.4)
    env.set_robot(np.array([0.5, 0.03, 0.3]), finger=0.0)
    mujoco.mj_forward(env.model, env.data)
    start = env.object_position().copy()
    for _ in range(8):
        env.step(np.array([0.0, 0.0, -0.075, 0.0, 0.0, 0.0, 1.0]))
        assert env._reflex.hand_force(env.data) < 5 * REFLEX_FORCE  # without the reflex: 290-560 N
        target = env.target_pose()[0]
    np.testing.assert_allclose(target, env.flange_position(), atol=1e-9)  # stopped: the target is where it stands
    assert np.linalg.norm(env.object_position() - start) < 0.01
    env.close()


PRESSED_CLOSED_HAND = {
    3001: [
        (-0.071, -0.073, -0.072, 0.54),
        (0.048, -0.073, -0.073, 0.616),
        (0.032, -0.074, -0.055, -0.463),
        (-0.012, -0.045, -0.024, -0.254),
        (-0.012, -0.033, -0.02, -0.309),
        (-0.014, -0.022, -0.016, 0.291),
        (0.017, 0.046, -0.006, 0),
        (0.019, 0.043, 0.001, 0),
        (0.01, 0.001, 0.074, 0),
    ],
    3003: [
        (0.074, -0.074, -0.057, 0.627),
        (0.073, -0.074, -0.067, 0.32),
        (0.03, -0.071, -0.047, 0),
        (-0.012, -0.038, -0.024, 0),
        (-0.007, -0.033, -0.019, 0),
        (-0.009, -0.024, -0.014, -0.283),
        (0.03, 0.074, 0.004, 0),
        (-0.007, 0.016, -0.001, 0),
        (0.014, 0.007, 0.074, 0),
    ],
    3030: [
        (0.065, -0.066, -0.07, 0.523),
        (0.044, -0.074, -0.061, 0),
        (-0.001, -0.042, -0.025, 0),
        (-0.005, -0.038, -0.023, 0),
        (-0.009, -0.024, -0.02, 0),
        (0.014, 0.07, -0.003, 0),
        (0.004, 0.009, 0.001, 0),
        (-0.001, 0.001, 0, 0.501),
        (0.013, 0.002, 0.074, -0.372),
    ],
    3036: [
        (0.025, -0.072, -0.073, 0.599),
        (0.045, -0.072, -0.061, 0),
        (0.035, -0.073, -0.046, 0),
        (-0.011, -0.053, -0.025, 0),
        (0.002, 0.021, -0.006, 0),
        (0.009, 0.015, -0.002, 0),
        (-0.003, -0.001, 0.001, 0.457),
        (0, -0.004, 0, 0.372),
        (0.015, 0.014, 0.074, 0),
    ],
}
"""Flange moves and gripper deltas (x, y, z, gripper; no turns) of the bundled model on grasp-box seeds 3001, 3003,
3030 and 3036: it closes the hand above the box and presses it down onto an edge while moving sideways, then opens.
Without the contact reflex these streams threw the box 0.47-1.7 m, twice off the table."""


@pytest.mark.parametrize("seed", sorted(PRESSED_CLOSED_HAND))
def test_a_closed_robotiq_pressed_onto_the_box_edge_does_not_throw_it(seed):
    env = make(gripper="robotiq_2f85", object="box")
    env.reset(seed=seed)
    start = env.object_position().copy()
    for x, y, z, grip in PRESSED_CLOSED_HAND[seed]:
        env.step(np.array([x, y, z, 0.0, 0.0, 0.0, grip], dtype=np.float32))
        assert env.object_position()[2] - start[2] < 0.03, "the box left the table top"
    end = env.object_position()
    assert end[2] == pytest.approx(start[2], abs=2e-3) and np.linalg.norm(end[:2] - start[:2]) < 0.35, end - start
    env.close()


def world_force_on_hand(env) -> float:
    """The same quantity the slow way: every hand body's external force (mj_rnePostConstraint), summed."""
    m, d = env.model, env.data
    inside = np.zeros(m.nbody, dtype=bool)
    inside[m.body("right_hand").id] = True
    for body in range(m.body("right_hand").id + 1, m.nbody):  # parents come before their children
        inside[body] = inside[m.body_parentid[body]]
    mujoco.mj_rnePostConstraint(m, d)
    return float(np.linalg.norm(d.cfrc_ext[inside, 3:].sum(axis=0)))


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
def test_the_hand_sensors_measure_the_net_force_of_the_world_on_the_hand(gripper):
    env = make(object="box", gripper=gripper)
    env.reset(seed=3001)
    seen = []
    for x, y, z, grip in PRESSED_CLOSED_HAND[3001] + [(0, 0, 0, 1.0)] * 2:  # a pressing hand, then a closed one
        env.step(np.array([x, y, z, 0.0, 0.0, 0.0, grip], dtype=np.float32))
        seen.append((env._reflex.hand_force(env.data), world_force_on_hand(env)))
    env.reset(seed=0)
    for _ in range(3):  # pads pressed on each other: forces inside the hand cancel out
        env.step(np.array([0, 0, 0, 0, 0, 0, 1.0], dtype=np.float32))
        seen.append((env._reflex.hand_force(env.data), world_force_on_hand(env)))
    sensors, slow = np.array(seen).T
    np.testing.assert_allclose(sensors, slow, atol=1e-9)
    assert sensors.max() > 1.0 and sensors[-1] < 1e-9
    env.close()


def test_a_rollout_ends_where_step_does_when_the_reflex_stops_the_arm(monkeypatch):
    env = make(gripper="robotiq_2f85", object="box")
    env.reset(seed=3001)
    x, y, z, grip = PRESSED_CLOSED_HAND[3001][0]
    env.step(np.array([x, y, z, 0.0, 0.0, 0.0, grip], dtype=np.float32))
    pressing = [np.array([x, y, z, 0, 0, 0, g]) for x, y, z, g in PRESSED_CLOSED_HAND[3001][1:3]]
    actions = np.stack([pressing, [np.array([0, 0, 0.05, 0, 0, 0, 0.0])] * 2])  # (2 samples, 2 steps, 7)
    snapshot = env.get_sim_state()
    rolled = env.rollout(actions, lambda data, end: (data.qpos.copy(), end))
    looks, look = [], env._reflex.look
    monkeypatch.setattr(env._reflex, "look", lambda data: looks.append(look(data)) or looks[-1])
    stopped = []
    for (qpos, end), sequence in zip(rolled, actions):
        env.set_sim_state(snapshot)
        looks.clear()
        for action in sequence:
            env.step(action)
        stopped.append(any(looks))
        np.testing.assert_array_equal(qpos, env.data.qpos)  # bit for bit, the stopped sample included
        np.testing.assert_array_equal(end.position, env.target_pose()[0])
    assert stopped == [True, False]
    env.close()


def test_a_look_and_a_recorded_rollout_read_the_same_force_to_the_bit():
    """``step`` looks on one reading at a time, rollouts on all recorded ones at once: the same bits, so a rollout is
    rerun exactly when ``step`` would have stopped."""
    env = make(object="box")
    env.reset(seed=0)
    readings = np.random.default_rng(0).normal(scale=40.0, size=(200, env.model.nsensordata))
    one_at_a_time = []
    for reading in readings:
        env.data.sensordata[:] = reading
        one_at_a_time.append(env._reflex.hand_force(env.data))
    assert np.array_equal(np.array(one_at_a_time), env._reflex._net_force(readings))
    assert np.array_equal(env._reflex._net_force(readings), np.linalg.norm(
        readings[:, env._reflex._all] - readings[:, env._reflex._own], axis=-1))
    env.close()
