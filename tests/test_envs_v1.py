"""The v1 task contract: renderer lifetime, reachable goals, contacts that hold, bounded rotations, clear errors."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import vjepa_bench.envs as envs
from vjepa_bench import layout
from vjepa_bench.envs import base, controller, scene
from vjepa_bench.envs.objects import OBJECTS
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.step_contract import extreme_streams, step_errors, target_outcome

OBJECT_IDS = [i for i in envs.ENV_IDS if envs.ENV_CLASSES[i].uses_object]


def make(env_id: str = "vjepa_bench/FrankaReach-v1", **kwargs) -> base.FrankaEnv:
    return gym.make(env_id, image_size=64, **kwargs).unwrapped


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 0, 2)])
def test_closing_envs_in_any_order_leaves_the_others_rendering(order):
    live = [make() for _ in range(3)]
    for i, env in enumerate(live):
        env.reset(seed=i)
    open_envs = list(range(3))
    for closing in order:
        live[closing].close()
        open_envs.remove(closing)
        for i in open_envs:
            before = live[i].step(np.zeros(7))[0]["image"]
            after = live[i].step(np.array([0.075, 0.075, 0.0, 0.0, 0.0, 0.0, 1.0]))[0]["image"]
            assert np.abs(after.astype(int) - before).sum() > 0, f"env {i} froze after closing env {closing}"


def _finger_object_penetration(env: base.FrankaEnv, data: mujoco.MjData) -> float:
    """Deepest finger-object contact penetration (m, >= 0) in ``data``."""
    fingers = np.concatenate(env._finger_geoms)
    deepest = 0.0
    for contact in data.contact[:data.ncon]:
        pair = (contact.geom1, contact.geom2)
        if np.isin(pair, fingers).any() and np.isin(pair, env._object_geoms).any():
            deepest = max(deepest, -contact.dist)
    return deepest


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
@pytest.mark.parametrize("env_id", OBJECT_IDS)
@pytest.mark.parametrize("obj", sorted(OBJECTS))
def test_no_finger_goes_through_the_object_in_any_goal_or_start(env_id, obj, gripper):
    env = make(env_id, object=obj, gripper=gripper)
    for seed in range(12):
        env.reset(seed=seed)
        assert _finger_object_penetration(env, env.data) <= 1e-3, (seed, "start")
        for index in range(len(env._goals)):
            assert _finger_object_penetration(env, env.goal_data(index)) <= 1e-3, (seed, "goal", index)
    env.close()


@pytest.mark.parametrize("obj", sorted(OBJECTS))
def test_goal_grasp_turns_the_hand_to_the_object(obj):
    env = make("vjepa_bench/FrankaGrasp-v1", object=obj)
    spec = OBJECTS[obj]
    for seed in range(8):
        env.reset(seed=seed)
        goal = env.goal_data(0)
        hand = Rotation.from_matrix(goal.site_xmat[env._flange].reshape(3, 3))
        turn = (hand * controller.TOP_DOWN.inv()).as_rotvec()[2]
        assert abs(spec.grasp_yaw(env.object_yaw()) - turn) < 0.02
        assert abs(turn) <= spec.grasp_period / 2 + 1e-6
    env.close()


def _lowest_object_point(env: base.FrankaEnv) -> float:
    return float(env.object_position()[2] - env.object_rest_height())


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
@pytest.mark.parametrize("obj", sorted(OBJECTS))
def test_pressing_down_on_the_object_does_not_sink_it(obj, gripper):
    env = make("vjepa_bench/FrankaGrasp-v1", object=obj, gripper=gripper)
    env.reset(seed=0)
    env.place_object(np.array([0.5, 0.0]), 0.0)
    env.set_robot(np.array([0.5, 0.0, 0.3]), finger=0.0)
    mujoco.mj_forward(env.model, env.data)
    deepest = 0.0
    for _ in range(12):
        env.step(np.array([0.0, 0.0, -0.075, 0.0, 0.0, 0.0, 1.0]))
        deepest = min(deepest, _lowest_object_point(env))
    assert deepest > -2e-3, f"{obj} sank {-deepest * 1000:.1f} mm"


@pytest.mark.parametrize("obj", sorted(OBJECTS))
def test_a_dropped_object_does_not_sink_into_the_table(obj):
    env = make("vjepa_bench/FrankaGrasp-v1", object=obj)
    env.reset(seed=0)
    env.place_object(np.array([0.5, -0.1]), 0.3, z=env.object_rest_height() + 0.1)
    env.data.qvel[:] = 0
    deepest = 0.0
    for _ in range(400):
        mujoco.mj_step(env.model, env.data)
        deepest = min(deepest, _lowest_object_point(env))
    assert deepest > -2e-3, f"{obj} sank {-deepest * 1000:.1f} mm on a 10 cm drop"


@pytest.mark.parametrize("obj", sorted(OBJECTS))
def test_an_object_off_the_table_comes_to_rest_on_the_floor(obj):
    env = make("vjepa_bench/FrankaGrasp-v1", object=obj)
    env.reset(seed=0)
    env.place_object(np.array([1.2, 0.3]), 0.3, z=env.object_rest_height() + 0.05)  # beyond the table's far edge
    env.data.qvel[:] = 0
    for _ in range(1500):  # 3 s
        mujoco.mj_step(env.model, env.data)
    floor = env.model.geom("floor").pos[2]
    assert env.object_position()[2] - env.object_rest_height() == pytest.approx(floor, abs=2e-3)
    assert np.abs(env.data.qvel).max() < 1e-2


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
def test_full_downward_actions_stop_the_fingertips_at_the_table(gripper):
    env = make(gripper=gripper)
    env.reset(seed=3)
    for _ in range(20):
        env.step(layout.ACTION_LOW)
    tips = np.concatenate(env._finger_geoms)
    lowest = min(env.data.geom_xpos[g][2] - env.model.geom_rbound[g] for g in tips)
    assert lowest > scene.TABLE_TOP - 0.03  # bounding spheres: a loose but telling bound
    contacts = [c for c in env.data.contact[:env.data.ncon] if env.model.geom("table_top").id in (c.geom1, c.geom2)]
    assert all(c.dist > -2e-3 for c in contacts)


action_streams = st.lists(
    st.lists(st.floats(-1.5, 1.5, allow_nan=False), min_size=7, max_size=7).map(
        lambda a: np.asarray(a) * np.r_[layout.ACTION_HIGH[:6], 1.0]), min_size=1, max_size=15)


TILT_TO_THE_TABLE = [np.zeros(7)] * 4 + [np.array(a, float) for a in (
    [0, 0, 0, -0.25, 0, 0, 0], [0, 0, 0, 0, 0, 0.25, 0], [0, 0, -0.075, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0], [0, -0.075, -0.075, 0, 0, 0, 0], [0.075, 0, 0, 0.25, -0.25, 0, 0])]
"""A stream hypothesis once found off by 4.2 cm and 0.30 rad: the hand tilted and pushed down to the table floor."""
REPAIRED_STREAMS = [extreme_streams(200, 15, 0)[i] for i in (56, 194)]
"""Two of ``step_contract``'s default streams that went far off before a tilted target out of reach got its tilt cut
back and a tilted hand more clearance: 10.9 cm (Robotiq: tipped pads dragged on the table) and 6.6 cm (Franka Hand:
the IK jumped 1.9 rad to the home posture's joint branch)."""


WRIST_SWING_STREAM = extreme_streams(2, 15, 0)[1]
"""A stream that went 3.5 cm and 0.67 rad off at its step 8 (Robotiq) before too-wide moves were cut back: near the
wrist singularity the IK turned joints 5 and 7 against each other by more than the servos follow in one step."""


def _moved_no_further(start, requested, reached) -> bool:
    """Whether the target ``reached`` lies no further from the ``start`` target than ``requested`` does, in
    position and in orientation (a move cut back by ``controller.SWING_CUTS``)."""
    (p0, r0), (p1, r1), (p2, r2) = start, requested, reached
    return (np.linalg.norm(p2 - p0) <= np.linalg.norm(p1 - p0) + 1e-9
            and (r0.inv() * r2).magnitude() <= (r0.inv() * r1).magnitude() + 1e-6)


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@example(stream=TILT_TO_THE_TABLE, seed=0)
@example(stream=list(WRIST_SWING_STREAM[1]), seed=WRIST_SWING_STREAM[0])
@example(stream=list(REPAIRED_STREAMS[0][1]), seed=REPAIRED_STREAMS[0][0])
@example(stream=list(REPAIRED_STREAMS[1][1]), seed=REPAIRED_STREAMS[1][0])
@given(stream=action_streams, seed=st.integers(0, 1000))
def test_step_contract_holds_for_any_action_stream(gripper, stream, seed):
    env = _CONTRACT_ENVS[gripper]
    env.reset(seed=seed)
    for action in stream:
        previous, q_previous = env.target_pose(), env._controller_state().q
        env.step(action)
        position, rotation, closedness = env.target_pose()
        clipped = layout.checked_action(action)  # what step() applies: float64, clipped
        # as asked, or (out of reach) the same turn with the tilt cut in quarters, or a too-wide move cut back
        if target_outcome(env, previous[:2], action) in ("cut back", "held"):
            requested = controller.bound_rotation(Rotation.from_euler("xyz", clipped[3:6]) * previous[1])
            bounded = env.controller.bounded_position(previous[0] + clipped[:3], rotation)
            assert np.abs(env._controller_state().q - q_previous).max() <= controller.MAX_JOINT_SWING
            assert _moved_no_further(previous[:2], (bounded, requested), (position, rotation))
        assert closedness == pytest.approx(np.clip(previous[2] + clipped[6], 0.0, 1.0))
        position_tol, rotation_tol = controller.STEP_TOLERANCE
        position_error, rotation_error = step_errors(env)
        assert position_error < position_tol and rotation_error < rotation_tol


def test_a_move_the_wrist_cannot_follow_in_one_step_is_cut_back(monkeypatch):
    env = _CONTRACT_ENVS["robotiq_2f85"]
    seed, stream = WRIST_SWING_STREAM

    def worst_error_and_swing() -> tuple[float, float]:
        env.reset(seed=seed)
        worst, swing = 0.0, 0.0
        for action in stream:
            q_previous = env._controller_state().q
            env.step(action)
            worst = max(worst, step_errors(env)[0])
            swing = max(swing, np.abs(env._controller_state().q - q_previous).max())
        return worst, swing

    worst, swing = worst_error_and_swing()
    assert worst < 0.01 and swing <= controller.MAX_JOINT_SWING
    monkeypatch.setattr(controller, "MAX_JOINT_SWING", np.inf)  # the controller without the cut-back
    worst, swing = worst_error_and_swing()
    assert worst > controller.STEP_TOLERANCE[0] and swing > 1.5


def test_an_out_of_reach_tilted_target_is_tilted_back_not_jumped_to():
    env = _CONTRACT_ENVS["franka_hand"]
    seed, stream = REPAIRED_STREAMS[1]  # its step 3 asks for a full tilt near the base, out of reach
    env.reset(seed=seed)
    for action in stream[:3]:
        env.step(action)
    position, rotation, _, q_prev = env._controller_state()
    action = layout.checked_action(stream[3])
    requested = controller.bound_rotation(Rotation.from_euler("xyz", action[3:6]) * rotation)
    target, reached, q = env.controller.reachable_target(position + action[:3], requested, q_prev)
    assert controller.hand_tilt(reached) < controller.hand_tilt(requested) - 0.1
    assert min((controller.tilted_back(requested, f) * reached.inv()).magnitude() for f in (0.75, 0.5, 0.25, 0.0)) < 1e-6
    assert np.abs(q - q_prev).max() < 1.0  # no jump to another joint branch (the home posture's IK jumps 1.9 rad)
    d = mujoco.MjData(env.model)
    d.qpos[env.controller.arm_qpos] = q
    mujoco.mj_kinematics(env.model, d)
    assert np.linalg.norm(d.site_xpos[env.model.site("flange").id] - target) <= controller.IK_TOLERANCE


def test_top_down_targets_keep_the_plain_clearance_and_ik():
    arm = _CONTRACT_ENVS["franka_hand"].controller
    top_down = Rotation.from_euler("z", 0.3) * controller.TOP_DOWN
    low = np.array([0.5, 0.1, 0.0])
    lowest = top_down.apply(arm._fingertips)[:, 2].min()
    assert arm.bounded_position(low, top_down)[2] == scene.TABLE_TOP + controller.FINGERTIP_CLEARANCE - lowest
    tilted = Rotation.from_rotvec([0.3, 0.0, 0.0]) * top_down
    lowest_tilted = tilted.apply(arm._fingertips)[:, 2].min()
    extra = controller.TILT_CLEARANCE * (0.3 - controller.TILT_DEADBAND)
    assert arm.bounded_position(low, tilted)[2] + lowest_tilted - scene.TABLE_TOP == pytest.approx(
        controller.FINGERTIP_CLEARANCE + extra)
    q_prev = controller.HOME_QPOS + 0.05
    target, rotation, q = arm.reachable_target(np.array([0.45, 0.05, 0.3]), top_down, q_prev)
    np.testing.assert_array_equal(q, arm.solve_ik(target, top_down, q_prev))


_CONTRACT_ENVS = {gripper: make(gripper=gripper) for gripper in scene.GRIPPERS}


def test_bounded_rotation_keeps_the_cone():
    for rotation in Rotation.random(200, random_state=1):
        bounded = controller.bound_rotation(rotation)
        axis = bounded.apply([0.0, 0.0, 1.0])
        tilt = np.arccos(np.clip(-axis[2], -1, 1))
        assert tilt <= controller.MAX_TILT + 1e-6
    inside = Rotation.from_euler("z", 0.3) * Rotation.from_rotvec([0.2, 0.0, 0.0]) * controller.TOP_DOWN
    assert (controller.bound_rotation(inside) * inside.inv()).magnitude() < 1e-9


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
def test_empty_gripper_closes_fully_and_opens_again(gripper):
    env = make(gripper=gripper)
    env.reset(seed=0)
    assert env.robot_state()[6] == pytest.approx(0.0, abs=1e-3)
    for _ in range(3):
        env.step(np.array([0, 0, 0, 0, 0, 0, 1.0]))
    assert env.robot_state()[6] == pytest.approx(1.0, abs=1e-3)
    for _ in range(3):
        env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
    assert env.robot_state()[6] == pytest.approx(0.0, abs=2e-2)


def test_the_mug_weighs_150_g():
    cup = make("vjepa_bench/FrankaGrasp-v1", object="cup")
    assert cup.model.body_subtreemass[cup.model.body("object").id] == pytest.approx(0.150, abs=1e-6)


@pytest.mark.parametrize("field, value", [("azimuth_deg", float("nan")), ("distance", float("inf")),
                                          ("lookat", [0.4, float("nan"), 0.1]), ("fovy_deg", float("nan"))])
def test_non_finite_camera_values_are_named(field, value):
    with pytest.raises(UsageError, match=field):
        envs.make_env("vjepa_bench/FrankaReach-v1", camera={field: value})


def test_step_before_reset_says_so():
    env = make()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(np.zeros(7))


def test_final_goal_pick_place_has_one_goal_and_the_final_distance():
    env = make("vjepa_bench/FrankaPickPlaceFinal-v1", object="box")
    _, info = env.reset(seed=0)
    assert info["goal"]["images"].shape[0] == 1 and info["goal"]["steps"] == [30]
    assert info["distance"] == pytest.approx(info["distance_to_final_goal"])
    staged = make("vjepa_bench/FrankaPickPlace-v1", object="box")
    _, staged_info = staged.reset(seed=0)
    np.testing.assert_array_equal(staged_info["goal"]["images"][-1], info["goal"]["images"][0])


@pytest.mark.parametrize("env_id", ["vjepa_bench/FrankaGrasp-v1", "vjepa_bench/FrankaPickPlace-v1"])
@pytest.mark.parametrize("obj", sorted(OBJECTS))
def test_the_first_goal_is_the_grasp_where_the_object_stands(env_id, obj):
    """The goal a greedy planner can reach first: the fingers closed on the object, which has not moved."""
    env = make(env_id, object=obj)
    for seed in range(4):
        _, info = env.reset(seed=seed)
        start = env.object_position()
        grasped = env.goal_data(0)
        np.testing.assert_allclose(grasped.xpos[env._object_body], start, atol=2e-3)
        np.testing.assert_allclose(grasped.site_xpos[env._flange], env.grasp_flange(start), atol=2e-3)
        assert env.is_grasped(grasped), seed  # both fingers on the object
        assert info["distance"] == pytest.approx(0.0, abs=2e-3)  # the active goal's object position: where it stands
        assert info["distance_to_final_goal"] > 0.05
        after_grasp = env.goal_data(1)  # lifted (grasp) or carried above the coaster (pick-and-place)
        assert after_grasp.xpos[env._object_body][2] > start[2] + 0.05
    env.close()


def test_grasp_distance_follows_the_active_goal():
    env = make("vjepa_bench/FrankaGrasp-v1", object="box")
    _, info = env.reset(seed=1)
    assert info["goal"]["steps"] == [8, 22] and info["subgoal"] == 0
    for _ in range(8):
        _, _, _, _, info = env.step(np.zeros(7, np.float32))
    assert info["subgoal"] == 1
    lifted = np.linalg.norm(env.object_position() - env.goal_object)
    assert info["distance"] == pytest.approx(lifted) and info["distance_to_final_goal"] == pytest.approx(lifted)
    env.close()


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
@pytest.mark.parametrize("env_id", ["vjepa_bench/FrankaGrasp-v1", "vjepa_bench/FrankaPickPlace-v1"])
def test_the_pregrasp_goal_shows_the_open_hand_at_the_grasp_pose(env_id, gripper):
    env = make(env_id, object="cup", gripper=gripper, pregrasp_goal=True)
    plain = make(env_id, object="cup", gripper=gripper)
    for seed in range(4):
        _, info = env.reset(seed=seed)
        _, plain_info = plain.reset(seed=seed)
        assert info["goal"]["steps"] == list(env.pregrasp_schedule)
        assert sum(info["goal"]["steps"]) == sum(plain_info["goal"]["steps"])
        pregrasp, grasp = env.goal_data(0), env.goal_data(1)
        np.testing.assert_allclose(pregrasp.site_xpos[env._flange], grasp.site_xpos[env._flange], atol=1e-6)
        assert info["goal"]["states"][0, 6] == 0.0 and info["goal"]["states"][1, 6] > 0.1  # open, then closed
        assert not env.is_grasped(pregrasp) and _finger_object_penetration(env, pregrasp) <= 1e-3
        np.testing.assert_array_equal(info["goal"]["images"][1:], plain_info["goal"]["images"])
        assert info["distance"] == pytest.approx(0.0, abs=2e-3)  # the object's goal position: where it stands
    env.close()
    plain.close()


def test_the_pregrasp_goal_shifts_the_task_goals_by_one():
    env = make("vjepa_bench/FrankaGrasp-v1", object="box", pregrasp_goal=True)
    env.reset(seed=1)
    subgoals = []
    for _ in range(10):
        _, _, _, _, info = env.step(np.zeros(7, np.float32))
        subgoals.append(info["subgoal"])
    assert subgoals == [0] * 5 + [1] * 3 + [2] * 2
    lifted = np.linalg.norm(env.object_position() - env.goal_object)
    assert info["distance"] == pytest.approx(lifted)
    env.close()


@pytest.mark.parametrize("env_id", ["vjepa_bench/FrankaReach-v1", "vjepa_bench/FrankaReachWithObject-v1",
                                    "vjepa_bench/FrankaPickPlaceFinal-v1"])
def test_tasks_without_a_grasp_goal_refuse_the_pregrasp_goal(env_id):
    with pytest.raises(TypeError, match="pregrasp_goal"):
        gym.make(env_id, pregrasp_goal=True)
