"""Leaderboard entries: building, validation (schema, lock, hashes), tampering, statistics, the committed board."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vjepa_bench.errors import UsageError
from vjepa_bench.leaderboard.board import board_data, to_html, to_markdown
from vjepa_bench.leaderboard.command import valid_entries
from vjepa_bench.leaderboard.entries import binding_hash, build_entry, loads_strict, records_hash
from vjepa_bench.leaderboard.stats import suite_score, tied_ranks, wilson_interval
from vjepa_bench.leaderboard.tracks import SUBMISSIONS_DIR, TRACKS, build_lock, load_lock
from vjepa_bench.leaderboard.validate import entry_problems, file_problems

REACH = TRACKS["reach"]


def write_run(folder: Path, successes: list[bool], agent: str = "scripted", checkpoint: str | None = None,
              task: str = REACH.task, env_kwargs: dict[str, Any] | None = None, first_seed: int = 0) -> Path:
    """A run folder as ``vjepa-bench eval`` writes it (only the fields entries read), with the given outcomes."""
    folder.mkdir(parents=True, exist_ok=True)
    records = [{"episode": i, "seed": first_seed + i, "success": ok, "final_distance": 0.01 if ok else 0.2 + i / 1000,
                "steps": 12 if ok else 30, "task": task, "camera": None, "return": 0.0, "planning_time_s": [],
                "energies": []} for i, ok in enumerate(successes)]
    results = {"task": {"id": task, "kwargs": env_kwargs or {"image_size": 64}},
               "agent": {"name": agent, "config": {}, "checkpoint_sha256": checkpoint},
               "records": records, "system": {"python": "3.11"}}
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def make_entry(tmp: Path, name: str = "lab", rate: float = 0.8, agent: str = "scripted",
               checkpoint: str | None = None) -> dict[str, Any]:
    n_ok = round(rate * REACH.episodes)
    run = write_run(tmp / f"{name}-{agent}", [i < n_ok for i in range(REACH.episodes)], agent, checkpoint)
    return build_entry([run], name, f"{agent} model", created="2026-12-01T00:00:00+00:00")


@pytest.fixture(scope="module")
def lock() -> dict[str, Any]:
    return build_lock()


@pytest.fixture
def entry(tmp_path: Path) -> dict[str, Any]:
    return make_entry(tmp_path, checkpoint="ab" * 32)


def rebind(entry: dict[str, Any]) -> dict[str, Any]:
    entry["binding_sha256"] = binding_hash(entry)
    return entry


def test_valid_entry_has_no_problems(entry, lock):
    assert entry_problems(entry, lock) == []
    result = entry["results"][0]
    assert (result["track"], result["n_episodes"], result["n_success"]) == ("reach", 50, 40)


def test_entry_from_two_tracks_and_file_name_check(tmp_path, lock):
    reach = write_run(tmp_path / "reach", [True] * 50)
    cup = write_run(tmp_path / "cup", [False] * 50, task=TRACKS["grasp_cup"].task,
                    env_kwargs={"image_size": 64, "object": "cup"})
    entry = build_entry([reach, cup], "lab", "m")
    assert [r["track"] for r in entry["results"]] == ["grasp_cup", "reach"]
    assert entry_problems(entry, lock) == []
    (tmp_path / "submissions").mkdir()
    wrong = tmp_path / "submissions" / "other.json"
    wrong.write_text(json.dumps(entry))
    assert file_problems(wrong, lock) == [f"{wrong}: id: {entry['id']!r}, the file should be named {entry['id']}.json"]


def test_submit_refuses_runs_off_the_track(tmp_path):
    short = write_run(tmp_path / "short", [True] * 10)
    with pytest.raises(UsageError, match="10 finished episodes, track 'reach' needs its 50"):
        build_entry([short], "lab", "m")
    edited = write_run(tmp_path / "edited", [True] * 50)
    (edited / "episodes.jsonl").write_text((edited / "episodes.jsonl").read_text().replace("true", "false", 1))
    with pytest.raises(UsageError, match="episode 0 differs from"):
        build_entry([edited], "lab", "m")
    other_camera = write_run(tmp_path / "cam", [True] * 50, env_kwargs={"camera": {"azimuth_deg": 10}})
    with pytest.raises(UsageError, match="no track runs"):
        build_entry([other_camera], "lab", "m")


TAMPERINGS = {
    "outcome flipped": (lambda r: r["episodes"][3].update(success=not r["episodes"][3]["success"]),
                        "results[0].records_sha256: does not match the episode records"),
    "rate edited": (lambda r: r.update(n_success=r["n_success"] + 5), "results[0].n_success: says 45, the records count 40"),
    "episode removed": (lambda r: r["episodes"].pop(7), "results[0].episodes: episode(s) [7] of the track's list are missing"),
    "episode duplicated": (lambda r: r["episodes"].append(dict(r["episodes"][2])),
                           "results[0].episodes: episode(s) [2] appear more than once"),
    "episode list changed": (lambda r: r["episodes"][0].update(seed=999),
                             "results[0].episodes: episode(s) [0] ran with other seeds than the track's list"),
    "task version changed": (lambda r: r.update(task="vjepa_bench/FrankaReach-v0"),
                             "results[0].task: 'vjepa_bench/FrankaReach-v0', but track 'reach' pins task version"),
    "env hash changed": (lambda r: r.update(env_hash="0" * 64), "results[0].env_hash: run on another environment"),
    "list hash changed": (lambda r: r.update(episode_list_sha256="1" * 64),
                          "results[0].episode_list_sha256: not the episode list the lock pins"),
    "object changed": (lambda r: r["env_kwargs"].update(object="cup"), "results[0].env_kwargs:"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_each_tampering_is_caught_with_its_own_message(entry, lock, kind):
    edit, message = TAMPERINGS[kind]
    tampered = copy.deepcopy(entry)
    edit(tampered["results"][0])
    problems = entry_problems(tampered, lock)
    assert any(p.startswith(message) for p in problems), problems
    others = {m for k, (_, m) in TAMPERINGS.items() if k != kind and any(p.startswith(m) for p in problems)}
    assert message not in others


def test_checkpoint_hash_changed_is_caught(entry, lock):
    tampered = copy.deepcopy(entry)
    tampered["model"]["checkpoint_sha256"] = "cd" * 32
    assert entry_problems(tampered, lock)[0].startswith("model.checkpoint_sha256: differs from the checkpoint")
    tampered["results"][0]["checkpoint_sha256"] = "cd" * 32  # both edited: only the binding hash can tell
    assert entry_problems(tampered, lock) == ["binding_sha256: does not match the entry's content (edited after submit)"]


def test_consistent_edit_with_recomputed_hashes_still_fails_the_binding(entry, lock):
    tampered = copy.deepcopy(entry)
    result = tampered["results"][0]
    result["episodes"][45]["success"] = True
    result["n_success"] += 1
    result["records_sha256"] = records_hash(result["episodes"])
    assert entry_problems(tampered, lock) == ["binding_sha256: does not match the entry's content (edited after submit)"]
    assert entry_problems(rebind(tampered), lock) == []  # re-signing is a new entry, which the board shows as such


def test_real_robot_runs_make_self_reported_entries(tmp_path, lock):
    real = TRACKS["real_reach"]
    run = write_run(tmp_path / "real", [True] * 8 + [False] * 4, task=real.task, env_kwargs={"robot": "franky"})
    entry = build_entry([run], "lab", "m")
    assert entry_problems(entry, lock) == []
    assert (entry["results"][0]["platform"], entry["results"][0]["env_hash"]) == ("real", None)
    with pytest.raises(UsageError, match="9 episodes, the real-robot track needs 10"):
        build_entry([write_run(tmp_path / "few", [True] * 9, task=real.task)], "lab", "m")
    board = board_data([(entry, False)], lock["env_hash"])
    assert board["suite"] == [] and len(board["tracks"][-1]["rows"]) == 1


def test_unknown_track_and_too_few_real_episodes(entry, lock):
    tampered = copy.deepcopy(entry)
    tampered["results"][0]["track"] = "juggling"
    assert entry_problems(rebind(tampered), lock)[0].startswith("results[0].track: unknown track 'juggling'")
    real = copy.deepcopy(entry)
    result = real["results"][0]
    result.update(track="real_reach", task=lock["tracks"]["real_reach"]["task"], platform="real", env_hash=None,
                  episode_list_sha256=None)
    result["episodes"] = result["episodes"][:8]
    result.update(n_episodes=8, n_success=8, records_sha256=records_hash(result["episodes"]))
    assert entry_problems(rebind(real), lock) == [
        "results[0].episodes: 8 episodes, track 'real_reach' needs at least 10"]


# --- hypothesis: generated breakage -------------------------------------------------------------------------------

PATHS = [("id",), ("submission", "name"), ("model",), ("model", "checkpoint_sha256"), ("results",),
         ("results", 0, "episodes"), ("results", 0, "episodes", 5, "success"), ("results", 0, "n_episodes"),
         ("results", 0, "episodes", 9, "final_distance"), ("results", 0, "task"), ("binding_sha256",)]
BAD_VALUES = st.one_of(st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.dictionaries(
    st.text(max_size=3), st.integers(), max_size=2), st.just(float("nan")), st.just(float("inf")),
    st.just(10 ** 30), st.just(-1), st.just(1e308))


def _parent(entry: dict[str, Any], path: tuple) -> tuple[Any, Any]:
    node = entry
    for key in path[:-1]:
        node = node[key]
    return node, path[-1]


_BASE: dict[str, Any] = {}


def base_entry() -> dict[str, Any]:
    if not _BASE:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            _BASE.update(make_entry(Path(tmp), checkpoint="ab" * 32))
    return copy.deepcopy(_BASE)


def _assert_reported(entry: Any, lock: dict[str, Any]) -> None:
    problems = entry_problems(entry, lock)
    assert problems, "a broken entry passed validation"
    for p in problems:
        assert "\n" not in p and ": " in p, p


@settings(database=None, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS))
def test_missing_fields_are_reported(lock, path):
    entry = base_entry()
    parent, key = _parent(entry, path)
    if isinstance(parent, list):
        parent.pop(key)
    else:
        del parent[key]
    _assert_reported(entry, lock)


@settings(database=None, max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=BAD_VALUES)
def test_wrong_types_nan_and_huge_numbers_are_reported(lock, path, value):
    entry = base_entry()
    parent, key = _parent(entry, path)
    if parent[key] == value:
        return
    parent[key] = value
    _assert_reported(entry, lock)


@settings(database=None, max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drop=st.integers(1, 49), dupes=st.lists(st.integers(0, 49), min_size=1, max_size=4),
       task=st.text(min_size=1, max_size=30))
def test_wrong_lengths_duplicates_and_unknown_tasks_are_reported(lock, drop, dupes, task):
    entry = base_entry()
    short = copy.deepcopy(entry)
    del short["results"][0]["episodes"][drop:]
    _assert_reported(short, lock)
    doubled = copy.deepcopy(entry)
    eps = doubled["results"][0]["episodes"]
    eps += [dict(eps[i]) for i in dupes]
    assert any("appear more than once" in p for p in entry_problems(doubled, lock))
    if task != REACH.task:
        renamed = copy.deepcopy(entry)
        renamed["results"][0]["task"] = task
        assert any(p.startswith("results[0].task:") for p in entry_problems(rebind(renamed), lock))


def test_nan_in_a_file_is_one_line(tmp_path, entry, lock):
    text = json.dumps(entry).replace('"final_distance": 0.01', '"final_distance": NaN', 1)
    path = tmp_path / "nan.json"
    path.write_text(text)
    assert file_problems(path, lock) == [f"{path}: not valid JSON: NaN is not allowed (numbers must be finite)"]
    with pytest.raises(UsageError, match="Infinity is not allowed"):
        loads_strict(b'{"a": Infinity}', "x")


# --- statistics and the board -------------------------------------------------------------------------------------

def test_wilson_and_suite_bootstrap_match_known_values():
    assert [round(x, 3) for x in wilson_interval(8, 10)] == [0.490, 0.943]
    assert [round(x, 3) for x in wilson_interval(375, 500)] == [0.710, 0.786]
    point, low, high = suite_score([[1] * 10, [1] * 6 + [0] * 4, [1] * 5 + [0] * 5])
    assert round(point, 3) == 0.7 and low < 0.6 < 0.8 < high < 0.9
    assert suite_score([[1, 0, 1], [0, 0, 1]], seed=3) == suite_score([[1, 0, 1], [0, 0, 1]], seed=3)


def test_ranks_tie_where_intervals_overlap():
    assert tied_ranks([(0.9, 0.8, 1.0), (0.5, 0.4, 0.6), (0.55, 0.45, 0.85)]) == [(1, 2), (2, 3), (1, 3)]
    assert tied_ranks([(0.9, 0.85, 0.95), (0.1, 0.05, 0.2)]) == [(1, 1), (2, 2)]


def test_board_is_deterministic_and_ranks_by_rate(tmp_path):
    entries = [(make_entry(tmp_path, "a", 0.9), False), (make_entry(tmp_path, "b", 0.2, "random"), True)]
    board = board_data(entries, "e" * 64)
    again = board_data(list(reversed(copy.deepcopy(entries))), "e" * 64)
    assert to_html(board) == to_html(again) and to_markdown(board) == to_markdown(again)
    rows = board["tracks"][0]["rows"]
    assert [(r["submitter"], r["rank"], r["verified"]) for r in rows] == [("a", [1, 1], False), ("b", [2, 2], True)]
    html = to_html(board)
    assert "<script>" in html and "http" not in html.replace("http-equiv", "")  # self-contained: no external URL


def test_committed_lock_and_board_are_up_to_date():
    """CI's guard: rerun `vjepa-bench leaderboard baselines` (relocks and rebuilds) when this fails."""
    assert load_lock() == build_lock(), "the tasks changed: run `vjepa-bench leaderboard baselines`"
    board_dir = SUBMISSIONS_DIR.parent
    board = board_data(valid_entries(SUBMISSIONS_DIR), load_lock()["env_hash"])
    assert (board_dir / "README.md").read_text() == to_markdown(board)
    assert (board_dir / "index.html").read_text() == to_html(board)
    assert json.loads((board_dir / "leaderboard.json").read_text()) == board
    assert any(r["track"] == "reach" for e, _ in valid_entries(SUBMISSIONS_DIR) for r in e["results"])



def test_cli_validate_lists_each_problem_and_exits_nonzero(tmp_path, entry):
    from vjepa_bench.cli import main as cli_main

    entry["results"][0]["n_success"] = 3
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(entry))
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["leaderboard", "validate", f"files=[{path}]"])
    message = str(exit_info.value.code)
    assert any(line.startswith(f"{path}: results[0].n_success: says 3, the records count 40")
               for line in message.splitlines())
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["leaderboard", "verify", "entry=x.json", "episodes=many"])
    assert str(exit_info.value.code).endswith("episodes: Value 'many' of type 'str' could not be converted to Integer")


def test_task_code_hash_ignores_comments_and_docstrings_but_not_code(tmp_path):
    from vjepa_bench.leaderboard.tracks import _task_file_sha256

    def code_hash(text: str) -> str:
        path = tmp_path / "task.py"
        path.write_text(text)
        return _task_file_sha256(path)

    base = code_hash('"""A task."""\n\ndef reward(d):\n    """Negative distance."""\n    return -d  # metres\n')
    reworded = code_hash('"""The task, reworded."""\n\ndef reward(d):\n    """Minus the distance."""\n    return -d\n')
    changed = code_hash('"""A task."""\n\ndef reward(d):\n    """Negative distance."""\n    return -2 * d\n')
    assert base == reworded and base != changed
    constant = code_hash('LIMIT = 0.05\n"""Metres."""\n')
    assert constant == code_hash('LIMIT = 0.05\n"""Metres, reworded."""\n') != code_hash('LIMIT = 0.06\n"""Metres."""\n')
