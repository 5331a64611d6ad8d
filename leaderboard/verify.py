"""Replaying a seeded sample of an entry's episodes with its own agent config and checkpoint."""

from __future__ import annotations

import platform
import socket
from datetime import datetime, timezone
from typing import Any

import numpy as np

from vjepa_bench.agents import make_agent
from vjepa_bench.envs import make_env
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.runner import run_episode

DISTANCE_TOLERANCE_M = 1e-4  # replays on another machine may differ in the last float bits


def choose_episodes(entry: dict[str, Any], count: int, seed: int) -> list[tuple[str, int]]:
    """``count`` (track, episode) pairs drawn without replacement from the entry's sim episodes, by ``seed``."""
    pool = [(r["track"], e["episode"]) for r in entry["results"] if r["platform"] == "sim" for e in r["episodes"]]
    if not pool:
        raise UsageError(f"{entry['id']}: no simulated episodes to replay (real-robot entries are self-reported)")
    picks = np.random.default_rng(seed).choice(len(pool), size=min(count, len(pool)), replace=False)
    return sorted(pool[i] for i in picks)


def verify_entry(entry: dict[str, Any], count: int = 3, seed: int = 0,
                 agent_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Re-run ``count`` chosen episodes and compare outcomes and final distances with the entry's records.

    Returns the verification stamp: date, machine, the seed and per-episode comparisons, ``match`` and, when they
    differ, ``differences`` (one line per differing episode).
    """
    config = {**entry["model"]["agent_config"], **(agent_overrides or {})}
    agent = make_agent(entry["model"]["agent"], **config)
    checkpoint = getattr(agent, "checkpoint_sha256", None)
    if checkpoint != entry["model"]["checkpoint_sha256"]:
        raise UsageError(f"{entry['id']}: the agent loaded checkpoint {checkpoint}, the entry was run with "
                         f"{entry['model']['checkpoint_sha256']}; set the checkpoint path to the entry's file")
    results = {r["track"]: r for r in entry["results"]}
    compared, differences = [], []
    for track_name, episode in choose_episodes(entry, count, seed):
        result = results[track_name]
        record = next(e for e in result["episodes"] if e["episode"] == episode)
        env = make_env(result["task"], **result["env_kwargs"])
        try:
            replay = run_episode(env, agent, record["seed"])
        finally:
            env.close()
        same = replay["success"] == record["success"] and abs(
            replay["final_distance"] - record["final_distance"]) <= DISTANCE_TOLERANCE_M
        compared.append({"track": track_name, "episode": episode, "seed": record["seed"], "match": same,
                         "success": replay["success"], "final_distance": round(replay["final_distance"], 6)})
        if not same:
            differences.append(
                f"{track_name} episode {episode} (seed {record['seed']}): recorded success={record['success']} "
                f"distance={record['final_distance']:.6f} m, replay success={replay['success']} "
                f"distance={replay['final_distance']:.6f} m")
    stamp = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{socket.gethostname()} ({platform.machine()}, {getattr(agent, 'device_name', None) or 'cpu'})",
        "seed": seed, "episodes": compared, "match": not differences,
    }
    if differences:
        stamp["differences"] = differences
    return stamp
