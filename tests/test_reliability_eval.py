"""Eval run folders: one writer at a time, identity in every record, nothing written by a refused run, torn logs
recovered, explicit defaults are the same run, non-finite energies and bad settings refused in one line."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from vjepa_bench.agents import AGENTS
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.records import EpisodeLog
from vjepa_bench.evaluation.runner import EvalSpec, episode_list, run_evaluation
from vjepa_bench.planning import SIM_CEM, NonFiniteEnergy

REACH = "vjepa_bench/FrankaReach-v1"
SHORT = "scripted"  # reaches in a few steps, so its records are short


def _spec(out: Path, agent: str = "random", episodes: int = 2, **changes: Any) -> EvalSpec:
    spec = EvalSpec(env_id=REACH, env_kwargs={"image_size": 32, "max_episode_steps": 3}, agent=agent,
                    agent_kwargs={}, episodes=episode_list(episodes), output_dir=out, progress=False)
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def _snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``folder``: its bytes, inode and modification time (a rewrite changes the last two)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in skip)
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns) for p in files}


def _one_line(err: pytest.ExceptionInfo[UsageError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# One writer per folder


def _cli(out: Path, episodes: int, agent: str = "random") -> list[str]:
    return [sys.executable, "-m", "vjepa_bench.cli", "eval", f"agent={agent}", f"episodes={episodes}",
            "env.kwargs.image_size=32", f"output_dir={out}", "progress=false"]


def test_a_second_eval_on_a_folder_in_use_is_refused_at_once(tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(_cli(out, 300), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    log = out / "episodes.jsonl"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and (not log.exists() or not log.read_text().count("\n")):
            time.sleep(0.05)
        second = subprocess.run(_cli(out, 300), capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first run should still hold the folder"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert second.returncode != 0 and "Traceback" not in second.stderr
    message = second.stderr.strip().splitlines()[-1]
    assert f"is in use by vjepa-bench eval of random on {REACH} (pid {first.pid} " in message
    episodes = [json.loads(line)["episode"] for line in log.read_text().splitlines() if line.endswith("}")]
    assert len(episodes) == len(set(episodes)), "no episode may be written twice"


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child: a write past ``limit`` bytes fails with EFBIG instead of killing it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_stops_in_one_line_and_the_same_command_resumes(tmp_path):
    """The kernel's file-size limit refuses writes the way a full disk does (no mount needed): the run stops in
    one line, keeps its finished episodes, and the same command finishes the run without playing them again. The
    scripted agent's short episodes keep the episode log well below the results file, so one limit lies between."""
    full = tmp_path / "full"
    subprocess.run(_cli(full, 2, SHORT), check=True, capture_output=True, timeout=300)
    sizes = {name: (full / name).stat().st_size for name in ("episodes.jsonl", "run.json", "results.json")}
    largest_kept = max(sizes["episodes.jsonl"], sizes["run.json"])
    assert largest_kept < sizes["results.json"] // 2  # the limit below has room for timing values of other lengths
    limit = (largest_kept + sizes["results.json"]) // 2
    out = tmp_path / "run"
    stopped = subprocess.run(_cli(out, 2, SHORT), capture_output=True, text=True, timeout=300,
                             preexec_fn=_limit_file_size(limit))
    lines = [line for line in stopped.stderr.splitlines() if line.strip()]
    assert stopped.returncode != 0 and len(lines) == 1, stopped.stderr
    assert lines[0].startswith("vjepa-bench eval: ") and lines[0].endswith(
        "while writing; free disk space or choose another output folder, then run the same command again (finished "
        "work is kept and resumes)")
    kept = (out / "episodes.jsonl").read_bytes()
    assert kept.count(b"\n") == 2 and not (out / "results.json").exists()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    subprocess.run(_cli(out, 2, SHORT), check=True, capture_output=True, timeout=300)
    assert (out / "episodes.jsonl").read_bytes() == kept  # resumed: nothing played twice
    assert len(json.loads((out / "results.json").read_text())["records"]) == 2


# Non-finite energies: a one-line error, never NaN in the results


class FakeWorldModelAgent:
    """A world-model agent whose energy goes bad from its second action: it raises, or reports NaN."""

    name = "fake_world_model"

    def __init__(self, checkpoint: str = "fake.pt", fail: str = "raise") -> None:
        self.checkpoint_sha256 = "ab" * 32
        self.fail = fail
        self.steps = 0
        self.info: dict[str, Any] = {}

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        self.steps = 0

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        self.steps += 1
        if self.steps > 1 and self.fail == "raise":
            raise NonFiniteEnergy("world model produced non-finite energy (NaN or infinity) during CEM")
        self.info = {"energy": 1.0 if self.steps == 1 else float("nan")}
        return np.zeros(7, np.float32)

    def step_info(self) -> dict[str, Any]:
        return dict(self.info)


@pytest.fixture
def fake_agent(monkeypatch) -> str:
    monkeypatch.setitem(AGENTS, FakeWorldModelAgent.name, FakeWorldModelAgent)
    return FakeWorldModelAgent.name


@pytest.mark.parametrize("fail", ["raise", "report"])
def test_non_finite_energy_ends_the_run_in_one_line_naming_the_checkpoint(tmp_path, fake_agent, fail):
    spec = _spec(tmp_path, agent=fake_agent, agent_kwargs={"checkpoint": "broken.pt", "fail": fail})
    with pytest.raises(UsageError) as err:
        run_evaluation(spec)
    message = _one_line(err)
    assert message.startswith(f"agent {fake_agent!r} with checkpoint 'broken.pt' (sha256 abababababab), "
                              "episode 0 (seed 0): world model produced non-finite energy")
    assert not (tmp_path / "results.json").exists() and not (tmp_path / "episodes.jsonl").exists()


# The run identity lives in every record


def test_without_run_json_another_agent_is_still_refused(tmp_path):
    run_evaluation(_spec(tmp_path))
    run_hash = json.loads((tmp_path / "run.json").read_text())["hash"]
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert [r["run_sha256"] for r in records] == [run_hash, run_hash]
    (tmp_path / "run.json").unlink()
    before = _snapshot(tmp_path)
    with pytest.raises(UsageError) as err:
        run_evaluation(_spec(tmp_path, agent="scripted"))
    assert "holds a run with a different env, agent, planner or checkpoint" in _one_line(err)
    assert "episodes.jsonl, episode 0" in str(err.value)
    assert _snapshot(tmp_path) == before


def test_without_run_json_the_same_run_resumes_and_restores_it(tmp_path):
    run_evaluation(_spec(tmp_path, episodes=1))
    run_file = (tmp_path / "run.json").read_text()
    (tmp_path / "run.json").unlink()
    results = run_evaluation(_spec(tmp_path, episodes=2))
    assert [r["episode"] for r in results["records"]] == [0, 1]
    assert (tmp_path / "run.json").read_text() == run_file


# Nothing written without need, nothing at all by a refused run


def test_a_resume_with_nothing_left_to_do_writes_nothing(tmp_path):
    first = run_evaluation(_spec(tmp_path))
    before = _snapshot(tmp_path, skip=(".lock",))
    again = run_evaluation(_spec(tmp_path))
    assert _snapshot(tmp_path, skip=(".lock",)) == before
    assert again == first


@pytest.mark.parametrize("refused", ["agent", "seeds", "bad line"])
def test_a_refused_run_changes_nothing_in_the_folder(tmp_path, refused):
    run_evaluation(_spec(tmp_path, episodes=3))
    log = tmp_path / "episodes.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    torn = lines[2][:40]  # a kill mid-append: the next run must not cut it off before it is refused
    log.write_bytes(b"".join(lines[:2]) + torn)
    spec = _spec(tmp_path, episodes=3)
    if refused == "agent":
        spec.agent = "scripted"
    elif refused == "seeds":
        spec.episodes = episode_list(3, first_seed=5)
    else:
        log.write_bytes(lines[0] + b"[]\n" + lines[1] + torn)
    before = _snapshot(tmp_path)
    with pytest.raises(UsageError) as err:
        run_evaluation(spec)
    _one_line(err)
    assert _snapshot(tmp_path) == before


# Settings compared with their defaults filled in


def _camera(**pose: float) -> dict[str, Any]:
    return {"image_size": 32, "max_episode_steps": 3, "camera": pose}


def test_explicit_env_defaults_are_the_same_run(tmp_path):
    run_evaluation(_spec(tmp_path, episodes=1, env_kwargs={"max_episode_steps": 2}))
    log = (tmp_path / "episodes.jsonl").read_bytes()
    explicit = {"max_episode_steps": 2, "image_size": 256, "camera": {"azimuth_deg": 65.0},
                "camera_randomization": None, "shadows": True}
    run_evaluation(_spec(tmp_path, episodes=1, env_kwargs=explicit, agent_kwargs={"seed": None}))
    assert (tmp_path / "episodes.jsonl").read_bytes() == log
    with pytest.raises(UsageError, match="different env, agent, planner or checkpoint"):
        run_evaluation(_spec(tmp_path, episodes=1, env_kwargs={**explicit, "camera": {"azimuth_deg": 66.0}}))
    with pytest.raises(UsageError, match="different env, agent, planner or checkpoint"):
        run_evaluation(_spec(tmp_path, episodes=1, env_kwargs={**explicit, "image_size": 128}))


def test_a_full_camera_pose_equal_to_the_default_is_the_default(tmp_path):
    run_evaluation(_spec(tmp_path, episodes=1, env_kwargs=_camera()))
    default_pose = {"azimuth_deg": 65, "elevation_deg": 25, "distance": 0.85, "lookat": [0.48, 0.0, 0.15],
                    "roll_deg": 0, "fovy_deg": 45}
    run_evaluation(_spec(tmp_path, episodes=1, env_kwargs=_camera(**default_pose)))
    with pytest.raises(UsageError, match="different env"):
        run_evaluation(_spec(tmp_path, episodes=1, env_kwargs=_camera(elevation_deg=30.0)))


def test_explicit_planner_defaults_are_the_same_run(tmp_path):
    env_kwargs = {"image_size": 32, "max_episode_steps": 1}
    run_evaluation(_spec(tmp_path, agent="sim_cem", episodes=1, env_kwargs=env_kwargs))
    log = (tmp_path / "episodes.jsonl").read_bytes()
    run_evaluation(_spec(tmp_path, agent="sim_cem", episodes=1, env_kwargs=env_kwargs,
                         agent_kwargs={"planner": asdict(SIM_CEM)}))
    assert (tmp_path / "episodes.jsonl").read_bytes() == log
    with pytest.raises(UsageError, match="different env, agent, planner or checkpoint"):
        run_evaluation(_spec(tmp_path, agent="sim_cem", episodes=1, env_kwargs=env_kwargs,
                             agent_kwargs={"planner": {**asdict(SIM_CEM), "samples": 32}}))


# The episode log


@pytest.mark.parametrize("newline", [b"", b"\n"])
def test_a_torn_last_line_reruns_its_episode_and_keeps_the_others(tmp_path, newline):
    first = run_evaluation(_spec(tmp_path, episodes=3))
    log = tmp_path / "episodes.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[1] + lines[2][:50] + newline)
    with pytest.warns(UserWarning, match=r"episodes.jsonl:3: dropped a partial last line"):
        again = run_evaluation(_spec(tmp_path, episodes=3))
    assert log.read_bytes().startswith(lines[0] + lines[1])
    assert [json.loads(line)["episode"] for line in log.read_text().splitlines()] == [0, 1, 2]
    outcome = ("n", "successes", "mean_final_distance")
    assert [again["summary"][k] for k in outcome] == [first["summary"][k] for k in outcome]


GOOD = {"episode": 1, "seed": 1, "success": True}


@pytest.mark.parametrize("bad", [
    "not json", "[]", '{"x": 1}', '{"episode": 0, "success": true}', '{"seed": 0, "success": true}',
    '{"episode": 0, "seed": 0}', '{"episode": 0, "seed": 0, "success": "yes"}',
    '{"episode": 0, "seed": 0, "success": true, "final_distance": NaN}',
])
def test_a_bad_line_before_the_last_is_one_line_naming_it(tmp_path, bad):
    path = tmp_path / "episodes.jsonl"
    path.write_text(f"{bad}\n{json.dumps(GOOD)}\n")
    with pytest.raises(UsageError) as err:
        EpisodeLog(path)
    assert _one_line(err).startswith(f"{path}:1 ")
    assert "delete that line (its episode runs again) or choose another output_dir" in str(err.value)


@pytest.mark.parametrize("bad", ["[]", '{"x": 1}', json.dumps(GOOD)])
def test_a_complete_last_line_that_is_not_a_new_record_is_refused(tmp_path, bad):
    path = tmp_path / "episodes.jsonl"
    path.write_text(f"{json.dumps(GOOD)}\n{bad}\n")
    with pytest.raises(UsageError, match=f"^{path}:2 "):
        EpisodeLog(path)


# videos and output_dir


@pytest.mark.parametrize("videos", [-1, 1.5, "2", True])
def test_a_bad_videos_value_is_refused_before_the_folder_is_made(tmp_path, videos):
    out = tmp_path / "run"
    with pytest.raises(UsageError) as err:
        run_evaluation(_spec(out, videos=videos))
    assert _one_line(err).startswith(f"videos={videos!r}: must be an integer >= 0")
    assert not out.exists()


@pytest.mark.parametrize("under", [False, True])
def test_an_output_dir_that_is_a_file_is_one_line(tmp_path, under):
    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    out = taken / "run" if under else taken
    with pytest.raises(UsageError) as err:
        run_evaluation(_spec(out))
    assert _one_line(err) == (f"output_dir={out}: {taken} is a file, not a folder; choose another "
                              "output_dir=...")
    assert taken.read_text() == "mine\n"


def test_a_read_only_output_dir_is_one_line():
    """/sys refuses new folders to every user, root included (a chmod-ed folder stops only non-root users)."""
    out = Path("/sys/vjepa-bench-test/run")
    with pytest.raises(UsageError) as err:
        run_evaluation(_spec(out))
    assert _one_line(err).startswith(f"output_dir={out}: cannot write in /sys (")
    assert _one_line(err).endswith("); choose a writable output_dir=...")
    assert not out.parent.exists()
