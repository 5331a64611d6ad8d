"""What the default camera shows at 256 px: objects big enough, a gripper whose opening shows, no blown-out links,
and every goal inside the frame. Thresholds are the measured v1 figures less a small margin (README "Tasks")."""

from __future__ import annotations

import itertools

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import vjepa_bench.envs  # noqa: F401 - registers the envs
from vjepa_bench.envs import base, pick_place, reach
from vjepa_bench.envs.camera import CameraPose
from vjepa_bench.envs.rendering import Renderer

SIZE = 256


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels that differ visibly (summed channel difference over 30 of 765)."""
    return np.abs(a.astype(int) - b.astype(int)).sum(-1) > 30


@pytest.fixture(scope="module", params=["box", "cup"])
def env(request):
    env = gym.make("vjepa_bench/FrankaGrasp-v1", object=request.param, image_size=SIZE).unwrapped
    env.reset(seed=0)
    yield env
    env.close()


def test_the_object_covers_about_30_by_30_pixels(env):
    image = env.render_frame()
    saved = env.get_sim_state()
    env.data.qpos[env._object_qpos:env._object_qpos + 3] = [5.0, 5.0, -5.0]
    mujoco.mj_forward(env.model, env.data)
    without = env.render_frame()
    env.set_sim_state(saved)
    rows, cols = np.nonzero(changed(image, without))
    assert np.ptp(cols) + 1 >= 28 and np.ptp(rows) + 1 >= 28, (np.ptp(cols) + 1, np.ptp(rows) + 1)


def _opening_change(env, height: float) -> float:
    """Fraction of the pixels that change between the closed and the open gripper, hand at ``height`` (m)."""
    env.set_robot(np.array([0.48, 0.0, height]))
    images = []
    for opening in (0.0, env.gripper.open_opening):
        env.data.qpos[env._finger_qpos] = env.gripper.joint_positions(opening)
        mujoco.mj_forward(env.model, env.data)
        images.append(env.render_frame())
    return float(changed(*images).mean())


def test_opening_the_default_gripper_changes_at_least_1_percent_of_the_image(env):
    assert min(_opening_change(env, height) for height in (0.15, 0.2, 0.3)) >= 0.01  # measured 1.0-1.7 %; v0: 0.1 %


@pytest.mark.parametrize("obj", ["box", "cup"])
def test_the_franka_hand_opening_changes_half_a_percent_of_the_image(obj):
    env = gym.make("vjepa_bench/FrankaGrasp-v1", object=obj, image_size=SIZE, gripper="franka_hand").unwrapped
    env.reset(seed=0)
    assert _opening_change(env, 0.2) >= 0.0045  # measured 0.5-0.7 %: its fingers are 2 x 5 cm
    assert (env.render_frame().min(-1) >= 250).mean() < 0.01
    env.close()


def test_no_large_area_is_blown_out(env):
    image = env.render_frame()
    assert (image.min(-1) >= 250).mean() < 0.01  # v0: 0.045


def _project(env, point: np.ndarray) -> tuple[float, float]:
    cam = env._camera_id
    offset = env.data.cam_xmat[cam].reshape(3, 3).T @ (point - env.data.cam_xpos[cam])
    focal = 0.5 * SIZE / np.tan(np.radians(env.model.cam_fovy[cam]) / 2)
    return SIZE / 2 + focal * offset[0] / -offset[2], SIZE / 2 - focal * offset[1] / -offset[2]


def test_every_goal_and_object_position_is_in_view(env):
    hand = base.FrankaEnv.grip_to_flange(env) + 0.03  # fingertips below the flange
    boxes = [(reach.GOAL_LOW, reach.GOAL_HIGH, -hand), (reach.GOAL_LOW, reach.GOAL_HIGH, 0.0),
             (np.r_[pick_place.TARGET_LOW, 0.0], np.r_[pick_place.TARGET_HIGH, 0.0], 0.0),
             (np.r_[pick_place.OBJECT_LOW, 0.0], np.r_[pick_place.OBJECT_HIGH, 0.09], 0.0)]
    for low, high, dz in boxes:
        for corner in itertools.product(*zip(low, high)):
            u, v = _project(env, np.asarray(corner) + [0.0, 0.0, dz])
            assert 0 <= u < SIZE and 0 <= v < SIZE, (corner, u, v)


def test_default_view_is_a_droid_like_exterior_view():
    pose = CameraPose()
    assert 35.0 <= pose.azimuth_deg <= 85.0 and 15.0 <= pose.elevation_deg <= 45.0


@pytest.mark.parametrize("pose", [CameraPose(azimuth_deg=0.0), CameraPose(azimuth_deg=90.0),
                                  CameraPose(azimuth_deg=180.0),
                                  CameraPose(azimuth_deg=35.0, elevation_deg=20.0, distance=0.95),
                                  CameraPose(azimuth_deg=85.0, elevation_deg=35.0, distance=0.75)])
def test_leaving_the_floor_out_of_the_shadow_map_changes_no_pixel(pose):
    """At the camera sweep's azimuths and the random camera's extremes, frames with and without the floor in the
    shadow map are the same bits while the arm, the object and their shadows move."""
    env = gym.make("vjepa_bench/FrankaPickPlace-v1", object="box", image_size=SIZE).unwrapped
    env.reset(seed=3, options={"camera": pose})
    floor_casting = Renderer(env.model, SIZE, SIZE)
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(4):
        env.step(rng.uniform(env.action_space.low, env.action_space.high))
        frames.append(env.render_frame())
        assert np.array_equal(frames[-1], floor_casting.render(env.data, env._camera_id))
    assert all(changed(a, b).any() for a, b in itertools.pairwise(frames))
    floor_casting.close()
    env.close()
