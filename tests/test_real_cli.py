"""``vjepa-bench eval robot=franky`` end to end against franky-sim with the replay camera, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from test_real_contract import franky_sim
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.envs.real import CameraDeviceConfig, RobotConfig, make_camera, make_robot
from vjepa_bench.errors import UsageError


def _frames(folder, count=4):
    folder.mkdir()
    for i in range(count):
        Image.fromarray(np.full((48, 64, 3), 40 * i, np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def _eval(tmp_path, *overrides, timeout=300):
    cmd = [sys.executable, "-m", "vjepa_bench.cli", "eval", "robot=franky", "robot.interactive=false",
           "robot.success=measured", "robot.goal.positions=[[0.5,0.1,0.4]]", f"robot.log_dir={tmp_path / 'log'}",
           "robot.safety.speed=0.3", "camera_device=replay", f"camera_device.path={tmp_path / 'frames'}",
           "env.kwargs.image_size=32", "episodes=1", "progress=false", f"output_dir={tmp_path / 'run'}", *overrides]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "MUJOCO_GL": "egl"})


@pytest.mark.slow
def test_eval_runs_against_franky_sim_with_the_replay_camera(tmp_path):
    _frames(tmp_path / "frames")
    with franky_sim("127.0.0.1"):
        fast = _eval(tmp_path, "robot.host=127.0.0.1", "agent=random", "robot.episode_steps=3")
        assert fast.returncode == 0, fast.stderr[-2000:]
        default = _eval(tmp_path, "robot.host=127.0.0.1", "robot.episode_steps=2",
                        f"output_dir={tmp_path / 'run_default'}")
        assert default.returncode == 0, default.stderr[-2000:]
    played = {}
    for run, limit in (("run", 3), ("run_default", 2)):
        results = json.loads((tmp_path / run / "results.json").read_text())
        assert results["task"]["id"] == "vjepa_bench/FrankaReal-v1" and results["summary"]["n"] == 1
        record = json.loads((tmp_path / run / "episodes.jsonl").read_text().splitlines()[0])
        # an episode runs to its step limit unless it reaches the goal first (franky-sim's timing varies the path)
        assert record["steps"] == limit or (record["steps"] < limit and record["outcome"] == "success"), record
        assert record["outcome"] in ("success", "failure")
        played[run] = record["steps"]
    with TrajectoryReader(tmp_path / "log") as reader:  # both episodes logged as training data
        assert len(reader) == 2 and reader[0].actions.shape == (played["run"], 7)
        assert reader[0].images.shape == (played["run"] + 1, 32, 32, 3)


def test_unreachable_host_is_a_one_line_error(tmp_path):
    _frames(tmp_path / "frames")
    result = _eval(tmp_path, "robot.host=127.0.0.250", "agent=random")
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "robot.host=127.0.0.250" in message[0] and "FCI" in message[0], result.stderr


def test_wrong_robot_server_version_names_the_wheel_to_install():
    with franky_sim("127.0.0.251", version=9):
        robot = make_robot(RobotConfig(name="franky", host="127.0.0.251"))
        with pytest.raises(UsageError, match="by-robot-server-version/9/"):
            robot.connect()


def test_missing_camera_and_missing_packages_are_one_line_errors(tmp_path, monkeypatch):
    robot = make_robot(RobotConfig(name="fake"))
    with pytest.raises(UsageError, match="camera_device.path=.*no such file"):
        make_camera(CameraDeviceConfig(name="replay", path=str(tmp_path / "none")), robot).start()
    with pytest.raises(UsageError, match="No device connected.*USB 3"):
        make_camera(CameraDeviceConfig(name="realsense"), robot).start()
    monkeypatch.setitem(sys.modules, "polymetis", None)
    with pytest.raises(UsageError, match="conda install .* polymetis"):
        make_robot(RobotConfig(name="polymetis"))
    monkeypatch.setitem(sys.modules, "pyzed", None)
    monkeypatch.setitem(sys.modules, "pyzed.sl", None)
    with pytest.raises(UsageError, match="ZED SDK.*PyPI package 'pyzed' is unrelated"):
        make_camera(CameraDeviceConfig(name="zed"), robot).start()
    monkeypatch.setitem(sys.modules, "franky", None)
    with pytest.raises(UsageError, match=r"pip install -e \"\.\[franky\]\""):
        make_robot(RobotConfig(name="franky"))
    with pytest.raises(UsageError, match="robot.bogus"):
        RobotConfig.from_dict({"bogus": 1})


def test_robot_check_needs_the_estop_flag_then_passes_against_franky_sim(tmp_path):
    _frames(tmp_path / "frames")
    base = [sys.executable, "-m", "vjepa_bench.cli", "robot-check", "robot.host=127.0.0.1", "camera_device=replay",
            f"camera_device.path={tmp_path / 'frames'}"]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "i_have_an_estop=true" in refused.stderr
    with franky_sim("127.0.0.1"):
        passed = subprocess.run([*base, "i_have_an_estop=true", "confirm=false"], capture_output=True, text=True,
                                timeout=120)
    assert passed.returncode == 0, passed.stderr[-2000:]
    assert [line.split(":")[0] for line in passed.stdout.splitlines() if line.startswith("PASS")] == [
        "PASS state", "PASS move", "PASS gripper", "PASS camera"]
