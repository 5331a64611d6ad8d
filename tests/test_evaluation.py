"""Evaluation runner: statistics, the durable episode log, results.json, resume after a kill, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.metrics import summarize, wilson_interval
from vjepa_bench.evaluation.records import EpisodeLog
from vjepa_bench.evaluation.runner import EvalSpec, episode_list, run_evaluation


def test_wilson_interval_matches_reference_values():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(50, 50)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_summary_counts_and_means():
    records = [
        {"success": True, "final_distance": 0.01, "steps": 4, "planning_time_s": [0.1, 0.3]},
        {"success": False, "final_distance": 0.05, "steps": 8, "planning_time_s": [0.2]},
    ]
    s = summarize(records)
    assert (s["n"], s["successes"], s["success_rate"]) == (2, 1, 0.5)
    assert s["mean_final_distance"] == pytest.approx(0.03)
    assert s["mean_planning_time_s"] == pytest.approx(0.2)


def test_episode_log_drops_a_partial_last_line(tmp_path):
    path = tmp_path / "episodes.jsonl"
    log = EpisodeLog(path)
    log.append({"episode": 0, "seed": 0, "success": True})
    with open(path, "a") as f:
        f.write('{"episode": 1, "succ')  # a run killed mid-write
    reopened = EpisodeLog(path)
    assert list(reopened.records) == [0]
    with pytest.warns(UserWarning, match="episodes.jsonl:2: dropped a partial last line"):
        reopened.append({"episode": 1, "seed": 1, "success": False})
    assert path.read_text().count("\n") == 2
    assert [r["episode"] for r in EpisodeLog(path).ordered()] == [0, 1]


def test_episode_log_rejects_a_corrupt_line(tmp_path):
    path = tmp_path / "episodes.jsonl"
    path.write_text('not json\n{"episode": 1, "seed": 1, "success": true}\n')
    with pytest.raises(UsageError, match="episodes.jsonl:1 is not valid JSON"):
        EpisodeLog(path)


def _spec(out: Path, agent: str = "random", episodes: int = 3) -> EvalSpec:
    return EvalSpec(
        env_id="vjepa_bench/FrankaReach-v1",
        env_kwargs={"image_size": 64, "max_episode_steps": 3},
        agent=agent,
        agent_kwargs={},
        episodes=episode_list(episodes),
        output_dir=out,
        progress=False,
    )


def test_run_writes_results_and_resumes_without_repeating(tmp_path):
    results = run_evaluation(_spec(tmp_path, episodes=2))
    assert results["schema"] == "vjepa-bench/results" and results["schema_version"] == 1
    assert results["summary"]["n"] == 2
    assert [r["seed"] for r in results["records"]] == [0, 1]
    assert all(r["steps"] == 3 for r in results["records"])
    first = (tmp_path / "episodes.jsonl").read_text()
    again = run_evaluation(_spec(tmp_path, episodes=2))
    assert (tmp_path / "episodes.jsonl").read_text() == first  # nothing re-run
    assert again["summary"] == results["summary"]


def test_resume_into_a_folder_of_another_run_is_refused(tmp_path):
    run_evaluation(_spec(tmp_path, episodes=1))
    with pytest.raises(UsageError, match="different env, agent, planner or checkpoint"):
        run_evaluation(_spec(tmp_path, agent="scripted", episodes=1))
    other_seeds = _spec(tmp_path, episodes=1)
    other_seeds.episodes = episode_list(1, first_seed=7)
    with pytest.raises(UsageError, match="episode 0 ran with seed 0"):
        run_evaluation(other_seeds)


def test_a_run_can_be_extended_with_more_episodes(tmp_path):
    run_evaluation(_spec(tmp_path, episodes=1))
    first = (tmp_path / "episodes.jsonl").read_text()
    results = run_evaluation(_spec(tmp_path, episodes=3))
    assert (tmp_path / "episodes.jsonl").read_text().startswith(first)
    assert [r["episode"] for r in results["records"]] == [0, 1, 2]


def test_a_bad_setting_does_not_claim_the_folder(tmp_path):
    bad = _spec(tmp_path, episodes=1)
    bad.env_kwargs = {**bad.env_kwargs, "camera": {"distance": -1.0}}
    with pytest.raises(UsageError, match="distance must be positive"):
        run_evaluation(bad)
    assert not (tmp_path / "run.json").exists()
    assert run_evaluation(_spec(tmp_path, episodes=1))["summary"]["n"] == 1


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "vjepa_bench.cli", *args]


def test_eval_killed_and_resumed_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "run"
    args = _cli("eval", "agent=random", "episodes=6", "env.kwargs.image_size=64", f"output_dir={out}",
                "+env.kwargs.max_episode_steps=4", "progress=false")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = out / "episodes.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or log.read_text().count("\n") < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = log.read_text().count("\n")
    assert 2 <= done_before < 6, "the run should have been killed part way"
    assert not (out / "results.json").exists()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    episodes = [json.loads(line)["episode"] for line in log.read_text().splitlines()]
    assert sorted(episodes) == list(range(6)) and len(episodes) == 6
    results = json.loads((out / "results.json").read_text())
    assert results["summary"]["n"] == 6


def test_cli_reports_unknown_commands_and_overrides(tmp_path):
    bad_command = subprocess.run(_cli("evaluate"), capture_output=True, text=True)
    assert bad_command.returncode != 0 and "unknown command 'evaluate'" in bad_command.stderr
    bad_key = subprocess.run(_cli("eval", "episodez=3"), capture_output=True, text=True, cwd=tmp_path)
    assert bad_key.returncode != 0 and "episodez" in bad_key.stderr
    assert "Traceback" not in bad_key.stderr
    bad_group = subprocess.run(_cli("eval", "env=nope"), capture_output=True, text=True, cwd=tmp_path)
    assert bad_group.returncode != 0 and "reach_with_object" in bad_group.stderr


def test_multirun_sweeps_tasks_into_separate_resumable_folders(tmp_path):
    args = _cli("eval", "--multirun", "agent=random", "env=reach,grasp", "episodes=1", "env.kwargs.image_size=64",
                "+env.kwargs.max_episode_steps=2", "progress=false")
    subprocess.run(args, check=True, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = sorted(tmp_path.glob("runs/multirun/eval/*/results.json"))
    assert len(found) == 2
    tasks = sorted(json.loads(p.read_text())["task"]["id"] for p in found)
    assert tasks == ["vjepa_bench/FrankaGrasp-v1", "vjepa_bench/FrankaReach-v1"]


def test_videos_show_each_step_beside_its_goal(tmp_path):
    from vjepa_bench.data.video import read_video

    spec = _spec(tmp_path, episodes=2)
    spec.videos = 1
    run_evaluation(spec)
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["episode_0000.mp4"]
    frames, _ = read_video(videos[0])
    assert frames.shape == (4, 64, 128, 3)  # reset + 3 steps; observation | goal


@pytest.mark.parametrize("override,expected", [
    ("env.kwargs.object=plate", "object must be one of ['box', 'cup']"),
    ("camera.pose.distance=-1", "distance must be positive"),
])
def test_bad_env_settings_are_one_line_errors(tmp_path, override, expected):
    args = _cli("eval", "env=grasp", "agent=random", override, f"output_dir={tmp_path}", "progress=false")
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode != 0 and expected in result.stderr
    assert "Traceback" not in result.stderr
