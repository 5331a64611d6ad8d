"""Fuzzing the command line of eval and collect: any list of overrides either builds a run (env and agent made,
ready to start) or stops with a one-line ``UsageError`` naming what is wrong, never another exception.

The in-process part covers the whole path up to the first episode (compose, parse, spec, env, agent); a few
accepted configs are then run for real through the console script and must exit 0 or with one line on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vjepa_bench.agents import make_agent
from vjepa_bench.cli import check_config
from vjepa_bench.envs import make_env
from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.command import spec_from_config
from vjepa_bench.schema import parse

VALUES = st.one_of(
    st.integers(-3, 40).map(str),
    st.sampled_from(["1.5", "64.5", "nan", "inf", "-inf", "abc", "null", "[]", "[1,2]", "{}", "''", "true"]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-400, max_value=400).map(lambda v: f"{v:.3f}"),
)
EVAL_KEYS = ["episodes", "seed", "videos", "progress", "env.kwargs.image_size", "env.kwargs.object",
             "camera.pose.azimuth_deg", "camera.pose.elevation_deg", "camera.pose.distance", "camera.pose.fovy_deg",
             "camera.pose.lookat", "planner.samples", "planner.topk", "planner.iterations", "planner.gripper_clip",
             "planner.max_batch", "agent.kwargs.device", "agent.kwargs.seed", "agent.kwargs.bogus", "bogus"]
COLLECT_KEYS = ["episodes", "seed", "shard_size", "max_steps", "policy", "env.kwargs.image_size",
                "env.kwargs.object", "camera.pose.azimuth_deg", "camera.pose.distance", "bogus"]
GROUPS = {"env": ["reach", "grasp", "pick_place", "nope"], "agent": ["random", "scripted", "sim_cem", "nope"],
          "camera": ["default", "random", "nope"], "planner": ["small", "sim", "paper", "nope"]}


def overrides(keys: list[str], groups: list[str]) -> st.SearchStrategy[list[str]]:
    setting = st.tuples(st.sampled_from(keys), VALUES).map(lambda kv: f"{kv[0]}={kv[1]}")
    choice = st.sampled_from(groups).flatmap(lambda g: st.sampled_from(GROUPS[g]).map(lambda v: f"{g}={v}"))
    return st.lists(st.one_of(setting, choice), max_size=4)


def one_line(err: UsageError) -> None:
    message = str(err)
    assert message and "\n" not in message and "Traceback" not in message, message


def _checked(config: str, args: list[str]):
    """The parsed config, or None after checking that the refusal is a one-line UsageError."""
    try:
        check_config(config, args)
    except UsageError as err:
        one_line(err)
        return None
    from hydra import compose, initialize_config_module

    with initialize_config_module("vjepa_bench.configs", version_base=None):
        return parse(compose(config, overrides=args))


def _build_eval(args: list[str]) -> bool:
    cfg = _checked("eval", args)
    if cfg is None:
        return False
    try:
        spec = spec_from_config(cfg)
        make_env(spec.env_id, **spec.env_kwargs).close()
        if spec.agent != "vjepa_ac":  # the bundled model loads in ~1 s: left to the subprocess runs below
            make_agent(spec.agent, **spec.agent_kwargs)
    except UsageError as err:
        one_line(err)
        return False
    return True


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(overrides(EVAL_KEYS, ["env", "agent", "camera", "planner"]))
def test_eval_overrides_build_a_run_or_fail_in_one_line(args):
    _build_eval(["env.kwargs.image_size=32", "agent=random", *args])  # asserts one-line refusals itself


@FUZZ
@given(overrides(COLLECT_KEYS, ["env", "camera"]))
def test_collect_overrides_build_a_run_or_fail_in_one_line(args):
    cfg = _checked("collect", ["env.kwargs.image_size=32", *args])
    if cfg is None:
        return
    from vjepa_bench.schema.env import env_kwargs

    try:
        make_env(cfg.env.id, **env_kwargs(cfg.env, cfg.camera)).close()
    except UsageError as err:
        one_line(err)


@pytest.mark.parametrize("bad", ["seed=1.5", "episodes=abc", "videos=-1", "videos=abc", "env.kwargs.image_size=64.5",
                                 "camera.pose.azimuth_deg=nan", "planner.topk=1", "agent.kwargs.bogus=1"])
def test_known_bad_eval_overrides_are_refused_in_one_line(bad):
    assert not _build_eval(["agent=random", bad])


def test_nan_camera_is_refused_before_any_episode():
    with pytest.raises(UsageError, match="azimuth_deg"):
        cfg = _checked("eval", ["agent=random", "camera.pose.azimuth_deg=nan"])
        spec = spec_from_config(cfg)
        make_env(spec.env_id, **spec.env_kwargs)


@pytest.mark.parametrize("args", [
    ["agent=random", "episodes=1", "env.kwargs.image_size=32", "camera.pose.azimuth_deg=50"],
    ["agent=scripted", "episodes=1", "env=grasp", "env.kwargs.image_size=32", "env.kwargs.object=cup"],
    ["agent=random", "episodes=1", "env=reach", "env.kwargs.object=box"],  # reach has no object: one line
    ["agent=random", "episodes=0"],
])
def test_the_console_script_runs_or_stops_in_one_line(tmp_path, args):
    run = subprocess.run([sys.executable, "-m", "vjepa_bench.cli", "eval", *args, f"output_dir={tmp_path / 'run'}",
                          "progress=false"], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")})
    if run.returncode == 0:
        assert (tmp_path / "run" / "results.json").is_file()
    else:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("vjepa-bench eval: "), run.stderr
