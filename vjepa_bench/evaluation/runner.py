"""The episode runner behind ``vjepa-bench eval``: seeded episodes, one JSON line each, resumable results."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from vjepa_bench.agents import make_agent
from vjepa_bench.envs import make_env
from vjepa_bench.envs.video import EpisodeRecorder
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.metrics import summarize
from vjepa_bench.evaluation.records import EpisodeLog
from vjepa_bench.evaluation.results import (
    build_results,
    canonical_hash,
    write_json_atomic,
)

RUN_FILE = "run.json"
RECORDS_FILE = "episodes.jsonl"
RESULTS_FILE = "results.json"


@dataclass
class EvalSpec:
    """Everything that defines an evaluation run; its hash guards resuming into the same folder."""

    env_id: str
    env_kwargs: dict[str, Any]
    agent: str
    agent_kwargs: dict[str, Any]
    episodes: list[dict[str, int]]
    output_dir: Path
    videos: int = 0
    progress: bool = field(default=True, compare=False)

    def identity(self, checkpoint_sha256: str | None) -> dict[str, Any]:
        """What must match for a run to resume into the same folder (the episode list may grow)."""
        return {
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "agent": self.agent,
            "agent_kwargs": self.agent_kwargs,
            "checkpoint_sha256": checkpoint_sha256,
        }


def episode_list(count: int, first_seed: int = 0) -> list[dict[str, int]]:
    """The standard episode list: episode ``i`` is reset with seed ``first_seed + i``."""
    if count < 1:
        raise UsageError(f"episodes={count}: need at least one episode")
    return [{"episode": i, "seed": first_seed + i} for i in range(count)]


def _jsonable(value: Any) -> Any:
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _guard_resume(spec: EvalSpec, checkpoint_sha256: str | None, log: EpisodeLog) -> None:
    run_file = spec.output_dir / RUN_FILE
    identity = _jsonable(spec.identity(checkpoint_sha256))
    if run_file.exists() and json.loads(run_file.read_text()).get("hash") != canonical_hash(identity):
        raise UsageError(
            f"{spec.output_dir} holds a run with a different env, agent, planner or checkpoint "
            f"(see {run_file}); choose another output_dir=... or delete that folder"
        )
    seeds = {e["episode"]: e["seed"] for e in spec.episodes}
    for episode, record in log.records.items():
        if episode in seeds and record["seed"] != seeds[episode]:
            raise UsageError(
                f"{log.path}: episode {episode} ran with seed {record['seed']}, this run asks for seed "
                f"{seeds[episode]}; keep seed= as before or choose another output_dir=..."
            )
    write_json_atomic(run_file, {"hash": canonical_hash(identity), "spec": identity})


def run_episode(env: gym.Env, agent: Any, seed: int, recorder: EpisodeRecorder | None = None) -> dict[str, Any]:
    """Run one seeded episode to termination or truncation; return its record (without the episode index).

    ``final_distance`` is the privileged distance to the final goal (for pick-and-place, the placement).
    """
    obs, info = env.reset(seed=seed)
    agent.reset(obs, info, env.unwrapped)
    camera = info.get("camera")
    plan_times: list[float] = []
    energies: list[float] = []
    steps, total_reward = 0, 0.0
    if recorder is not None:
        recorder.add(obs, info)
    while True:
        start = time.perf_counter()
        action = agent.act(obs)
        elapsed = time.perf_counter() - start
        step_info = agent.step_info()
        plan_times.append(float(step_info.get("planning_time_s", elapsed)))
        if "energy" in step_info:
            energies.append(float(step_info["energy"]))
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        total_reward += float(reward)
        if recorder is not None:
            recorder.add(obs, info)
        if terminated or truncated:
            break
    return {
        "task": env.spec.id if env.spec else type(env.unwrapped).__name__,
        "seed": seed,
        "camera": _jsonable(camera),
        "success": bool(info["success"]),
        "final_distance": float(info.get("distance_to_final_goal", info["distance"])),
        "steps": steps,
        "return": total_reward,
        "planning_time_s": plan_times,
        "energies": energies,
        **({"outcome": info["outcome"]} if "outcome" in info else {}),  # the real env: success / aborted_safety
    }


def success_rate(env_id: str, agent: Any, episodes: int = 50, seed: int = 0, **env_kwargs: Any) -> dict[str, Any]:
    """In-memory success summary of ``agent`` over episodes with seeds ``seed, seed + 1, ...`` (no files).

    Returns ``summarize``'s block plus ``records``; ``vjepa-bench eval`` is the resumable, file-backed version.
    """
    env = make_env(env_id, **env_kwargs)
    try:
        records = [run_episode(env, agent, seed + i) for i in range(episodes)]
    finally:
        env.close()
    return {"env_id": env_id, **summarize(records), "records": records}


def run_evaluation(spec: EvalSpec) -> dict[str, Any]:
    """Run (or resume) every episode of ``spec`` and write ``episodes.jsonl`` and ``results.json``."""
    agent = make_agent(spec.agent, **spec.agent_kwargs)
    env = make_env(spec.env_id, **spec.env_kwargs)  # bad settings fail here, before the folder is claimed
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    log = EpisodeLog(spec.output_dir / RECORDS_FILE)
    _guard_resume(spec, getattr(agent, "checkpoint_sha256", None), log)
    todo = [e for e in spec.episodes if e["episode"] not in log]
    try:
        bar = tqdm(todo, desc=f"{spec.agent} on {spec.env_id}", unit="ep", disable=not spec.progress or not todo)
        for entry in bar:
            recorder = EpisodeRecorder() if entry["episode"] < spec.videos else None
            record = {"episode": entry["episode"], **run_episode(env, agent, entry["seed"], recorder)}
            if recorder is not None:  # before the record: a kill in between re-runs the episode
                recorder.save(spec.output_dir / "videos" / f"episode_{entry['episode']:04d}.mp4")
            log.append(record)
            done = log.ordered()
            bar.set_postfix(success=f"{sum(r['success'] for r in done)}/{len(done)}")
    finally:
        env.close()
    results = build_results(
        task={"id": spec.env_id, "kwargs": _jsonable(spec.env_kwargs)},
        agent={
            "name": spec.agent,
            "config": _jsonable(spec.agent_kwargs),
            "checkpoint_sha256": getattr(agent, "checkpoint_sha256", None),
        },
        episode_list=spec.episodes,
        records=[log.records[e["episode"]] for e in spec.episodes if e["episode"] in log],
        records_file=log.path,
        device=getattr(agent, "device_name", None),
    )
    write_json_atomic(spec.output_dir / RESULTS_FILE, results)
    return results


def format_summary(results: dict[str, Any]) -> str:
    """A short plain-text table of a results file's summary."""
    s = results["summary"]
    rate = "n/a" if s["success_rate"] is None else f"{100 * s['success_rate']:.1f}%"
    low, high = s["wilson95"]
    plan = s["mean_planning_time_s"]
    rows = [
        ("task", results["task"]["id"]),
        ("agent", results["agent"]["name"]),
        ("episodes", f"{s['n']} / {results['episodes']['planned']}"),
        ("success", f"{s['successes']} ({rate}, Wilson 95% [{100 * low:.1f}, {100 * high:.1f}])"),
        ("final distance", "n/a" if s["mean_final_distance"] is None else f"{s['mean_final_distance']:.4f} m"),
        ("plan time/action", "n/a" if plan is None else f"{plan:.4f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
