"""Typed settings of the ``vjepa-bench leaderboard`` verbs: one frozen dataclass each, filled from the YAML in
``configs/leaderboard_<verb>.yaml`` plus overrides; an unknown or mistyped key is a one-line ``UsageError``."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from vjepa_bench.errors import UsageError

TOKEN_ENV = "VJEPA_BENCH_LEADERBOARD_TOKEN"


@dataclass(frozen=True)
class LockConfig:
    lock: str = "leaderboard/tracks.lock.json"


@dataclass(frozen=True)
class SubmitConfig:
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
    files: tuple[str, ...] = ()  # empty: every leaderboard/submissions/*.json
    lock: str = "leaderboard/tracks.lock.json"


@dataclass(frozen=True)
class VerifyConfig:
    entry: str = ""
    episodes: int = 3
    seed: int = 0
    write: bool = True  # store the verification stamp in the entry file


@dataclass(frozen=True)
class BuildConfig:
    submissions: str = "leaderboard/submissions"
    out_dir: str = "leaderboard"
    check: bool = False  # only compare with the files in out_dir; non-zero exit when they are stale


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    db: str = "runs/leaderboard/server.sqlite"
    token: str | None = None  # else $VJEPA_BENCH_LEADERBOARD_TOKEN
    max_bytes: int = 8_000_000

    def bearer_token(self) -> str:
        token = self.token or os.environ.get(TOKEN_ENV)
        if not token:
            raise UsageError(f"no submission token: set token=... or the environment variable {TOKEN_ENV}")
        return token


@dataclass(frozen=True)
class AdminConfig:
    db: str = "runs/leaderboard/server.sqlite"
    action: str = ""  # verify | reject | rebuild
    number: int | None = None
    reason: str | None = None
    episodes: int = 3
    seed: int = 0
    out_dir: str = "runs/leaderboard/site"


@dataclass(frozen=True)
class BaselinesConfig:
    agents: tuple[str, ...] = ("scripted", "random")
    tracks: tuple[str, ...] = ("reach",)
    image_size: int = 64
    runs_dir: str = "runs/leaderboard"
    relock: bool = True


C = TypeVar("C")


def _check_type(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_check_type(name, v, typing.get_args(hint)[0]) for v in value)
    allowed = typing.get_args(hint) if origin in (typing.Union, types.UnionType) else (hint,)
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise UsageError(f"{name}={value!r}: expected {' or '.join(getattr(k, '__name__', str(k)) for k in allowed)}")


def load(cls: type[C], cfg: DictConfig, verb: str) -> C:
    """Build ``cls`` from a composed config, naming a bad key and the YAML file that sets it."""
    values = OmegaConf.to_container(cfg, resolve=True)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UsageError(f"unknown key(s) {', '.join(unknown)} for `leaderboard {verb}` "
                         f"(configs/leaderboard_{verb}.yaml has: {', '.join(sorted(names))})")
    return cls(**{k: _check_type(k, v, hints[k]) for k, v in values.items()})
