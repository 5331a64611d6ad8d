"""Record sim episodes into the trajectory store: every 4 Hz control step, resumable, with progress."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vjepa_bench import layout
from vjepa_bench.collection.policies import ExplorationPolicy, make_policy
from vjepa_bench.data.store import StoreError, Trajectory, TrajectoryWriter
from vjepa_bench.evaluation.episode import play
from vjepa_bench.fileio import FolderLock, write_json_atomic

__all__ = ["CollectSummary", "collect", "run_episode"]

_POLICY_STREAM = 0x5EED
"""Second word of the policy RNG seed, so the policy's draws never coincide with the env's."""


@dataclass(frozen=True)
class CollectSummary:
    out_dir: str
    written: int
    skipped: int
    successes: int
    """Successful episodes among those written in this call."""


class _SeededPolicy:
    """An exploration policy seen as an agent for :func:`~vjepa_bench.evaluation.episode.play`: its random stream is
    drawn from the episode seed (``(seed, _POLICY_STREAM)``) and handed to it at ``reset``, so nested policies share
    one reproducible stream (why exploration policies take an ``rng`` and agents do not)."""

    def __init__(self, policy: ExplorationPolicy, seed: int) -> None:
        self.policy, self.seed = policy, seed

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        self.policy.reset(observation, info, env, np.random.default_rng([self.seed, _POLICY_STREAM]))

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return self.policy.act(observation)

    def step_info(self) -> dict[str, Any]:
        return {}


def run_episode(env: Any, policy: ExplorationPolicy, seed: int, index: int, task: str) -> Trajectory:
    """One episode from ``env.reset(seed=seed)`` until it terminates or truncates, as a :class:`Trajectory`."""
    images, states, actions = [], [], []
    for t in play(env, _SeededPolicy(policy, seed), seed, prepare=layout.clip_action):
        images.append(t.observation["image"])
        states.append(t.observation["state"])
        if t.action is None:
            camera = t.info.get("camera")
        else:
            actions.append(t.action)
    info = t.info
    success = bool(info.get("success", False))
    attrs: dict[str, Any] = {"policy": getattr(policy, "current", policy.name), "steps": len(actions)}
    if "distance" in info:
        attrs["final_distance"] = float(info["distance"])
    return Trajectory(
        images=np.stack(images).astype(np.uint8),
        states=np.stack(states).astype(np.float32),
        actions=np.stack(actions).astype(np.float32),
        task=task,
        seed=int(seed),
        success=success,
        camera=dict(camera) if camera is not None else None,
        index=int(index),
        attrs=attrs,
    )


COLLECT_FILE = "collect.json"


def _recorded_settings(path: Path) -> dict[str, Any] | None:
    """The settings a store folder records, or None when it records none yet."""
    if not path.exists():
        return None
    try:
        recorded = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StoreError(f"{path}: unreadable collect settings ({error}); fix or delete that file") from error
    if not isinstance(recorded, dict):
        raise StoreError(f"{path}: expected a JSON object of collect settings, got {type(recorded).__name__}")
    return recorded


def _check_settings(out_dir: Path, settings: dict[str, Any]) -> None:
    """Refuse, naming each differing setting, a store folder recorded with other settings."""
    path = out_dir / COLLECT_FILE
    recorded = _recorded_settings(path)
    if recorded is None or recorded == settings:
        return
    changed = sorted(k for k in recorded.keys() | settings.keys() if recorded.get(k) != settings.get(k))
    differences = "; ".join(f"{k}: {recorded.get(k)!r} there, {settings.get(k)!r} now" for k in changed)
    raise StoreError(
        f"{path}: {out_dir} was collected with other {', '.join(changed)} ({differences}); "
        "use another out_dir=... for these settings"
    )


def _claim(out_dir: Path, settings: dict[str, Any]) -> None:
    """Record what a store folder is collected with; a resumed run must use the same settings."""
    _check_settings(out_dir, settings)
    if not (out_dir / COLLECT_FILE).exists():
        write_json_atomic(out_dir / COLLECT_FILE, settings)


def _settings(
    env_id: str, env_kwargs: dict[str, Any], max_steps: int | None, policy: str | ExplorationPolicy,
    policy_kwargs: dict[str, Any] | None,
) -> dict[str, Any]:
    """The settings a store folder is bound to, as plain JSON values."""
    settings = {
        "env_id": env_id, "env_kwargs": env_kwargs, "max_steps": max_steps, "policy_kwargs": policy_kwargs or {},
        "policy": policy if isinstance(policy, str) else type(policy).__name__,
    }  # fmt: skip
    return json.loads(json.dumps(settings, sort_keys=True, default=list))


def _check_seeds(writer: TrajectoryWriter, episodes: int, seed: int) -> None:
    for index in sorted(writer.done_indices & set(range(episodes))):
        if writer.seed_of(index) != seed + index:
            raise StoreError(
                f"{writer.shard_path(index)}: trajectory {index} was collected with seed {writer.seed_of(index)}, "
                f"not {seed + index}: {writer.root} holds a run with another base seed"
            )


def collect(
    env_id: str,
    episodes: int,
    out_dir: str | os.PathLike,
    policy: str | ExplorationPolicy = "mix",
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    shard_size: int = 100,
    progress: bool = True,
    max_steps: int | None = None,
    policy_kwargs: dict[str, Any] | None = None,
) -> CollectSummary:
    """Run ``episodes`` episodes of ``env_id`` with an exploration policy and store them in ``out_dir``.

    Episode ``i`` is reset with seed ``seed + i`` and stored as trajectory ``i``; episodes already in ``out_dir``
    are skipped, so an interrupted run resumes where it stopped (a stored episode with another seed is an error:
    the directory was collected with another base seed). The run holds ``out_dir``'s folder lock throughout, so a
    second collect into the same folder is refused at once; a folder collected with other settings (``collect.json``)
    is refused too, complete or not.

    Args:
        env_id: a registered id, e.g. ``vjepa_bench/FrankaPickPlace-v1``.
        policy: ``random``, ``noisy_scripted``, ``mix`` or a policy object (see :mod:`vjepa_bench.collection.policies`).
        env_kwargs: keyword arguments of the env (``image_size``, ``object``, ``camera``,
            ``camera_randomization``, ...).
        shard_size: trajectories per HDF5 shard.
        max_steps: episode length cap (``gymnasium.make``'s ``max_episode_steps``); ``None`` keeps the env's.
        policy_kwargs: fields of the named policy.
    """
    if episodes < 0:
        raise ValueError(f"episodes must be >= 0, got {episodes}")
    explorer = make_policy(policy, **(policy_kwargs or {})) if isinstance(policy, str) else policy
    out = Path(out_dir)
    kwargs = dict(env_kwargs or {})
    settings = _settings(env_id, kwargs, max_steps, policy, policy_kwargs)
    with FolderLock(out, f"vjepa-bench collect {env_id} into {out}"):
        _check_settings(out, settings)
        writer = TrajectoryWriter(out, shard_size=shard_size, locked=True)
        _check_seeds(writer, episodes, seed)
        todo = [i for i in range(episodes) if i not in writer.done_indices]
        if not todo:
            return CollectSummary(out_dir=str(out_dir), written=0, skipped=episodes, successes=0)
        env = _make_limited_env(env_id, kwargs, max_steps)
        try:
            _claim(out, settings)
            successes = _run(env, explorer, writer, todo, seed, env_id, progress, skipped=episodes - len(todo))
        finally:
            env.close()
    return CollectSummary(out_dir=str(out_dir), written=len(todo), skipped=episodes - len(todo), successes=successes)


def _make_limited_env(env_id: str, env_kwargs: dict[str, Any], max_steps: int | None) -> Any:
    """The env, refused when it has no episode step limit (an episode might never end)."""
    from vjepa_bench.envs import make_env

    make_kwargs = {} if max_steps is None else {"max_episode_steps": int(max_steps)}
    env = make_env(env_id, **make_kwargs, **env_kwargs)
    if env.spec is None or env.spec.max_episode_steps is None:
        env.close()
        raise ValueError(f"{env_id} has no episode step limit, so an episode might never end: pass max_steps")
    return env


def _run(
    env: Any, explorer: ExplorationPolicy, writer: TrajectoryWriter, todo: list[int], seed: int, env_id: str,
    progress: bool, skipped: int,
) -> int:
    """Run and store the episodes ``todo``; returns how many succeeded."""
    successes = 0
    with tqdm(todo, desc=f"collect {env_id}", unit="episode", disable=not progress) as bar:
        for written, index in enumerate(bar, start=1):
            trajectory = run_episode(env, explorer, seed + index, index, env_id)
            writer.write(trajectory)
            successes += int(bool(trajectory.success))
            bar.set_postfix(success=f"{successes}/{written}", skipped=skipped)
    return successes
