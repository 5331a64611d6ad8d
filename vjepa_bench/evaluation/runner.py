"""The episode runner behind ``vjepa-bench eval``: seeded episodes, one JSON line each, resumable results.

A run folder holds one run. Its identity (env, agent, planner and checkpoint, with every default filled in) is
hashed; ``run.json`` holds it and every line of ``episodes.jsonl`` carries the hash, so only the same run can
resume into the folder, even once ``run.json`` is gone. The folder is locked while a run writes to it, and every
check that can refuse a run is made before anything in the folder is written.
"""

from __future__ import annotations

import inspect
import json
import math
import tempfile
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from tqdm import tqdm

from vjepa_bench.agents import AGENTS, make_agent
from vjepa_bench.envs import CameraPose, CameraRandomization, FrankaEnv, make_env
from vjepa_bench.envs.video import EpisodeRecorder
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.episode import play
from vjepa_bench.evaluation.records import EpisodeLog
from vjepa_bench.evaluation.results import build_results, canonical_hash, write_results
from vjepa_bench.fileio import FolderLock, dumps_json, write_text_atomic
from vjepa_bench.planning import NonFiniteEnergy, PlannerConfig

RUN_FILE = "run.json"
RECORDS_FILE = "episodes.jsonl"
RESULTS_FILE = "results.json"
RUN_KEY = "run_sha256"
"""The record field holding the hash of the run identity that wrote it."""
_PLAIN = (type(None), bool, int, float, str)


@dataclass
class EvalSpec:
    """Everything that defines an evaluation run; its identity guards resuming into the same folder."""

    env_id: str
    env_kwargs: dict[str, Any]
    agent: str
    agent_kwargs: dict[str, Any]
    episodes: list[dict[str, int]]
    output_dir: Path
    videos: int = 0
    progress: bool = field(default=True, compare=False)


def episode_list(count: int, first_seed: int = 0) -> list[dict[str, int]]:
    """The standard episode list: episode ``i`` is reset with seed ``first_seed + i``."""
    if count < 1:
        raise UsageError(f"episodes={count}: need at least one episode")
    return [{"episode": i, "seed": first_seed + i} for i in range(count)]


def _jsonable(value: Any) -> Any:
    if is_dataclass(value):
        return _jsonable(asdict(value))
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _signature_defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    """The keyword defaults of ``factory`` that are plain values (None, bool, number, string)."""
    params = inspect.signature(factory).parameters.values()
    return {p.name: p.default for p in params if p.default is not p.empty and isinstance(p.default, _PLAIN)}


def normalised_env_kwargs(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the env's defaults filled in (and a complete camera pose), so explicit defaults match none."""
    spec = gym.spec(env_id)
    env_class = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    full = {**_signature_defaults(env_class), **spec.kwargs, **kwargs}
    if isinstance(env_class, type) and issubclass(env_class, FrankaEnv):
        full["camera"] = CameraPose.from_any(full["camera"]).as_dict()
        if full["camera_randomization"] is not None:
            full["camera_randomization"] = asdict(CameraRandomization.from_any(full["camera_randomization"]))
    return full


def normalised_agent_kwargs(name: str, kwargs: dict[str, Any], agent: Any) -> dict[str, Any]:
    """``kwargs`` with the agent's defaults filled in, its planner settings as the built planner's full config."""
    full = {**_signature_defaults(AGENTS[name]), **kwargs}
    config = getattr(getattr(agent, "planner", None), "config", None)
    if isinstance(config, PlannerConfig):
        full["planner"] = asdict(config)
    return full


def run_identity(spec: EvalSpec, agent: Any) -> dict[str, Any]:
    """What must match for a run to resume into the same folder (the episode list may grow)."""
    return _jsonable({
        "env_id": spec.env_id,
        "env_kwargs": normalised_env_kwargs(spec.env_id, spec.env_kwargs),
        "agent": spec.agent,
        "agent_kwargs": normalised_agent_kwargs(spec.agent, spec.agent_kwargs, agent),
        "checkpoint_sha256": getattr(agent, "checkpoint_sha256", None),
    })


def _check_output_dir(folder: Path) -> None:
    """``folder`` must be a folder, or not exist yet, under a folder this user can write."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"output_dir={folder}: {existing} is a file, not a folder; choose another output_dir=...")
    try:  # a real write, not os.access: root passes access checks on read-only file systems
        tempfile.TemporaryDirectory(prefix=".vjepa-bench-probe-", dir=existing).cleanup()
    except OSError as e:
        raise UsageError(f"output_dir={folder}: cannot write in {existing} ({e.strerror}); choose a writable "
                         "output_dir=...") from None


def _check_spec(spec: EvalSpec) -> None:
    """Refuse a bad ``videos`` or ``output_dir`` before anything is built or written."""
    videos = spec.videos
    if isinstance(videos, bool) or not isinstance(videos, int) or videos < 0:
        raise UsageError(f"videos={videos!r}: must be an integer >= 0 (how many episodes to record)")
    _check_output_dir(Path(spec.output_dir))


def _other_run(spec: EvalSpec, where: str) -> UsageError:
    return UsageError(f"{spec.output_dir} holds a run with a different env, agent, planner or checkpoint "
                      f"(see {where}); choose another output_dir=... or delete that folder")


def _stored_run_hash(run_file: Path) -> str | None:
    """The hash in ``run.json``; None when there is no such file."""
    if not run_file.exists():
        return None
    try:
        stored = json.loads(run_file.read_bytes())["hash"]
    except (OSError, ValueError, KeyError, TypeError):
        stored = None
    if not isinstance(stored, str):
        raise UsageError(f"{run_file} is not a run file; delete it (each episode in {RECORDS_FILE} still names "
                         "its run) and run again")
    return stored


def _open_folder(spec: EvalSpec, run_hash: str) -> EpisodeLog:
    """The folder's episode log, once the folder is known to hold this run or nothing (reads only)."""
    folder = Path(spec.output_dir)
    log = EpisodeLog(folder / RECORDS_FILE)
    if _stored_run_hash(folder / RUN_FILE) not in (None, run_hash):
        raise _other_run(spec, str(folder / RUN_FILE))
    seeds = {e["episode"]: e["seed"] for e in spec.episodes}
    for episode, record in log.records.items():
        if record.get(RUN_KEY) != run_hash:
            raise _other_run(spec, f"{log.path}, episode {episode}")
        if episode in seeds and record["seed"] != seeds[episode]:
            raise UsageError(
                f"{log.path}: episode {episode} ran with seed {record['seed']}, this run asks for seed "
                f"{seeds[episode]}; keep seed= as before or choose another output_dir=..."
            )
    return log


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless the file already holds exactly that."""
    if not (path.is_file() and path.read_bytes() == text.encode("utf-8")):
        write_text_atomic(path, text)


def _finite_energy(value: Any) -> float:
    energy = float(value)
    if not math.isfinite(energy):
        raise NonFiniteEnergy(f"world model produced non-finite energy ({energy}) reported by the agent; check "
                              "the checkpoint (re-train or download it again) and the observations")
    return energy


def run_episode(env: gym.Env, agent: Any, seed: int, recorder: EpisodeRecorder | None = None) -> dict[str, Any]:
    """Run one seeded episode to termination or truncation; return its record (without the episode index).

    ``final_distance`` is the privileged distance to the final goal (for pick-and-place, the placement). A
    non-finite energy in the agent's ``step_info`` raises ``NonFiniteEnergy``.
    """
    plan_times: list[float] = []
    energies: list[float] = []
    steps, total_reward = 0, 0.0
    for t in play(env, agent, seed):
        if recorder is not None:
            recorder.add(t.observation, t.info)
        if t.action is None:
            camera = t.info.get("camera")
            continue
        plan_times.append(float(t.agent_info.get("planning_time_s", t.act_seconds)))
        if "energy" in t.agent_info:
            energies.append(_finite_energy(t.agent_info["energy"]))
        steps += 1
        total_reward += t.reward
    info = t.info
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


def _agent_label(spec: EvalSpec, agent: Any) -> str:
    """The agent and, if it has one, its checkpoint, for an error message."""
    label = f"agent {spec.agent!r}"
    if "checkpoint" in spec.agent_kwargs:
        label += f" with checkpoint {spec.agent_kwargs['checkpoint']!r}"
    sha256 = getattr(agent, "checkpoint_sha256", None)
    return label + (f" (sha256 {sha256[:12]})" if sha256 else "")


def _episode(spec: EvalSpec, env: gym.Env, agent: Any, entry: dict[str, int], run_hash: str) -> dict[str, Any]:
    """Run one episode of the list (recording its video if asked) and return its record."""
    recorder = EpisodeRecorder() if entry["episode"] < spec.videos else None
    try:
        record = run_episode(env, agent, entry["seed"], recorder)
    except NonFiniteEnergy as err:
        raise UsageError(f"{_agent_label(spec, agent)}, episode {entry['episode']} (seed {entry['seed']}): "
                         f"{err}") from None
    if recorder is not None:  # before the record: a kill in between re-runs the episode
        recorder.save(Path(spec.output_dir) / "videos" / f"episode_{entry['episode']:04d}.mp4")
    return {"episode": entry["episode"], RUN_KEY: run_hash, **record}


def _run_episodes(spec: EvalSpec, env: gym.Env, agent: Any, log: EpisodeLog, run_hash: str) -> None:
    """Run every episode of the list that the log does not hold yet, appending each as it finishes."""
    todo = [e for e in spec.episodes if e["episode"] not in log]
    bar = tqdm(todo, desc=f"{spec.agent} on {spec.env_id}", unit="ep", disable=not spec.progress or not todo)
    for entry in bar:
        log.append(_episode(spec, env, agent, entry, run_hash))
        done = log.ordered()
        bar.set_postfix(success=f"{sum(r['success'] for r in done)}/{len(done)}")


def _results(spec: EvalSpec, agent: Any, log: EpisodeLog) -> dict[str, Any]:
    return build_results(
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


def run_evaluation(spec: EvalSpec) -> dict[str, Any]:
    """Run (or resume) every episode of ``spec`` and write ``episodes.jsonl`` and ``results.json``.

    Bad settings and a folder holding another run are refused before the folder is claimed or written; a
    folder in use by another run is refused at once. A resumed run with nothing left to do writes nothing but
    a ``results.json`` that changed.
    """
    _check_spec(spec)
    folder = Path(spec.output_dir)
    agent = make_agent(spec.agent, **spec.agent_kwargs)
    env = make_env(spec.env_id, **spec.env_kwargs)
    try:
        identity = run_identity(spec, agent)
        run_hash = canonical_hash(identity)
        _open_folder(spec, run_hash)  # refuse another run's folder before the lock file is touched
        with FolderLock(folder, f"vjepa-bench eval of {spec.agent} on {spec.env_id}"):
            log = _open_folder(spec, run_hash)  # again: another run may have written before the lock was ours
            _write_if_changed(folder / RUN_FILE, dumps_json({"hash": run_hash, "spec": identity}))
            _run_episodes(spec, env, agent, log, run_hash)
            return write_results(folder / RESULTS_FILE, _results(spec, agent, log))
    finally:
        env.close()


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
