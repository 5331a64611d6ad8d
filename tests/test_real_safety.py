"""The safety layer against the in-process fake with fault injection, and the property that no command outside
the limits ever reaches an adapter."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vjepa_bench.envs.real import (
    EmergencyStop,
    EmergencyStopped,
    SafeRobot,
    SafetyAbort,
    SafetyLimits,
    SafetyViolation,
    stop_on_interrupt,
)
from vjepa_bench.envs.real.env import FrankaRealEnv
from vjepa_bench.envs.real.fake import FakeCamera, FakeRobot
from vjepa_bench.envs.real.safety import violations


@pytest.fixture
def closing():
    """Registers robots and envs to close after the test, so no watchdog thread outlives it."""
    opened = []

    def register(thing):
        opened.append(thing)
        return thing

    yield register
    for thing in reversed(opened):
        thing.close()


def _safe(closing, fake: FakeRobot, **limits) -> SafeRobot:
    robot = closing(SafeRobot(fake, SafetyLimits(**limits)))
    robot.connect()
    robot.start_episode()
    return robot


def test_control_error_mid_motion_is_recovered_then_the_episode_aborts(closing):
    fake = FakeRobot(fault_on_move=(1, 2, 3))
    robot = _safe(closing, fake, max_recoveries=2)
    for _ in range(2):
        robot.move_delta([0.02, 0, 0], [0, 0, 0])
    assert [c.kind for c in fake.received].count("recover") == 2 and "recovered" in robot.events
    with pytest.raises(SafetyAbort, match="max_recoveries=2"):
        robot.move_delta([0.02, 0, 0], [0, 0, 0])
    assert fake.received[-1].kind == "stop"  # the abort leaves the arm stopped


def test_dropped_connection_reconnects_and_failed_recovery_aborts(closing):
    fake = FakeRobot(drop_on_move=(1,))
    robot = _safe(closing, fake)
    robot.move_delta([0.02, 0, 0], [0, 0, 0])
    assert fake.connected
    robot.move_delta([0.02, 0, 0], [0, 0, 0])
    assert fake.pose.position[0] == pytest.approx(0.47)
    broken = _safe(closing, FakeRobot(drop_on_move=(1,), recover_ok=False))
    with pytest.raises(SafetyAbort, match="recovery failed"):
        broken.move_delta([0.02, 0, 0], [0, 0, 0])


def test_watchdog_cuts_a_hung_motion_short(closing):
    fake = FakeRobot(motion_s=5.0)
    robot = _safe(closing, fake, watchdog_s=0.1, move_timeout_s=0.2)
    start = time.monotonic()
    robot.move_delta([0.04, 0, 0], [0, 0, 0])
    assert time.monotonic() - start < 4.0 and any(c.kind == "stop" for c in fake.received)
    assert fake.pose.position[0] == pytest.approx(0.47)  # held where it was stopped, half way


def test_emergency_stop_from_another_thread_and_ctrl_c(closing):
    fake = FakeRobot(motion_s=5.0)
    estop = EmergencyStop()
    robot = closing(SafeRobot(fake, SafetyLimits(move_timeout_s=10.0), estop))
    robot.connect()
    threading.Timer(0.2, estop.trigger, args=("test",)).start()
    start = time.monotonic()
    robot.move_delta([0.04, 0, 0], [0, 0, 0])
    assert time.monotonic() - start < 4.0
    with pytest.raises(EmergencyStopped):
        robot.move_delta([0.01, 0, 0], [0, 0, 0])
    sent = len([c for c in fake.received if c.kind == "move"])
    assert sent == 1
    second = EmergencyStop()
    second.register(fake.stop)
    with stop_on_interrupt(second), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
    assert second.triggered and second.reason == "Ctrl-C"


def test_non_finite_commands_never_reach_the_adapter(closing):
    fake = FakeRobot()
    robot = _safe(closing, fake)
    for bad in ([np.nan, 0, 0], [0, np.inf, 0]):
        with pytest.raises(SafetyViolation):
            robot.move_delta(bad, [0, 0, 0])
    with pytest.raises(SafetyViolation):
        robot.set_gripper(float("nan"))
    assert not [c for c in fake.received if c.kind in ("move", "gripper")]


def _env(closing, fake: FakeRobot, camera: FakeCamera, **robot) -> FrankaRealEnv:
    config = {"name": "fake", "interactive": False, "goal": {"positions": [[0.5, 0.1, 0.3]]}, "log_dir": None,
              "episode_steps": 5, **robot}
    return closing(FrankaRealEnv(robot=config, camera={"name": "fake"}, image_size=16, robot_adapter=fake,
                                 camera_adapter=camera))


def test_camera_timeout_and_exhausted_recovery_end_the_episode_as_aborted_safety(closing):
    env = _env(closing, FakeRobot(), FakeCamera(timeout_after=2))  # goal capture, first observation
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step(np.zeros(7, np.float32))
    assert truncated and not terminated and info["outcome"] == "aborted_safety" and "camera" in info["abort_reason"]
    fake = FakeRobot(fault_on_move=tuple(range(3, 20)))
    env = _env(closing, fake, FakeCamera(), safety={"max_recoveries": 1})
    env.reset(seed=0)
    outcomes = []
    for _ in range(5):
        *_, truncated, info = env.step(np.array([0.01, 0, 0, 0, 0, 0, 0], np.float32))
        outcomes.append(info["outcome"])
        if truncated:
            break
    assert outcomes[-1] == "aborted_safety" and not info["success"]


limits_strategy = st.builds(
    SafetyLimits,
    workspace_low=st.tuples(st.floats(0.25, 0.4), st.floats(-0.4, -0.1), st.floats(0.05, 0.2)),
    workspace_high=st.tuples(st.floats(0.5, 0.75), st.floats(0.1, 0.4), st.floats(0.4, 0.6)),
    floor_z=st.floats(0.0, 0.3), keep_out_radius=st.floats(0.0, 0.45),
    max_step_m=st.floats(0.005, 0.13), max_step_rad=st.floats(0.01, 0.45), speed=st.floats(0.01, 1.0),
    gripper_force_n=st.floats(1.0, 40.0))
number = st.one_of(st.floats(-2.0, 2.0), st.sampled_from([np.nan, np.inf, -np.inf, 1e9]))
command = st.one_of(
    st.tuples(st.just("delta"), st.lists(number, min_size=3, max_size=3), st.lists(number, min_size=3, max_size=3)),
    st.tuples(st.just("gripper"), number, st.one_of(st.none(), number)),
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits=limits_strategy, commands=st.lists(command, min_size=1, max_size=25))
def test_no_command_outside_the_limits_ever_reaches_an_adapter(limits, commands):
    fake = FakeRobot()
    robot = SafeRobot(fake, limits)
    robot.adapter.connect()
    for kind, a, b in commands:
        try:
            if kind == "delta":
                robot.move_delta(a, b)
            else:
                robot.set_gripper(a, b)
        except SafetyViolation:
            pass
    for cmd in fake.received:
        if cmd.kind == "move":
            start_safe = not violations(limits, cmd.start, cmd.start)
            problems = violations(limits, cmd.start, cmd.pose)
            assert not problems or not start_safe and problems == [p for p in problems if "outside" in p
                                                                  or "keep-out" in p], problems
            assert cmd.speed <= limits.speed
        elif cmd.kind == "gripper":
            assert 0.0 <= cmd.closedness <= 1.0 and 0.0 < cmd.force_n <= limits.gripper_force_n


def test_ctrl_c_during_an_episode_stops_the_arm_and_refuses_further_steps(closing):
    handler_before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    fake = FakeRobot()
    env = _env(closing, fake, FakeCamera())
    env.reset(seed=0)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
    assert env.robot.estop.triggered and fake.received[-1].kind == "stop"
    moves = len([c for c in fake.received if c.kind == "move"])
    with pytest.raises(EmergencyStopped):
        env.step(np.zeros(7, np.float32))
    assert len([c for c in fake.received if c.kind == "move"]) == moves
    env.close()
    assert signal.getsignal(signal.SIGINT) is handler_before
