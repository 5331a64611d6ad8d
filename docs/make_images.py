"""The README's task images, and how closely the scripted oracle's last frame matches each goal image.

Run: ``MUJOCO_GL=egl python docs/make_images.py [out_dir]`` (default ``docs/images``). Writes ``default_view.png``
(reach start frame at the default camera, 256 px), ``goals.png`` (one goal image per task and object),
``grippers.png`` (the Franka Hand and the Robotiq 2F-85 open and closed above the box, with the fraction of the
pixels that opening changes) and prints, per task, the mean absolute pixel difference (0-255) between the goal image
and (a) the start frame, (b) the oracle's frame at the end of a successful episode.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import imageio.v3 as iio
import numpy as np

import mujoco

import vjepa_bench.envs  # noqa: F401 - registers the envs
from vjepa_bench.agents.scripted import ScriptedAgent
from vjepa_bench.envs import scene

TASKS = [("FrankaReach-v1", None), ("FrankaGrasp-v1", "box"), ("FrankaGrasp-v1", "cup"),
         ("FrankaPickPlace-v1", "box"), ("FrankaPickPlace-v1", "cup"), ("FrankaReachWithObject-v1", "box"),
         ("FrankaReachWithObject-v1", "cup")]


def oracle_match(env_id: str, obj: str | None, seed: int) -> tuple[np.ndarray, float, float]:
    """The final goal image, its distance to the start frame and to the oracle's last frame."""
    kwargs = {"object": obj} if obj else {}
    env = gym.make(f"vjepa_bench/{env_id}", **kwargs)
    obs, info = env.reset(seed=seed)
    goal = info["goal"]["images"][-1]
    start = np.abs(obs["image"].astype(int) - goal).mean()
    agent = ScriptedAgent()
    agent.reset(obs, info, env)
    for _ in range(env.unwrapped.max_episode_steps):
        obs, _, terminated, truncated, _ = env.step(agent.act(obs))
        if terminated or truncated:
            break
    end = np.abs(obs["image"].astype(int) - goal).mean()
    env.close()
    return goal, float(start), float(end)


def gripper_views() -> np.ndarray:
    """Each gripper closed and open with the hand 20 cm above the box (grasp seed 0), side by side; prints the
    fraction of the pixels that opening changes (summed channel difference over 30)."""
    frames = []
    for gripper in scene.GRIPPERS:
        env = gym.make("vjepa_bench/FrankaGrasp-v1", gripper=gripper).unwrapped
        env.reset(seed=0)
        env.set_robot(np.array([0.48, 0.0, 0.2]))
        pair = []
        for opening in (0.0, env.gripper.open_opening):
            env.data.qpos[env._finger_qpos] = env.gripper.joint_positions(opening)
            mujoco.mj_forward(env.model, env.data)
            pair.append(env.render_frame())
        changed = (np.abs(pair[0].astype(int) - pair[1].astype(int)).sum(-1) > 30).mean()
        print(f"{gripper}: opening changes {100 * changed:.2f} % of the pixels")
        frames += pair
        env.close()
    return np.concatenate(frames, axis=1)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    env = gym.make("vjepa_bench/FrankaReach-v1")
    obs, _ = env.reset(seed=0)
    iio.imwrite(out_dir / "default_view.png", obs["image"])
    env.close()
    goals = []
    print("task | object | goal vs start frame | goal vs oracle's last frame (mean |diff|, 0-255)")
    for env_id, obj in TASKS:
        goal, start, end = oracle_match(env_id, obj, seed=0)
        goals.append(goal[::2, ::2])
        print(f"{env_id} | {obj or '-'} | {start:.1f} | {end:.1f}")
    iio.imwrite(out_dir / "goals.png", np.concatenate(goals, axis=1))
    iio.imwrite(out_dir / "grippers.png", gripper_views()[::2, ::2])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "images")
