"""``vjepa-bench leaderboard verify|admin|baselines``: the verbs that run episodes (replaying an entry's, or the
baselines' own), so load the agents and the envs."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

from vjepa_bench.agents import load_agents
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.runner import EvalSpec, run_evaluation
from vjepa_bench.leaderboard.board import board_data, write_board
from vjepa_bench.leaderboard.command import problems_error, valid_entries, write_entry
from vjepa_bench.leaderboard.entries import build_entry, dumps, loads_strict
from vjepa_bench.leaderboard.tracks import SUBMISSIONS_DIR, load_lock, track, write_lock, write_text_atomic
from vjepa_bench.leaderboard.validate import file_problems
from vjepa_bench.leaderboard.verify import verify_entry
from vjepa_bench.schema.leaderboard import AdminConfig, BaselinesConfig, VerifyConfig


def _read_entry(path: Path) -> dict[str, Any]:
    """The entry in ``path``, refused with every problem listed unless it is valid against the lock."""
    problems = file_problems(path, load_lock())
    if problems:
        raise problems_error(problems)
    return loads_strict(Path(path).read_bytes(), str(path))


def verify(s: VerifyConfig) -> None:
    if not s.entry:
        raise UsageError("entry=<file> is required, e.g. entry=leaderboard/submissions/<id>.json")
    path = Path(s.entry)
    entry = _read_entry(path)
    stamp = verify_entry(entry, s.episodes, s.seed)
    for line in stamp.get("differences", []):
        print(f"differs: {line}")
    if s.write:
        write_text_atomic(path, dumps({**entry, "verification": stamp}))
    print(f"{path}: {len(stamp['episodes'])} episode(s) replayed, {'verified' if stamp['match'] else 'NOT verified'}")
    if not stamp["match"]:
        raise UsageError(f"{path}: replay differs from the records (see the lines above)")


def admin(s: AdminConfig) -> None:
    from vjepa_bench.leaderboard.server import SubmissionStore, board_from_store

    if not Path(s.db).is_file():
        raise UsageError(f"db={s.db}: no such database; start `vjepa-bench leaderboard serve` first")
    store = SubmissionStore(Path(s.db))
    if s.action == "rebuild":
        for path in write_board(board_from_store(store, load_lock()), Path(s.out_dir)):
            print(f"wrote {path}")
        return
    if s.action not in ("verify", "reject") or s.number is None:
        raise UsageError(f"action={s.action!r} number={s.number}: use action=verify|reject number=<n>, or rebuild")
    row = store.get(s.number)
    if row is None:
        raise UsageError(f"submission {s.number} is not in {s.db}")
    if s.action == "reject":
        store.set_status(s.number, "rejected", s.reason or "rejected by an admin")
        print(f"submission {s.number}: rejected")
        return
    entry = loads_strict(row["payload"], f"submission {s.number}")
    stamp = verify_entry(entry, s.episodes, s.seed)
    status = "verified" if stamp["match"] else "rejected"
    reason = None if stamp["match"] else "; ".join(stamp["differences"])
    store.set_status(s.number, status, reason, dumps({**entry, "verification": stamp}))
    print(f"submission {s.number}: {status}" + (f" ({reason})" if reason else ""))


BASELINE_NAMES = {"scripted": "Scripted oracle (privileged)", "random": "Random actions",
                  "sim_cem": "CEM on the true simulator (privileged)", "vjepa_ac": "V-JEPA 2-AC (bundled small model)"}


def agent_code_hash(agent: str) -> str:
    """sha256 of the source file that defines ``agent``."""
    return hashlib.sha256(Path(inspect.getsourcefile(load_agents()[agent])).read_bytes()).hexdigest()


def run_baseline(agent: str, track_name: str, image_size: int, runs_dir: Path, env_hash: str) -> Path:
    """Run (or resume) ``agent`` on a track's episode list. The folder is keyed by the env hash and the agent's
    code, so that a changed env or a changed baseline runs afresh instead of resuming the old episodes."""
    t = track(track_name)
    if t.platform != "sim":
        raise UsageError(f"tracks: {track_name!r} is a real-robot track; baselines run in simulation only")
    folder = runs_dir / env_hash[:12] / track_name / f"{agent}-{agent_code_hash(agent)[:12]}"
    run_evaluation(EvalSpec(env_id=t.task, env_kwargs={"image_size": image_size, **t.env_kwargs}, agent=agent,
                            agent_kwargs={}, episodes=t.episode_list(), output_dir=folder, progress=False))
    return folder


def baselines(s: BaselinesConfig) -> None:
    unknown = [a for a in s.agents if a not in ("scripted", "random")]
    if unknown:
        raise UsageError(f"agents={unknown}: only scripted and random run here; submit others with `submit`")
    for name in s.tracks:
        track(name)
    lock_data = write_lock() if s.relock else load_lock()
    for agent in s.agents:
        folders = [run_baseline(agent, name, s.image_size, Path(s.runs_dir), lock_data["env_hash"])
                   for name in s.tracks]
        entry = build_entry(folders, "vjepa-bench baselines", BASELINE_NAMES[agent],
                            notes="`vjepa-bench leaderboard baselines`", entry_id=f"baseline-{agent}")
        print(f"wrote {write_entry(entry, SUBMISSIONS_DIR)}")
    board = board_data(valid_entries(SUBMISSIONS_DIR), lock_data["env_hash"])
    for path in write_board(board):
        print(f"wrote {path}")

