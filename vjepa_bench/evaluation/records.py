"""Append-only JSON-lines episode log: one line per finished episode, durable and safe to resume."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from vjepa_bench.errors import UsageError


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not allowed (numbers must be finite)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_record(value: Any) -> bool:
    """An episode record: an object with integer ``episode`` (>= 0) and ``seed`` and a boolean ``success``."""
    return (isinstance(value, dict) and _is_int(value.get("episode")) and value["episode"] >= 0
            and _is_int(value.get("seed")) and isinstance(value.get("success"), bool))


class EpisodeLog:
    """The ``episodes.jsonl`` file of a run: each finished episode is appended and fsync-ed at once.

    Opening reads only. A run killed while appending leaves at most one partial last line (cut short, with or
    without its newline): it is left out of ``records`` and cut off the file before the next append, with a
    warning, so that only its episode runs again. Any other bad line is a ``UsageError`` naming it.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: dict[int, dict[str, Any]] = {}
        self._torn: tuple[int, int] | None = None  # (line number, byte offset) of a partial last line
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        lines = self.path.read_bytes().splitlines(keepends=True)
        offset = 0
        for line_no, line in enumerate(lines, start=1):
            record = self._parse(line, line_no, last=line_no == len(lines))
            if record is None:
                self._torn = (line_no, offset)
                return
            self.records[record["episode"]] = record
            offset += len(line)

    def _parse(self, line: bytes, line_no: int, last: bool) -> dict[str, Any] | None:
        """The record on one line; None for a partial last line."""
        if last and not line.endswith(b"\n"):
            return None
        try:
            value = json.loads(line, parse_constant=_refuse_constant)
        except ValueError as err:  # also UnicodeDecodeError
            if last:
                return None
            raise self._bad_line(line_no, f"is not valid JSON ({err})") from None
        if not _is_record(value):
            raise self._bad_line(line_no, "is not an episode record (an object with integer episode and seed "
                                          "and boolean success)")
        if value["episode"] in self.records:
            raise self._bad_line(line_no, f"repeats episode {value['episode']}")
        return value

    def _bad_line(self, line_no: int, what: str) -> UsageError:
        return UsageError(f"{self.path}:{line_no} {what}; delete that line (its episode runs again) or choose "
                          "another output_dir=...")

    def __contains__(self, episode: int) -> bool:
        return episode in self.records

    def drop_torn_tail(self) -> None:
        """Cut a partial last line (from a killed run) off the file, with a warning; nothing else is touched."""
        if self._torn is None:
            return
        line_no, offset = self._torn
        with open(self.path, "r+b") as f:
            f.truncate(offset)
            f.flush()
            os.fsync(f.fileno())
        self._torn = None
        warnings.warn(f"{self.path}:{line_no}: dropped a partial last line (a run was killed while writing it); "
                      "its episode runs again", stacklevel=2)

    def append(self, record: dict[str, Any]) -> None:
        """Write one episode record (strict JSON, one line) and make it durable before returning."""
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        self.drop_torn_tail()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records[int(record["episode"])] = record

    def ordered(self) -> list[dict[str, Any]]:
        """Records sorted by episode index."""
        return [self.records[k] for k in sorted(self.records)]
