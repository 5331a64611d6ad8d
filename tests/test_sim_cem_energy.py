"""sim_cem's energy: a weighted distance between the configuration reached and the active goal's configuration."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import mujoco
import numpy as np
import pytest
import vjepa_bench.envs  # noqa: F401
from scipy.spatial.transform import Rotation
from vjepa_bench.agents import make_agent
from vjepa_bench.agents.sim_cem import (Configuration, EnergyWeights, binary_gripper, configuration_energy,
                                        energy_terms, goal_configurations, read_configuration)
from vjepa_bench.envs.controller import HOME_QPOS

from vjepa_bench.errors import UsageError

W = EnergyWeights()


def make(task: str, **kwargs):
    kwargs.setdefault("gripper", "franka_hand")  # the hand-built figures below are the Franka Hand's
    env = gym.make(f"vjepa_bench/{task}-v1", image_size=16, shadows=False, **kwargs)
    obs, info = env.reset(seed=0)
    return env, env.unwrapped, obs, info


def test_the_documented_weights():
    assert dataclasses.asdict(W) == {"flange_position": 1.0, "flange_rotation": 0.2, "gripper": 1.0,
                                     "object_position": 4.0, "object_tilt": 0.5, "object_turn": 0.05,
                                     "object_in_hand": 2.0, "object_turn_in_hand": 1.0}
    with pytest.raises(UsageError, match="weights.object"):
        EnergyWeights.from_dict({"object": 1.0})
    with pytest.raises(UsageError, match="weights.gripper"):
        EnergyWeights.from_dict({"gripper": -1.0})


def test_energy_of_a_hand_built_configuration():
    """Set the sim to a known offset from the grasp goal and check the energy against the terms by hand."""
    env, u, _, info = make("FrankaGrasp", object="box")
    grasped, goal = goal_configurations(u, len(info["goal"]["steps"]))  # the grasp where the box stands, the lift
    # The goal: box held at its half width (each finger 3 cm out of its 4 cm travel: closedness 1/4), lifted 10 cm.
    np.testing.assert_allclose(goal.fingers, [0.25, 0.25], atol=1e-12)
    np.testing.assert_allclose(goal.object_position, u.goal_object, atol=1e-3)  # IK accuracy

    d = u.data
    goal_rotation = Rotation.from_matrix(goal.flange_rotation)
    flange = goal.flange_position + [0.04, -0.03, 0.0]  # 5 cm away
    d.qpos[u.controller.arm_qpos] = u.solve_ik(flange, Rotation.from_euler("z", 0.3) * goal_rotation, HOME_QPOS)
    d.qpos[u.gripper.qpos] = u.gripper.joint_positions(u.gripper.open_opening)  # fully open: closedness 0
    adr = u.model.jnt_qposadr[u.model.joint("object_joint").id]
    d.qpos[adr:adr + 3] = goal.object_position + [0.0, 0.03, -0.04]  # 5 cm away
    object_goal = Rotation.from_matrix(goal.object_rotation)
    # turned 0.3 rad about the vertical and tipped 0.2 rad about its own x axis
    tipped = Rotation.from_euler("z", 0.3) * object_goal * Rotation.from_euler("x", 0.2)
    d.qpos[adr + 3:adr + 7] = np.roll(tipped.as_quat(), 1)
    mujoco.mj_forward(u.model, d)

    terms = energy_terms(read_configuration(u, d), goal)
    assert terms["flange_position"] == pytest.approx(0.05, abs=5e-4)  # IK accuracy
    assert terms["flange_rotation"] == pytest.approx(0.3, abs=5e-3)
    assert terms["gripper"] == pytest.approx(0.25, abs=1e-9)
    assert terms["object_position"] == pytest.approx(0.05, abs=1e-9)
    assert terms["object_tilt"] == pytest.approx(0.2, abs=1e-6)
    assert terms["object_turn"] == pytest.approx(0.3, abs=1e-6)
    # In the goal the object hangs straight below the flange, so the hand's turn about the vertical does not move
    # it in the flange frame: the in-hand offset is the object's shift minus the flange's, (-4, 6, -4) cm turned
    # by -0.3 rad about the vertical into the hand's axes (the flange frame of the top-down goal hand: x and y
    # of the goal flange rotation), summed as absolute values.
    shift = Rotation.from_euler("z", -0.3).apply([-0.04, 0.06, -0.04])
    in_hand = np.abs(goal.flange_rotation.T @ shift).sum()
    assert terms["object_in_hand"] == pytest.approx(in_hand, abs=1e-3)
    # the hand turned 0.3 rad about the vertical, so did the object: no turn between them
    assert terms["object_turn_in_hand"] == pytest.approx(0.0, abs=5e-3)
    by_hand = 1.0 * 0.05 + 0.2 * 0.3 + 1.0 * 0.25 + 4.0 * 0.05 + 0.5 * 0.2 + 0.05 * 0.3 + 2.0 * in_hand
    assert configuration_energy(read_configuration(u, d), goal, W) == pytest.approx(by_hand, abs=2e-3)
    env.close()


def test_energy_is_zero_at_every_goal_configuration():
    env, u, obs, info = make("FrankaPickPlace", object="cup")
    agent = make_agent("sim_cem")
    agent.reset(obs, info, u)
    assert len(agent.goals) == 3
    for index, goal in enumerate(agent.goals):
        reached = read_configuration(u, u.goal_data(index))
        assert configuration_energy(reached, goal, W) == pytest.approx(0.0, abs=1e-9)
        assert configuration_energy(reached, agent.goals[(index + 1) % 3], W) > 0.05  # the goals differ
    env.close()


def test_energy_is_monotone_in_each_term():
    goal = Configuration(np.array([0.5, 0.0, 0.2]), Rotation.from_euler("x", np.pi).as_matrix(), np.array([0.25, 0.25]),
                         np.array([0.5, 0.0, 0.1]), np.eye(3))
    axis = np.array([0.6, -0.8, 0.0])
    changes = {
        "flange_position": lambda t: {"flange_position": goal.flange_position + t * 0.3 * axis},
        "flange_rotation": lambda t: {"flange_rotation": Rotation.from_euler("z", t * 2.5).as_matrix()
                                      @ goal.flange_rotation},
        "gripper": lambda t: {"fingers": np.array([0.25 + 0.75 * t, 0.25 + 0.3 * t])},
        "object_position": lambda t: {"object_position": goal.object_position + t * 0.3 * axis},
        "object_tilt": lambda t: {"object_rotation": Rotation.from_euler("y", t * 1.5).as_matrix()},
        "object_turn": lambda t: {"object_rotation": Rotation.from_euler("z", t * 3.0).as_matrix()},
        # the hand turned about the vertical over the object: it also moves away from the goal's turn
        "object_turn_in_hand": lambda t: {"flange_rotation": Rotation.from_euler("z", t * 3.0).as_matrix()
                                          @ goal.flange_rotation},
        # the hand and the object moved together: only the object's place in the hand stays
        "object_in_hand": lambda t: {"object_position": goal.object_position + t * 0.3 * axis},
    }
    steps = np.linspace(0.0, 1.0, 21)
    for name, change in changes.items():
        configs = [dataclasses.replace(goal, **change(t)) for t in steps]
        energies = [configuration_energy(c, goal, W) for c in configs]
        terms = [energy_terms(c, goal) for c in configs]
        assert energies[0] == pytest.approx(0.0, abs=1e-12), name
        assert np.all(np.diff(energies) > 0), name
        assert np.all(np.diff([t[name] for t in terms]) > 0), name
        for term in W.__dataclass_fields__:  # no term decreases, and the energy is their weighted sum
            assert np.all(np.diff([t[term] for t in terms]) >= -1e-12), (name, term)
        assert energies[-1] == pytest.approx(sum(getattr(W, k) * v for k, v in terms[-1].items())), name
    shifted = dataclasses.replace(goal, flange_position=goal.flange_position + 0.1 * axis,
                                  object_position=goal.object_position + 0.1 * axis)
    assert energy_terms(shifted, goal)["object_in_hand"] == pytest.approx(0.0, abs=1e-12)
    opener = dataclasses.replace(goal, fingers=np.array([0.0, 0.0]))  # below the goal's closedness counts too
    assert configuration_energy(opener, goal, W) == pytest.approx(0.25)
    # one finger pushed in by 0.2 and the other out by 0.2: the opening is the goal's, yet the fingers are not
    skewed = dataclasses.replace(goal, fingers=np.array([0.45, 0.05]))
    assert configuration_energy(skewed, goal, W) == pytest.approx(0.2)


def test_a_box_turned_a_quarter_looks_the_same_a_mug_does_not():
    env, u, obs, info = make("FrankaGrasp", object="box")
    (box,) = goal_configurations(u, 1)
    env.close()
    env, u, obs, info = make("FrankaGrasp", object="cup")
    (cup,) = goal_configurations(u, 1)
    env.close()
    quarter = Rotation.from_euler("z", np.pi / 2).as_matrix()
    for goal, expected in ((box, 0.0), (cup, np.pi / 2)):
        turned = dataclasses.replace(goal, object_rotation=quarter @ goal.object_rotation)
        assert energy_terms(turned, goal)["object_turn"] == pytest.approx(expected, abs=1e-9)
        slightly = dataclasses.replace(goal, object_rotation=Rotation.from_euler("z", -0.1).as_matrix()
                                       @ goal.object_rotation)
        assert energy_terms(slightly, goal)["object_turn"] == pytest.approx(0.1, abs=1e-9)


def test_reach_has_no_object_terms():
    env, u, obs, info = make("FrankaReach")
    (goal,) = goal_configurations(u, 1)
    assert goal.object_position is None
    np.testing.assert_array_equal(goal.fingers, [0.0, 0.0])  # open
    terms = energy_terms(read_configuration(u, u.data), goal)
    assert terms["object_position"] == terms["object_tilt"] == terms["object_turn"] == 0.0
    assert terms["flange_position"] == pytest.approx(np.linalg.norm(u.flange_position() - u.goal_position),
                                                       abs=1e-4)  # the goal pose is an IK solution
    env.close()


def test_rollouts_are_the_true_simulator_and_leave_the_env_alone():
    """Bit for bit env.step, in pick-and-place too, whose coaster (a mocap body) the physics state leaves out."""
    env, u, obs, info = make("FrankaPickPlace", object="cup")
    agent = make_agent("sim_cem", gripper="delta", rotation="all")
    agent.reset(obs, info, u)
    rng = np.random.default_rng(0)
    actions = rng.uniform(u.action_space.low, u.action_space.high, (3, 2, 7)).astype(np.float32)
    before = u.get_sim_state()
    reached = agent.final_configurations(actions)
    after = u.get_sim_state()
    np.testing.assert_array_equal(before["physics"], after["physics"])
    for s in (0, 2):
        replay, *_ = make("FrankaPickPlace", object="cup")  # the same seed: the same episode
        for action in actions[s]:
            replay.unwrapped.step(action)
        stepped = read_configuration(replay.unwrapped, replay.unwrapped.data, replay.unwrapped.target_pose()[2])
        np.testing.assert_array_equal(stepped.flange_position, reached[s].flange_position)
        np.testing.assert_array_equal(stepped.object_position, reached[s].object_position)
        np.testing.assert_array_equal(stepped.fingers, reached[s].fingers)
        replay.close()
    env.close()


def test_binary_gripper_commands_open_or_closed():
    actions = np.zeros((3, 3, 7))
    actions[:, :, 6] = [[0.6, 0.1, -0.3], [0.4, 0.2, -0.7], [-0.2, 0.0, 0.5]]
    out = binary_gripper(actions, closedness=0.0)
    # targets: 0.6 -> 1, 1.1 -> 1, 0.7 -> 1 | 0.4 -> 0, 0.2 -> 0, -0.7 -> 0 | 0 -> 0, 0 -> 0, 0.5 -> 1
    np.testing.assert_array_equal(np.cumsum(out[:, :, 6], axis=1), [[1, 1, 1], [0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(out[:, :, :6], actions[:, :, :6])
    assert binary_gripper(actions[:1, :1] * 0 - 0.6, closedness=1.0)[0, 0, 6] == -1.0


def test_yaw_rule_executes_only_the_turn_about_the_vertical():
    env, u, obs, info = make("FrankaGrasp", object="box")
    agent = make_agent("sim_cem")  # rotation="yaw", gripper="binary"
    agent.reset(obs, info, u)
    executed = agent.executed(np.full((1, 1, 7), 0.2))
    np.testing.assert_allclose(executed[0, 0], [0.075, 0.075, 0.075, 0.0, 0.0, 0.2, 0.0])
    env.close()


def test_fingers_count_only_as_far_as_the_gripper_closes_them():
    env, u, _, info = make("FrankaGrasp", object="box")
    (goal,) = goal_configurations(u, 1)
    d = u.goal_data(0)  # the fingers on the box at its half width: closedness 1/4 each
    np.testing.assert_allclose(read_configuration(u, d).fingers, [0.25, 0.25], atol=1e-12)
    np.testing.assert_allclose(read_configuration(u, d, commanded=1.0).fingers, [0.25, 0.25], atol=1e-12)
    # the same fingers with the gripper commanded open: pushed in by the object, not closed by the gripper
    np.testing.assert_array_equal(read_configuration(u, d, commanded=0.0).fingers, [0.0, 0.0])
    assert energy_terms(read_configuration(u, d, commanded=0.0), goal)["gripper"] == pytest.approx(0.25)
    env.close()
