"""``vjepa-bench leaderboard <verb>``: lock, submit, validate, verify, build, serve, admin, baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.runner import EvalSpec, run_evaluation
from vjepa_bench.leaderboard.board import board_data, to_html, to_markdown, write_board
from vjepa_bench.leaderboard.entries import build_entry, dumps, loads_strict
from vjepa_bench.leaderboard.tracks import SUBMISSIONS_DIR, load_lock, track, write_lock, write_text_atomic
from vjepa_bench.leaderboard.validate import file_problems
from vjepa_bench.leaderboard.verify import verify_entry
from vjepa_bench.schema.leaderboard import (
    AdminConfig,
    BaselinesConfig,
    BuildConfig,
    LockConfig,
    ServeConfig,
    SubmitConfig,
    ValidateConfig,
    VerifyConfig,
)


def lock(s: LockConfig) -> None:
    written = write_lock(Path(s.lock))
    print(f"{s.lock}: env hash {written['env_hash']}, {len(written['tracks'])} tracks")


def _problems_error(problems: list[str]) -> UsageError:
    return UsageError(f"{len(problems)} problem(s):\n" + "\n".join(problems))


def write_entry(entry: dict[str, Any], out_dir: Path) -> Path:
    """Write an entry as ``<out_dir>/<id>.json`` and check it; a failing entry is removed again."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{entry['id']}.json"
    write_text_atomic(path, dumps(entry))
    problems = file_problems(path, load_lock())
    if problems:
        path.unlink()
        raise _problems_error(problems)
    return path


def submit(s: SubmitConfig) -> None:
    if not s.name or not s.model:
        raise UsageError("name=... and model=... are required (who submits, and the model's display name)")
    entry = build_entry([Path(r) for r in s.runs], s.name, s.model, contact=s.contact, link=s.link, notes=s.notes,
                        checkpoint_uri=s.checkpoint_uri)
    print(f"wrote {write_entry(entry, Path(s.out_dir))}")


def _submission_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("*.json"))


def validate(s: ValidateConfig) -> None:
    files = [Path(f) for f in s.files] or _submission_files(SUBMISSIONS_DIR)
    lock_data = load_lock(Path(s.lock))
    problems = [p for f in files for p in file_problems(f, lock_data)]
    if problems:
        raise _problems_error(problems)
    print(f"{len(files)} entr{'y' if len(files) == 1 else 'ies'} valid")


def _read_entry(path: Path) -> dict[str, Any]:
    problems = file_problems(path, load_lock())
    if problems:
        raise _problems_error(problems)
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


def valid_entries(directory: Path) -> list[tuple[dict[str, Any], bool]]:
    """``(entry, verified)`` for every submission file; any invalid file is a ``UsageError`` listing problems."""
    lock_data = load_lock()
    files = _submission_files(directory)
    problems = [p for f in files for p in file_problems(f, lock_data)]
    if problems:
        raise _problems_error(problems)
    entries = [loads_strict(f.read_bytes(), str(f)) for f in files]
    return [(e, bool((e.get("verification") or {}).get("match"))) for e in entries]


def build(s: BuildConfig) -> None:
    board = board_data(valid_entries(Path(s.submissions)), load_lock()["env_hash"])
    out = Path(s.out_dir)
    if s.check:
        wanted = {"README.md": to_markdown(board), "leaderboard.json": json.dumps(board, indent=1, sort_keys=True)
                  + "\n", "index.html": to_html(board)}
        stale = [n for n, text in wanted.items()
                 if not (out / n).is_file() or (out / n).read_text(encoding="utf-8") != text]
        if stale:
            raise UsageError(f"{out}: {', '.join(stale)} out of date; run `vjepa-bench leaderboard build`")
        print(f"{out}: board up to date")
        return
    for path in write_board(board, out):
        print(f"wrote {path}")


def serve(s: ServeConfig) -> None:
    import uvicorn

    from vjepa_bench.leaderboard.server import SubmissionStore, create_app

    Path(s.db).parent.mkdir(parents=True, exist_ok=True)
    app = create_app(SubmissionStore(Path(s.db)), load_lock(), s.bearer_token(), s.max_bytes)
    print(f"serving on http://{s.host}:{s.port}/ (database {s.db})")
    uvicorn.run(app, host=s.host, port=s.port, log_level="warning")


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


def run_baseline(agent: str, track_name: str, image_size: int, runs_dir: Path, env_hash: str) -> Path:
    """Run (or resume) ``agent`` on a track's episode list; the folder is keyed by the env hash."""
    t = track(track_name)
    if t.platform != "sim":
        raise UsageError(f"tracks: {track_name!r} is a real-robot track; baselines run in simulation only")
    folder = runs_dir / env_hash[:12] / track_name / agent
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

