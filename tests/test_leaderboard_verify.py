"""``leaderboard verify``: replaying real episodes reproduces a real run, and a doctored record is named."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.runner import EvalSpec, run_evaluation
from vjepa_bench.leaderboard.command import valid_entries
from vjepa_bench.leaderboard.replay import agent_code_hash
from vjepa_bench.leaderboard.tracks import SUBMISSIONS_DIR, TRACKS
from vjepa_bench.leaderboard.verify import choose_episodes, verify_entry


@pytest.fixture(scope="module")
def scripted_entry(tmp_path_factory) -> dict:
    """An entry holding a real 3-episode scripted run on the reach task at 32 px."""
    track = TRACKS["reach"]
    spec = EvalSpec(env_id=track.task, env_kwargs={"image_size": 32}, agent="scripted", agent_kwargs={},
                    episodes=track.episode_list()[:3], output_dir=tmp_path_factory.mktemp("run"), progress=False)
    results = run_evaluation(spec)
    episodes = [{k: r[k] for k in ("episode", "seed", "success", "final_distance", "steps")} for r in results["records"]]
    return {"id": "scripted-test", "model": {"agent": "scripted", "agent_config": {}, "checkpoint_sha256": None},
            "results": [{"track": "reach", "task": track.task, "platform": "sim", "env_kwargs": {"image_size": 32},
                         "episodes": episodes}]}


def test_verify_reproduces_a_real_run(scripted_entry):
    stamp = verify_entry(scripted_entry, count=2, seed=1)
    assert stamp["match"] and len(stamp["episodes"]) == 2
    assert all(e["match"] for e in stamp["episodes"])
    assert choose_episodes(scripted_entry, 2, 1) == [(e["track"], e["episode"]) for e in stamp["episodes"]]


def test_verify_names_the_episode_that_differs(scripted_entry):
    doctored = copy.deepcopy(scripted_entry)
    for e in doctored["results"][0]["episodes"]:
        e["final_distance"] += 0.05
    stamp = verify_entry(doctored, count=1, seed=0)
    (track, episode), = choose_episodes(doctored, 1, 0)
    assert not stamp["match"]
    assert stamp["differences"][0].startswith(f"{track} episode {episode} (seed {episode}): recorded success=")


def test_verify_refuses_another_checkpoint(scripted_entry):
    other = copy.deepcopy(scripted_entry)
    other["model"]["checkpoint_sha256"] = "ab" * 32
    with pytest.raises(UsageError, match="loaded checkpoint None"):
        verify_entry(other, count=1)


def test_committed_random_baseline_replays():
    """The committed random-agent entry reproduces on this tree (2 seeded-chosen episodes)."""
    entry = next(e for e, _ in valid_entries(SUBMISSIONS_DIR) if e["id"] == "baseline-random")
    stamp = verify_entry(entry, count=2, seed=0)
    assert stamp["match"], stamp.get("differences")


def test_baseline_runs_are_keyed_by_the_agent_code():
    """A changed baseline must run afresh, not resume the episodes its old code ran."""
    source = Path(__file__).resolve().parents[1] / "agents" / "random_agent.py"
    assert agent_code_hash("random") == hashlib.sha256(source.read_bytes()).hexdigest()
    assert agent_code_hash("random") != agent_code_hash("scripted")
