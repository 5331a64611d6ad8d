"""The step-contract diagnostic: extreme streams, the report and its usage errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vjepa_bench import layout
from vjepa_bench.envs import controller
from vjepa_bench.evaluation import step_contract


def test_extreme_streams_sit_at_the_bounds_and_reproduce():
    streams = step_contract.extreme_streams(5, 4, seed=3)
    bound = np.r_[layout.ACTION_HIGH[:6], 1.0]
    for _, actions in streams:
        assert actions.shape == (4, 7)
        assert np.all(np.isclose(np.abs(actions), bound) | (actions == 0))
    again = step_contract.extreme_streams(5, 4, seed=3)
    assert [seed for seed, _ in streams] == [seed for seed, _ in again]
    np.testing.assert_array_equal(streams[2][1], again[2][1])
    assert step_contract.extreme_streams(200, 15, 0)[56][0] == step_contract.extreme_streams(1000, 15, 0)[56][0]


def test_the_report_measures_every_step(capsys):
    step_contract.main(["--streams", "2", "--length", "3"])
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 6 and report["gripper"] == "robotiq_2f85"  # the envs' default hand
    for errors in (report["position_m"], report["rotation_rad"]):
        assert 0 <= errors["p50"] <= errors["p99"] <= errors["max"]
    assert report["position_m"]["max"] == report["worst"]["position_error"]
    assert report["worst"]["stream"] in (0, 1) and report["worst"]["step"] in (0, 1, 2)
    assert report["position_m"]["max"] < 0.05  # short streams from the start pose stay close


def test_the_report_counts_what_the_controller_made_of_each_action(capsys, monkeypatch):
    def targets() -> dict[str, int]:
        step_contract.main(["--streams", "2", "--length", "15"])  # stream 1 asks the wrist for too wide a swing
        report = json.loads(capsys.readouterr().out)
        assert sum(report["targets"].values()) == report["steps"] == 30
        return report["targets"]

    counted = targets()
    assert counted["as asked"] > 0 and counted["cut back"] + counted["held"] > 0
    monkeypatch.setattr(controller, "MAX_JOINT_SWING", np.inf)  # the controller without the cut-back
    counted = targets()
    assert counted["cut back"] == counted["held"] == 0


@pytest.mark.parametrize("argv, flag", [(["--streams", "0"], "--streams"), (["--gripper", "umi"], "--gripper")])
def test_bad_arguments_are_usage_errors(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        step_contract.main(argv)
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err
