"""``vjepa-bench leaderboard <verb>``: lock, submit, validate, build and serve (the verbs that run no episode, so
need no agent or torch; verify, admin and baselines are in ``leaderboard.replay``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vjepa_bench.errors import UsageError
from vjepa_bench.leaderboard.board import board_data, to_html, to_markdown, write_board
from vjepa_bench.leaderboard.entries import build_entry, dumps, loads_strict
from vjepa_bench.leaderboard.tracks import SUBMISSIONS_DIR, load_lock, write_lock, write_text_atomic
from vjepa_bench.leaderboard.validate import file_problems
from vjepa_bench.schema.leaderboard import BuildConfig, LockConfig, ServeConfig, SubmitConfig, ValidateConfig


def lock(s: LockConfig) -> None:
    written = write_lock(Path(s.lock))
    print(f"{s.lock}: env hash {written['env_hash']}, {len(written['tracks'])} tracks")


def problems_error(problems: list[str]) -> UsageError:
    return UsageError(f"{len(problems)} problem(s):\n" + "\n".join(problems))


def write_entry(entry: dict[str, Any], out_dir: Path) -> Path:
    """Write an entry as ``<out_dir>/<id>.json`` and check it; a failing entry is removed again."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{entry['id']}.json"
    write_text_atomic(path, dumps(entry))
    problems = file_problems(path, load_lock())
    if problems:
        path.unlink()
        raise problems_error(problems)
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
        raise problems_error(problems)
    print(f"{len(files)} entr{'y' if len(files) == 1 else 'ies'} valid")


def valid_entries(directory: Path) -> list[tuple[dict[str, Any], bool]]:
    """``(entry, verified)`` for every submission file; any invalid file is a ``UsageError`` listing problems."""
    lock_data = load_lock()
    files = _submission_files(directory)
    problems = [p for f in files for p in file_problems(f, lock_data)]
    if problems:
        raise problems_error(problems)
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
