"""The two hands behind one gripper interface: openings, servo targets, grip points, and real grasps by the oracle."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import vjepa_bench.envs  # noqa: F401 - registers the envs
from vjepa_bench.agents import make_agent
from vjepa_bench.envs import scene
from vjepa_bench.envs.gripper import FRANKA_GRIP_TO_FLANGE


def make(env_id: str = "vjepa_bench/FrankaGrasp-v1", **kwargs):
    return gym.make(env_id, image_size=64, **kwargs).unwrapped


@pytest.mark.parametrize("gripper", scene.GRIPPERS)
def test_joint_positions_give_the_asked_opening(gripper):
    env = make(gripper=gripper, object="cup")
    data = mujoco.MjData(env.model)
    for opening in np.linspace(0.002, env.gripper.open_opening, 7):  # the Robotiq's pads stop 1.5 mm apart
        data.qpos[env.gripper.qpos] = env.gripper.joint_positions(opening)
        mujoco.mj_kinematics(env.model, data)
        np.testing.assert_allclose(env.gripper.openings(data), opening, atol=2e-4)
        left, right = (data.geom_xpos[g].mean(0) for g in env.gripper.finger_geoms)
        np.testing.assert_allclose(env.gripper.grip_point(data)[:2], ((left + right) / 2)[:2], atol=2e-3)
    env.close()


def test_the_robotiq_opens_85_mm_and_its_pads_move_along_the_hand_as_they_close():
    env = make(gripper="robotiq_2f85", object="box")
    assert 2 * env.gripper.open_opening == pytest.approx(0.086, abs=1e-3)
    open_length = env.grip_to_flange(env.gripper.open_opening)
    closed_length = env.grip_to_flange(0.0)
    assert closed_length - open_length == pytest.approx(0.014, abs=2e-3)
    assert env.hand_lift()[2] == pytest.approx(env.grip_to_flange() - FRANKA_GRIP_TO_FLANGE)
    env.close()


def test_the_franka_hand_keeps_its_grip_site_and_no_lift():
    env = make(object="box", gripper="franka_hand")
    assert env.grip_to_flange() == pytest.approx(FRANKA_GRIP_TO_FLANGE, abs=1e-6)
    assert env.hand_lift().tolist() == [0.0, 0.0, 0.0]
    env.close()


def test_an_unknown_gripper_is_named():
    with pytest.raises(ValueError, match="gripper must be one of"):
        make(gripper="barrett")


@pytest.mark.parametrize("env_id, obj", [("vjepa_bench/FrankaPickPlace-v1", "box"),
                                         ("vjepa_bench/FrankaPickPlace-v1", "cup"),
                                         ("vjepa_bench/FrankaReachWithObject-v1", "cup")])
def test_the_oracle_picks_and_places_with_the_robotiq_by_friction(env_id, obj):
    env = make(env_id, object=obj, gripper="robotiq_2f85")
    agent = make_agent("scripted")
    for seed in range(2):
        observation, info = env.reset(seed=seed)
        agent.reset(observation, info, env)
        held = False
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(agent.act(observation))
            held |= env.is_grasped()
            done = terminated or truncated
        assert info["success"] and held, (seed, info["distance"])
    env.close()


def test_the_robotiq_is_drawn_with_light_meshes_and_collides_with_its_original_base():
    """The visual meshes are decimated for the CPU rasteriser (``assets/build_robotiq_assets.py``); the base's
    collision mesh is robosuite's, so decimating changed no contact."""
    model = make().model
    hand_bodies = {model.body(name).id for name in ("robotiq_base", "left_outer_knuckle", "left_inner_finger",
                                                     "left_inner_knuckle", "right_outer_knuckle",
                                                     "right_inner_finger", "right_inner_knuckle")}
    drawn = [g for g in range(model.ngeom) if model.geom_bodyid[g] in hand_bodies
             and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and model.geom_group[g] < 3]
    assert len(drawn) == 9
    assert sum(model.mesh_facenum[model.geom_dataid[g]] for g in drawn) < 4000  # the CAD meshes: 15 774
    collision = model.geom("hand_collision")
    assert model.geom_dataid[collision.id] != model.geom_dataid[model.geom("hand_visual").id]
    assert model.mesh_facenum[model.geom_dataid[collision.id]] == 1726  # robosuite's robotiq_arg2f_base_link.stl
