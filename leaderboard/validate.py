"""Checking an entry: schema, hashes, episode list, task versions and env hash against the lock, recomputed counts.

Every problem is one line ``<file>: <field>: <what is wrong>``; an entry with no problems is valid.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.results import canonical_hash
from vjepa_bench.leaderboard.entries import FREE_ENV_KEYS, binding_hash, finite, loads_strict, records_hash

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "submission-v1.json"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_problems(entry: Any) -> list[str]:
    """JSON Schema violations, one ``field: message`` each, in a stable order."""
    if not finite(entry):
        return ["(numbers): NaN or infinity found; every number must be finite"]
    errors = sorted(_validator().iter_errors(entry), key=lambda e: (_where(e.absolute_path), e.message))
    return [f"{_where(e.absolute_path)}: {e.message[:200]}" for e in errors]


def _result_problems(i: int, result: dict[str, Any], entry: dict[str, Any], lock: dict[str, Any]) -> list[str]:
    at = f"results[{i}]"
    pinned = lock["tracks"].get(result["track"])
    if pinned is None:
        return [f"{at}.track: unknown track {result['track']!r}; tracks: {', '.join(lock['tracks'])}"]
    out = []
    if result["task"] != pinned["task"]:
        out.append(f"{at}.task: {result['task']!r}, but track {result['track']!r} pins task version {pinned['task']!r}")
    if result["platform"] != pinned["platform"]:
        out.append(f"{at}.platform: {result['platform']!r}, track {result['track']!r} is {pinned['platform']!r}")
    episodes = result["episodes"]
    counts = Counter(e["episode"] for e in episodes)
    dupes = sorted(k for k, c in counts.items() if c > 1)
    if dupes:
        out.append(f"{at}.episodes: episode(s) {dupes[:5]} appear more than once")
    if result["n_episodes"] != len(episodes):
        out.append(f"{at}.n_episodes: says {result['n_episodes']}, the records hold {len(episodes)} episodes")
    successes = sum(e["success"] for e in episodes)
    if result["n_success"] != successes:
        out.append(f"{at}.n_success: says {result['n_success']}, the records count {successes} successes (rate edited?)")
    if result["records_sha256"] != records_hash(episodes):
        out.append(f"{at}.records_sha256: does not match the episode records (an outcome or distance was edited)")
    if result["checkpoint_sha256"] != entry["model"]["checkpoint_sha256"]:
        out.append(f"model.checkpoint_sha256: differs from the checkpoint the {result['track']!r} run used "
                   f"({at}.checkpoint_sha256)")
    if len(episodes) < pinned["min_episodes"]:
        out.append(f"{at}.episodes: {len(episodes)} episodes, track {result['track']!r} needs at least "
                   f"{pinned['min_episodes']}")
    if pinned["platform"] == "sim":
        out += _sim_problems(at, result, pinned, lock)
    return out


def _sim_problems(at: str, result: dict[str, Any], pinned: dict[str, Any], lock: dict[str, Any]) -> list[str]:
    out = []
    fixed = {k: v for k, v in result["env_kwargs"].items() if k not in FREE_ENV_KEYS}
    if fixed != pinned["env_kwargs"]:
        out.append(f"{at}.env_kwargs: {fixed} but track {result['track']!r} fixes {pinned['env_kwargs']} "
                   f"(only {', '.join(FREE_ENV_KEYS)} is free)")
    if result["env_hash"] != lock["env_hash"]:
        out.append(f"{at}.env_hash: run on another environment (task code, assets or MuJoCo {lock['mujoco']}) than "
                   f"the lock's; re-run on the current tree")
    wanted = {e["episode"]: e["seed"] for e in pinned["episodes"]}
    given = {e["episode"]: e["seed"] for e in result["episodes"]}
    missing = sorted(set(wanted) - set(given))
    extra = sorted(set(given) - set(wanted))
    reseeded = sorted(k for k in set(wanted) & set(given) if wanted[k] != given[k])
    if missing:
        out.append(f"{at}.episodes: episode(s) {missing[:5]} of the track's list are missing")
    if extra:
        out.append(f"{at}.episodes: episode(s) {extra[:5]} are not in the track's list")
    if reseeded:
        out.append(f"{at}.episodes: episode(s) {reseeded[:5]} ran with other seeds than the track's list")
    listed = canonical_hash([{"episode": e["episode"], "seed": e["seed"]} for e in result["episodes"]])
    if result["episode_list_sha256"] != pinned["episode_list_sha256"] or listed != pinned["episode_list_sha256"]:
        out.append(f"{at}.episode_list_sha256: not the episode list the lock pins for track {result['track']!r}")
    return out


def entry_problems(entry: Any, lock: dict[str, Any]) -> list[str]:
    """Every problem of a parsed entry (``field: message`` lines); empty when it is valid."""
    problems = schema_problems(entry)
    if problems:
        return problems
    tracks = [r["track"] for r in entry["results"]]
    if len(set(tracks)) != len(tracks):
        problems.append(f"results: a track appears twice ({', '.join(tracks)})")
    for i, result in enumerate(entry["results"]):
        problems += _result_problems(i, result, entry, lock)
    if entry["binding_sha256"] != binding_hash(entry):
        problems.append("binding_sha256: does not match the entry's content (edited after submit)")
    return problems


def file_problems(path: Path, lock: dict[str, Any]) -> list[str]:
    """Problems of one submission file, each line prefixed with the file name."""
    path = Path(path)
    try:
        entry = loads_strict(path.read_bytes(), str(path))
    except OSError as err:
        return [f"{path}: cannot read ({err.strerror})"]
    except UsageError as err:
        return [str(err)]
    problems = entry_problems(entry, lock)
    if not problems and path.parent.name == "submissions" and path.stem != entry["id"]:
        problems.append(f"id: {entry['id']!r}, the file should be named {entry['id']}.json")
    return [f"{path}: {p}" for p in problems]
