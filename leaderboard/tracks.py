"""Tracks, their fixed episode lists, and the lock file that pins task versions and the environment hash."""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mujoco

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.results import canonical_hash
from vjepa_bench.fileio import write_text_atomic

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = Path(__file__).resolve().parent / "tracks.lock.json"
SUBMISSIONS_DIR = Path(__file__).resolve().parent / "submissions"
LOCK_VERSION = 1
CAMERA_RANDOMIZATION = {"azimuth_deg": [35.0, 85.0], "elevation_deg": [20.0, 35.0], "distance": [0.75, 0.95]}


@dataclass(frozen=True)
class Track:
    """One board column group: a task (and object, camera setting) run on a fixed list of seeded episodes.

    ``env_kwargs`` are the env settings an entry must use; any other setting (``image_size``) is the entry's choice.
    Real-robot tracks are self-reported: no episode list, no env hash, never ranked with sim.
    """

    name: str
    task: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    platform: str = "sim"
    episodes: int = 50
    first_seed: int = 0
    min_episodes: int = 50
    title: str = ""

    def episode_list(self) -> list[dict[str, int]]:
        return [{"episode": i, "seed": self.first_seed + i} for i in range(self.episodes)]


def _object_tracks() -> list[Track]:
    tasks = {"grasp": "FrankaGrasp-v1", "reach_with_object": "FrankaReachWithObject-v1", "pick_place": "FrankaPickPlace-v1"}
    return [
        Track(f"{short}_{obj}", f"vjepa_bench/{task}", {"object": obj}, title=f"{short.replace('_', ' ')} ({obj})")
        for short, task in tasks.items()
        for obj in ("cup", "box")
    ]


TRACKS: dict[str, Track] = {
    t.name: t
    for t in [
        Track("reach", "vjepa_bench/FrankaReach-v1", title="reach"),
        *_object_tracks(),
        Track("camera", "vjepa_bench/FrankaReach-v1", {"camera_randomization": CAMERA_RANDOMIZATION},
              first_seed=1000, title="reach, randomised camera poses"),
        Track("real_reach", "vjepa_bench/FrankaReal-v1", platform="real", episodes=0, min_episodes=10,
              title="reach on a real Franka (self-reported)"),
    ]
}


def track(name: str) -> Track:
    """The track called ``name``; an unknown name is a ``UsageError`` listing the known ones."""
    if name not in TRACKS:
        raise UsageError(f"unknown track {name!r}; tracks: {', '.join(TRACKS)}")
    return TRACKS[name]


def _task_file_sha256(path: Path) -> str:
    """sha256 of an asset's bytes, or of a Python file's code: its syntax tree without bare strings (docstrings of
    modules, classes and functions, and those under constants), so that rewording a comment or a docstring leaves
    the task version (and every entry bound to it) valid."""
    if path.suffix != ".py":
        return hashlib.sha256(path.read_bytes()).hexdigest()
    tree = ast.parse(path.read_bytes(), str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [s for s in body if not _is_bare_string(s)] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def _is_bare_string(statement: ast.AST) -> bool:
    """Whether ``statement`` is a string on its own (a docstring): it does nothing when run."""
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def env_files() -> list[Path]:
    """The files that define the simulated tasks: env code (not the real-robot adapters) and scene assets."""
    code = sorted((PACKAGE_ROOT / "envs").glob("*.py"))
    assets = [p for p in sorted((PACKAGE_ROOT / "assets").iterdir())
              if p.is_file() and p.suffix in {".xml", ".stl", ".obj", ".png"}]
    return [*code, PACKAGE_ROOT / "vjepa_bench" / "layout.py", *assets]


def env_hash() -> str:
    """sha256 over the sorted (path, code or content sha256) pairs of ``env_files()`` and the MuJoCo version."""
    pairs = [[p.relative_to(PACKAGE_ROOT).as_posix(), _task_file_sha256(p)] for p in env_files()]
    return canonical_hash({"files": pairs, "mujoco": mujoco.__version__})


def build_lock() -> dict[str, Any]:
    """The lock's content for the current tree: per sim track its task id, env settings and episode list."""
    tracks = {}
    for t in TRACKS.values():
        entry: dict[str, Any] = {"task": t.task, "platform": t.platform, "min_episodes": t.min_episodes}
        if t.platform == "sim":
            episodes = t.episode_list()
            entry.update(env_kwargs=t.env_kwargs, episodes=episodes, episode_list_sha256=canonical_hash(episodes))
        tracks[t.name] = entry
    return {"lock_version": LOCK_VERSION, "env_hash": env_hash(), "mujoco": mujoco.__version__, "tracks": tracks}


def write_lock(path: Path = LOCK_FILE) -> dict[str, Any]:
    """Rewrite the lock file from the current tree (after a task change) and return it."""
    lock = build_lock()
    write_text_atomic(path, json.dumps(lock, indent=1, sort_keys=True) + "\n")
    return lock


def load_lock(path: Path = LOCK_FILE) -> dict[str, Any]:
    """The committed lock; a missing or unreadable file is a ``UsageError`` saying how to make it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise UsageError(f"{path}: cannot read the lock file ({err}); run `vjepa-bench leaderboard lock`") from None


def track_for_run(task: str, env_kwargs: dict[str, Any]) -> Track:
    """The track whose task and fixed settings match a run's env id and kwargs (the real env: the real track)."""
    for t in TRACKS.values():
        fixed = {k: env_kwargs.get(k) for k in ("object", "camera", "camera_randomization")}
        wanted = {"object": None, "camera": None, "camera_randomization": None, **t.env_kwargs}
        if t.task == task and (t.platform == "real" or fixed == wanted):
            return t
    raise UsageError(
        f"no track runs {task} with {env_kwargs}; tracks fix the object and camera: "
        + "; ".join(f"{t.name}: {t.task} {t.env_kwargs}" for t in TRACKS.values() if t.platform == "sim")
    )
