"""The submission server on a real uvicorn on loopback: auth, limits, dedup, statuses, a concurrent load test."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from test_leaderboard import make_entry
from vjepa_bench.cli import main as cli_main
from vjepa_bench.leaderboard.server import SubmissionStore, create_app
from vjepa_bench.leaderboard.tracks import SUBMISSIONS_DIR, build_lock

TOKEN = "test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, database path) of a live server; stopped after the module."""
    db = tmp_path_factory.mktemp("srv") / "board.sqlite"
    app = create_app(SubmissionStore(db), build_lock(), TOKEN, max_bytes=200_000)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", limit_concurrency=500))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start within 15 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", db
    srv.should_exit = True
    thread.join(timeout=10)


def _post(url: str, body: bytes, token: str | None = TOKEN) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.post(f"{url}/api/submissions", content=body, headers=headers, timeout=30)


def test_auth_size_limit_and_statuses(server, tmp_path):
    url, db = server
    body = json.dumps(make_entry(tmp_path, "solo")).encode()
    assert _post(url, body, token=None).status_code == 401
    assert _post(url, body, token="wrong").json()["reason"].startswith("missing or wrong bearer token")
    assert _post(url, b"{" + b" " * 300_000 + b"}").status_code == 413
    created = _post(url, body)
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    assert _post(url, body).json() == {"status": "rejected", "reason": "duplicate: an identical entry was already submitted"}
    assert httpx.get(f"{url}/api/submissions/{number}").json()["status"] == "validated"
    assert httpx.get(f"{url}/api/submissions/999999").status_code == 404
    assert "solo" in httpx.get(f"{url}/").text

    cli_main(["leaderboard", "admin", f"db={db}", "action=reject", f"number={number}", "reason=spam"])
    row = httpx.get(f"{url}/api/submissions/{number}").json()
    assert (row["status"], row["reason"]) == ("rejected", "spam")
    assert "solo" not in httpx.get(f"{url}/").text
    site = tmp_path / "site"
    cli_main(["leaderboard", "admin", f"db={db}", "action=rebuild", f"out_dir={site}"])
    assert sorted(p.name for p in site.iterdir()) == ["README.md", "index.html", "leaderboard.json"]


def test_admin_verify_replays_a_stored_baseline(server):
    url, db = server
    entry = json.loads((SUBMISSIONS_DIR / "baseline-random.json").read_text())
    entry["verification"] = None
    created = _post(url, json.dumps(entry).encode())
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    cli_main(["leaderboard", "admin", f"db={db}", "action=verify", f"number={number}", "episodes=1"])
    assert httpx.get(f"{url}/api/submissions/{number}").json()["status"] == "verified"
    assert "verified</span>" in httpx.get(f"{url}/").text


@pytest.mark.timeout(120)
def test_load_200_concurrent_submissions(server, tmp_path):
    url, _ = server
    valid = [json.dumps(make_entry(tmp_path, f"load{i}", rate=i / 100)).encode() for i in range(80)]
    tampered = []
    for i in range(30):
        entry = json.loads(valid[i])
        entry["results"][0]["n_success"] += 1
        tampered.append(json.dumps(entry).encode())
    malformed = [valid[i][: 50 + i] for i in range(20)] + [b'{"schema_version": 1}'] * 10 + \
                [valid[i].replace(b'"final_distance": 0.01', b'"final_distance": NaN', 1) for i in range(60, 70)]
    jobs = [("valid", v, TOKEN) for v in valid] + [("dup", valid[i], TOKEN) for i in range(40)] + \
           [("bad", b, TOKEN) for b in tampered + malformed] + [("auth", valid[0], None)] * 10
    assert len(jobs) == 200 and all(b"NaN" in m for m in malformed[-10:])
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda job: (job[0], job[1], _post(url, job[1], job[2])), jobs))

    stored = [json.loads(body)["id"] for kind, body, r in answers if r.status_code == 201]
    assert sorted(stored) == sorted(json.loads(v)["id"] for v in valid)  # every valid entry exactly once
    for kind, _, r in answers:
        if r.status_code != 201:
            assert r.json()["status"] == "rejected" and r.json()["reason"], (kind, r.text)
            assert kind != "valid" or r.status_code == 409
        assert kind not in ("bad", "auth") or r.status_code in (400, 401, 422)
    listing = httpx.get(f"{url}/api/submissions").json()
    assert len({row["entry_id"] for row in listing if row["entry_id"].startswith("load")}) == 80
    assert httpx.get(f"{url}/leaderboard.json").status_code == 200  # still answering
