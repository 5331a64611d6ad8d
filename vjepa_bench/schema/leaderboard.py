"""``vjepa-bench leaderboard <verb>``: the settings of each verb, one dataclass each (``leaderboard_<verb>_schema``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from vjepa_bench.errors import UsageError
from vjepa_bench.schema.checks import check_count

TOKEN_ENV = "VJEPA_BENCH_LEADERBOARD_TOKEN"
LOCK_FILE = "leaderboard/tracks.lock.json"
SERVER_DB = "runs/leaderboard/server.sqlite"


@dataclass(frozen=True)
class LockConfig:
    """``lock``: rewrite the track lock from the current tree."""

    lock: str = LOCK_FILE


@dataclass(frozen=True)
class SubmitConfig:
    """``submit``: one entry from eval run folders; ``name`` (who submits) and ``model`` are required."""

    runs: tuple[str, ...] = ()
    name: str = ""
    model: str = ""
    contact: str | None = None
    link: str | None = None
    notes: str | None = None
    checkpoint_uri: str | None = None
    out_dir: str = "leaderboard/submissions"


@dataclass(frozen=True)
class ValidateConfig:
    """``validate``: check entries against the schema and the lock."""

    files: tuple[str, ...] = ()  # empty: every leaderboard/submissions/*.json
    lock: str = LOCK_FILE


@dataclass(frozen=True)
class VerifyConfig:
    """``verify``: replay ``episodes`` seeded-chosen episodes of ``entry`` with its own config."""

    entry: str = ""
    episodes: int = 3
    seed: int = 0
    write: bool = True  # store the verification stamp in the entry file

    def __post_init__(self) -> None:
        check_count("episodes", self.episodes, 1)


@dataclass(frozen=True)
class BuildConfig:
    """``build``: write the board; ``check`` only compares with the files in ``out_dir``."""

    submissions: str = "leaderboard/submissions"
    out_dir: str = "leaderboard"
    check: bool = False  # non-zero exit when the board files are stale


@dataclass(frozen=True)
class ServeConfig:
    """``serve``: the submission server (SQLite at ``db``); the token is ``token`` or ``$VJEPA_BENCH_LEADERBOARD_TOKEN``."""

    host: str = "127.0.0.1"
    port: int = 8765
    db: str = SERVER_DB
    token: str | None = None
    max_bytes: int = 8_000_000

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not 1 <= self.port <= 65535:
            raise UsageError(f"port={self.port!r}: must be a TCP port in [1, 65535]")
        check_count("max_bytes", self.max_bytes, 1)

    def bearer_token(self) -> str:
        token = self.token or os.environ.get(TOKEN_ENV)
        if not token:
            raise UsageError(f"no submission token: set token=... or the environment variable {TOKEN_ENV}")
        return token


@dataclass(frozen=True)
class AdminConfig:
    """``admin``: ``action=verify|reject number=<n>`` on a submission, or ``action=rebuild`` of the site."""

    db: str = SERVER_DB
    action: str = ""  # verify | reject | rebuild
    number: int | None = None
    reason: str | None = None
    episodes: int = 3
    seed: int = 0
    out_dir: str = "runs/leaderboard/site"

    def __post_init__(self) -> None:
        check_count("episodes", self.episodes, 1)


@dataclass(frozen=True)
class BaselinesConfig:
    """``baselines``: relock, run the baseline agents on the tracks' episode lists, submit them, build the board."""

    agents: tuple[str, ...] = ("scripted", "random")
    tracks: tuple[str, ...] = ("reach",)
    image_size: int = 64
    runs_dir: str = "runs/leaderboard"
    relock: bool = True

    def __post_init__(self) -> None:
        check_count("image_size", self.image_size, 1)

