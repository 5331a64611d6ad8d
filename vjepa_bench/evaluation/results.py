"""The versioned ``results.json`` contract (docs/conventions.md#state, README "Evaluate an agent") and the helpers that fill it."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from vjepa_bench import __version__
from vjepa_bench.evaluation.metrics import summarize
from vjepa_bench.fileio import dumps_json, file_sha256, write_json_atomic

RESULTS_SCHEMA = "vjepa-bench/results"
RESULTS_SCHEMA_VERSION = 1
SUITE = {"name": "vjepa-bench-sim", "version": __version__}


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON form of ``value`` (sorted keys, no whitespace)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def system_info(device: str | None = None) -> dict[str, Any]:
    """Package versions, Python, platform and compute device of this run."""
    packages = {}
    for name in ("vjepa-bench", "torch", "mujoco", "gymnasium", "numpy"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
        "device": device,
        "mujoco_gl": os.environ.get("MUJOCO_GL"),
    }


def build_results(
    *,
    task: dict[str, Any],
    agent: dict[str, Any],
    episode_list: list[dict[str, Any]],
    records: list[dict[str, Any]],
    records_file: Path,
    device: str | None,
) -> dict[str, Any]:
    """Assemble ``results.json`` for a finished (or partially finished) run."""
    return {
        "schema": RESULTS_SCHEMA,
        "schema_version": RESULTS_SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "suite": SUITE,
        "task": task,
        "agent": agent,
        "episodes": {
            "list_hash": canonical_hash(episode_list),
            "planned": len(episode_list),
            "file": records_file.name,
            "file_sha256": file_sha256(records_file) if records_file.exists() else None,
        },
        "records": records,
        "summary": summarize(records),
        "system": system_info(device),
    }



def _comparable(results: Any) -> Any:
    """A results value without its creation time, the one field that differs between equal results."""
    return {k: v for k, v in results.items() if k != "created"} if isinstance(results, dict) else results


def write_results(path: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Write ``results`` as strict JSON unless ``path`` already says the same (creation time aside); return what
    ``path`` holds then."""
    fresh = json.loads(dumps_json(results))
    try:
        held = json.loads(path.read_bytes())
    except (OSError, ValueError):
        held = None
    if _comparable(held) == _comparable(fresh):
        return held
    write_json_atomic(path, fresh)
    return fresh
