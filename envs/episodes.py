"""Run agents on the envs: one episode, or a success rate over seeded episodes (the figures in the report)."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from vjepa_bench.envs.video import EpisodeRecorder


def run_episode(env: gym.Env, agent: Any, seed: int, video_path: str | None = None) -> dict[str, Any]:
    """One episode of ``agent`` (Agent protocol) on ``env`` from ``reset(seed=seed)``; returns a JSON-able record."""
    obs, info = env.reset(seed=seed)
    agent.reset(obs, info, env.unwrapped)
    recorder = EpisodeRecorder() if video_path else None
    if recorder:
        recorder.add(obs, info)
    steps, planning, done = 0, 0.0, False
    while not done:
        start = time.perf_counter()
        action = agent.act(obs)
        planning += time.perf_counter() - start
        obs, _, terminated, truncated, info = env.step(action)
        steps += 1
        done = terminated or truncated
        if recorder:
            recorder.add(obs, info)
    if recorder:
        recorder.save(video_path)
    return {"seed": seed, "success": bool(info["success"]), "final_distance": float(info["distance_to_final_goal"]),
            "steps": steps, "planning_time_s": planning / max(steps, 1),
            "camera": env.unwrapped.camera_pose.as_dict()}


def success_rate(env_id: str, agent: Any, episodes: int = 50, seed: int = 0, **env_kwargs: Any) -> dict[str, Any]:
    """Success over ``episodes`` episodes with seeds ``seed, seed + 1, ...`` (one env, reused).

    Example (the report's figures)::

        from vjepa_bench.agents.scripted import ScriptedAgent
        success_rate("vjepa_bench/FrankaPickPlace-v0", ScriptedAgent(), 50, object="cup", image_size=64)
    """
    env = gym.make(env_id, **env_kwargs)
    try:
        records = [run_episode(env, agent, seed + i) for i in range(episodes)]
    finally:
        env.close()
    successes = sum(r["success"] for r in records)
    return {"env_id": env_id, "env_kwargs": env_kwargs, "agent": getattr(agent, "name", type(agent).__name__),
            "episodes": episodes, "successes": successes, "success_rate": successes / episodes,
            "mean_final_distance": float(np.mean([r["final_distance"] for r in records])), "records": records}


def baseline_table(agent_factory: Any, episodes: int = 50, seed: int = 0, image_size: int = 64) -> list[dict]:
    """Success of one agent on every task (and both objects where there is one); the records are left out.

    The report's figures::

        python -c "import json; from vjepa_bench.envs.episodes import baseline_table; \\
            from vjepa_bench.agents.scripted import ScriptedAgent; \\
            print(json.dumps(baseline_table(ScriptedAgent, 50), indent=1))"

    ``image_size`` does not change the physics (the scripted and random agents ignore images); 64 px saves time.
    """
    from vjepa_bench.envs import ENV_IDS, OBJECT_TASKS

    rows = []
    for env_id in ENV_IDS:
        for obj in ("box", "cup") if env_id in OBJECT_TASKS else (None,):
            kwargs = {"object": obj} if obj else {}
            result = success_rate(env_id, agent_factory(), episodes, seed, image_size=image_size, **kwargs)
            result.pop("records")
            rows.append(result)
    return rows
