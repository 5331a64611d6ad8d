"""The submission server (``vjepa-bench leaderboard serve``): FastAPI over SQLite, the same validator as the CLI.

``POST /api/submissions`` (bearer token, size limit) stores a valid entry once (duplicates are refused by payload
hash); ``GET /api/submissions[/<id>]`` lists entries and their status; ``/`` is the board built from the database's
validated and verified entries at each request.
"""

from __future__ import annotations

import hmac
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.results import canonical_hash
from vjepa_bench.leaderboard.board import board_data, to_html
from vjepa_bench.leaderboard.entries import loads_strict
from vjepa_bench.leaderboard.validate import entry_problems

STATUSES = ("pending", "validated", "verified", "rejected")
SCHEMA_SQL = """CREATE TABLE IF NOT EXISTS submissions (
  id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, entry_id TEXT NOT NULL, received_utc TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','validated','verified','rejected')), reason TEXT,
  payload TEXT NOT NULL)"""


class SubmissionStore:
    """The SQLite file behind the server; one connection per call, writes serialised by a lock."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA_SQL)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def add(self, sha256: str, entry_id: str, payload: str, status: str) -> int | None:
        """Store a new submission; ``None`` when one with the same payload hash exists."""
        with self._lock, self._connect() as db:
            try:
                cur = db.execute(
                    "INSERT INTO submissions (sha256, entry_id, received_utc, status, payload) VALUES (?,?,?,?,?)",
                    (sha256, entry_id, datetime.now(timezone.utc).isoformat(timespec="seconds"), status, payload))
            except sqlite3.IntegrityError:
                return None
            return int(cur.lastrowid)

    def set_status(self, number: int, status: str, reason: str | None = None, payload: str | None = None) -> None:
        """Change a submission's status (admin verbs); an unknown number is a ``UsageError``."""
        if status not in STATUSES:
            raise UsageError(f"status={status!r}: choose one of {', '.join(STATUSES)}")
        with self._lock, self._connect() as db:
            sql = "UPDATE submissions SET status=?, reason=?" + (", payload=?" if payload else "") + " WHERE id=?"
            args = (status, reason, payload, number) if payload else (status, reason, number)
            if db.execute(sql, args).rowcount == 0:
                raise UsageError(f"submission {number} is not in {self.path}")

    def get(self, number: int) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM submissions WHERE id=?", (number,)).fetchone()
        return dict(row) if row else None

    def rows(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM submissions ORDER BY id")]


def board_from_store(store: SubmissionStore, lock: dict[str, Any]) -> dict[str, Any]:
    """The board of the validated and verified submissions."""
    entries = [(loads_strict(r["payload"], "database"), r["status"] == "verified")
               for r in store.rows() if r["status"] in ("validated", "verified")]
    return board_data(entries, lock["env_hash"])


def create_app(store: SubmissionStore, lock: dict[str, Any], token: str, max_bytes: int) -> FastAPI:
    """The ASGI app; ``token`` is the bearer token submitters must send."""
    app = FastAPI(title="vjepa-bench leaderboard")

    def refuse(code: int, reason: str) -> JSONResponse:
        return JSONResponse({"status": "rejected", "reason": reason}, status_code=code)

    @app.post("/api/submissions")
    async def submit(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        if not hmac.compare_digest(auth.encode(), f"Bearer {token}".encode()):
            return refuse(401, "missing or wrong bearer token (header Authorization: Bearer <token>)")
        if int(request.headers.get("content-length") or 0) > max_bytes:
            return refuse(413, f"body larger than {max_bytes} bytes")
        body = await request.body()
        if len(body) > max_bytes:
            return refuse(413, f"body larger than {max_bytes} bytes")
        try:
            entry = loads_strict(body, "body")
        except UsageError as err:
            return refuse(400, str(err))
        problems = entry_problems(entry, lock)
        if problems:
            return refuse(422, "; ".join(problems[:10]))
        number = store.add(canonical_hash(entry), entry["id"], body.decode(), "validated")
        if number is None:
            return refuse(409, "duplicate: an identical entry was already submitted")
        return JSONResponse({"number": number, "id": entry["id"], "status": "validated"}, status_code=201)

    @app.get("/api/submissions")
    def listing() -> list[dict[str, Any]]:
        return [{k: r[k] for k in ("id", "entry_id", "status", "reason", "received_utc")} for r in store.rows()]

    @app.get("/api/submissions/{number}")
    def one(number: int) -> JSONResponse:
        row = store.get(number)
        if row is None:
            return JSONResponse({"reason": f"no submission {number}"}, status_code=404)
        return JSONResponse({k: row[k] for k in ("id", "entry_id", "status", "reason", "received_utc")})

    @app.get("/leaderboard.json")
    def board_json() -> dict[str, Any]:
        return board_from_store(store, lock)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return to_html(board_from_store(store, lock))

    return app
