"""Append-only JSON-lines episode log: one line per finished episode, durable and safe to resume."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class EpisodeLog:
    """The ``episodes.jsonl`` file of a run: each finished episode is appended and fsync-ed at once.

    A run killed while writing leaves at most one partial last line; it is dropped on the next open so that
    the episode is simply run again.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: dict[int, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        good_end = 0
        for line_no, line in enumerate(raw.splitlines(keepends=True), start=1):
            if not line.endswith(b"\n"):
                break  # a partial line from a killed run
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{self.path}:{line_no} is not valid JSON ({err.msg}); move the file away to start the run afresh"
                ) from None
            self.records[int(record["episode"])] = record
            good_end += len(line)
        if good_end != len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(good_end)

    def __contains__(self, episode: int) -> bool:
        return episode in self.records

    def append(self, record: dict[str, Any]) -> None:
        """Write one episode record and make it durable before returning."""
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records[int(record["episode"])] = record

    def ordered(self) -> list[dict[str, Any]]:
        """Records sorted by episode index."""
        return [self.records[k] for k in sorted(self.records)]
