"""Building a submission entry from evaluation run folders, and the hashes that bind it together."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.results import canonical_hash
from vjepa_bench.leaderboard.tracks import env_hash, load_lock, track_for_run

SCHEMA_VERSION = 1
EPISODE_FIELDS = ("episode", "seed", "success", "final_distance", "steps")
FREE_ENV_KEYS = ("image_size",)  # env settings an entry may choose; a track fixes everything else


def records_hash(episodes: list[dict[str, Any]]) -> str:
    """The hash that ties a result's per-episode records to the entry."""
    return canonical_hash(episodes)


def binding_hash(entry: dict[str, Any]) -> str:
    """sha256 over everything in the entry except the binding itself and the verification stamp."""
    return canonical_hash({k: v for k, v in entry.items() if k not in ("binding_sha256", "verification")})


def payload_hash(blob: bytes) -> str:
    """Duplicate key of a submitted file: sha256 of its canonical JSON (whitespace and key order ignored)."""
    return canonical_hash(json.loads(blob))


def loads_strict(blob: bytes | str, source: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity, with a one-line error naming ``source``."""
    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not allowed (numbers must be finite)")

    try:
        return json.loads(blob, parse_constant=refuse)
    except ValueError as err:
        raise UsageError(f"{source}: not valid JSON: {err}") from None


def _read_run(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "results.json"
    if not path.is_file():
        raise UsageError(f"{path}: no results.json; pass run folders written by `vjepa-bench eval`")
    return loads_strict(path.read_bytes(), str(path))


def _check_records_file(results: dict[str, Any], folder: Path) -> None:
    """The run's ``episodes.jsonl`` must hold exactly the records of its ``results.json``."""
    path = folder / "episodes.jsonl"
    if not path.is_file():
        raise UsageError(f"{path}: missing; a run folder needs the episodes.jsonl that `vjepa-bench eval` wrote")
    logged = {}
    for line in path.read_bytes().splitlines():
        record = loads_strict(line, str(path))
        logged[record["episode"]] = record
    for record in results["records"]:
        if logged.get(record["episode"]) != record:
            raise UsageError(f"{path}: episode {record['episode']} differs from {folder / 'results.json'}; "
                             "re-run the same `vjepa-bench eval` command to rewrite results.json")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "entry"


def track_result(results: dict[str, Any], source: Path) -> dict[str, Any]:
    """One track block from a run's ``results.json``: fixed settings, hashes and per-episode outcomes."""
    _check_records_file(results, source)
    kwargs = dict(results["task"]["kwargs"])
    t = track_for_run(results["task"]["id"], kwargs)
    lock = load_lock()["tracks"][t.name]
    episodes = sorted(({k: r[k] for k in EPISODE_FIELDS} for r in results["records"]), key=lambda e: e["episode"])
    if t.platform == "real":
        if len(episodes) < t.min_episodes:
            raise UsageError(f"{source}: {len(episodes)} episodes, the real-robot track needs {t.min_episodes}")
    elif len(episodes) != len(lock["episodes"]):
        raise UsageError(
            f"{source}: {len(episodes)} finished episodes, track {t.name!r} needs its {len(lock['episodes'])}; "
            f"run `vjepa-bench eval ... episodes={len(lock['episodes'])} seed={t.first_seed}` into the same folder"
        )
    return {
        "track": t.name,
        "task": results["task"]["id"],
        "platform": t.platform,
        "env_kwargs": kwargs,
        "env_hash": env_hash() if t.platform == "sim" else None,
        "episode_list_sha256": canonical_hash([{"episode": e["episode"], "seed": e["seed"]} for e in episodes])
        if t.platform == "sim" else None,
        "checkpoint_sha256": results["agent"].get("checkpoint_sha256"),
        "n_episodes": len(episodes),
        "n_success": sum(e["success"] for e in episodes),
        "episodes": episodes,
        "records_sha256": records_hash(episodes),
    }


def build_entry(
    runs: list[Path], name: str, model: str, *, contact: str | None = None, link: str | None = None,
    notes: str | None = None, checkpoint_uri: str | None = None, created: str | None = None,
    entry_id: str | None = None,
) -> dict[str, Any]:
    """An entry from one run folder per track; every run must share the agent, its config and checkpoint.

    The id is ``entry_id`` or ``<slug of name>-<8 hex of the content hash>``.
    """
    if not runs:
        raise UsageError("runs=[]: give at least one run folder, e.g. runs=[runs/eval/reach/scripted/default]")
    loaded = [(Path(r), _read_run(Path(r))) for r in runs]
    first_path, first = loaded[0]
    agent = first["agent"]
    for path, res in loaded[1:]:
        if (res["agent"]["name"], res["agent"]["config"], res["agent"].get("checkpoint_sha256")) != (
                agent["name"], agent["config"], agent.get("checkpoint_sha256")):
            raise UsageError(f"{path}: another agent, config or checkpoint than {first_path}; submit them apart")
    results = [track_result(res, path) for path, res in loaded]
    tracks = [r["track"] for r in results]
    if len(set(tracks)) != len(tracks):
        raise UsageError(f"runs: two run folders for the same track ({', '.join(tracks)}); keep one per track")
    entry: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": "",
        "submission": {
            "name": name, "contact": contact, "link": link, "notes": notes,
            "created": created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "model": {
            "name": model, "agent": agent["name"], "agent_config": agent["config"],
            "checkpoint_sha256": agent.get("checkpoint_sha256"), "checkpoint_uri": checkpoint_uri,
        },
        "system": first.get("system", {}),
        "results": sorted(results, key=lambda r: r["track"]),
    }
    entry["id"] = entry_id or f"{_slug(name)}-{binding_hash(entry)[:8]}"
    entry["binding_sha256"] = binding_hash(entry)
    return entry


def dumps(entry: dict[str, Any]) -> str:
    """The canonical file text of an entry (sorted keys, fixed indentation)."""
    return json.dumps(entry, indent=1, sort_keys=True, allow_nan=False) + "\n"


def finite(value: Any) -> bool:
    """True when every number inside ``value`` is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True
