"""One contract suite for every robot adapter available here: the MuJoCo sim robot, franky against franky-sim (a
MuJoCo FR3 speaking the libfranka network protocol on loopback, started by these tests) and the in-process fake."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vjepa_bench.envs.real import Pose, SafeRobot, SafetyLimits
from vjepa_bench.envs.real.fake import FakeRobot
from vjepa_bench.envs.real.franky_robot import FrankyRobot
from vjepa_bench.envs.real.sim_robot import SimRobot

# franky-sim 1.0.4 reads pinocchio 3's Frame.parentJoint; pinocchio 2 calls it Frame.parent.
SERVER = """
import sys, pinocchio
if not hasattr(pinocchio.Frame, "parentJoint"):
    pinocchio.Frame.parentJoint = property(lambda frame: frame.parent)
version = int(sys.argv[2])
if version != 10:  # present another robot server version, as an older Franka would
    import struct
    from franky_sim import franka_server as fs
    def handle(self, server, command_type_struct="I"):
        header = fs.MessageHeader(self.command_type, self.command_id, 8).to_bytes(command_type_struct=command_type_struct)
        self.client_socket.sendall(header + struct.pack("<BH5x", fs.ConnectStatus.kIncompatibleLibraryVersion.value, version))
    fs.ConnectCommand.handle = handle
sys.argv = ["franky-sim", "--hostname", sys.argv[1], "-s", "mujoco"]
from franky_sim.run_server import main
main()
"""
HOME = np.array([0.45, 0.0, 0.35])
"""Flange position of the home pose; its orientation is the adapter's ``ready_rotation``."""


def _port_open(host: str, port: int = 1337) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@contextlib.contextmanager
def franky_sim(host: str = "127.0.0.1", version: int = 10, timeout_s: float = 60.0):
    """A franky-sim server on ``host`` for the duration of the block (killed after, bounded in time)."""
    assert not _port_open(host), f"something already listens on {host}:1337"
    proc = subprocess.Popen([sys.executable, "-c", SERVER, host, str(version)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, "MUJOCO_GL": "egl"})
    try:
        deadline = time.monotonic() + timeout_s
        while not _port_open(host):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "franky-sim did not start in time"
            time.sleep(0.2)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def franky_host():
    with franky_sim("127.0.0.2"):  # the eval tests start their own on 127.0.0.1
        yield "127.0.0.2"


def _limits(**kw) -> SafetyLimits:
    return SafetyLimits(**{"speed": 0.3, **kw})


def _make(kind: str, request) -> tuple[SafeRobot, float]:
    """A connected safe robot at its home pose and its position tolerance (m)."""
    if kind == "sim":
        adapter, tol = SimRobot(image_size=16), 0.006
    elif kind == "franky":
        adapter, tol = FrankyRobot(request.getfixturevalue("franky_host")), 0.003
    else:
        adapter, tol = FakeRobot(), 1e-9
    robot = SafeRobot(adapter, _limits())
    robot.connect()
    robot.start_episode()
    robot.move_to(Pose(HOME, adapter.ready_rotation), tolerance_m=tol / 2)
    request.addfinalizer(robot.close)
    return robot, tol


ADAPTERS = ["sim", "franky", "fake"]


@pytest.mark.parametrize("kind", ADAPTERS)
def test_reaches_targets_with_base_frame_deltas_and_euler_round_trips(kind, request):
    robot, tol = _make(kind, request)
    start = robot.read_state()
    robot.move_delta([0.03, -0.02, 0.02], [0.0, 0.0, 0.0])
    after = robot.read_state()
    np.testing.assert_allclose(after.pose.position - start.pose.position, [0.03, -0.02, 0.02], atol=tol)
    # a base-frame rotation delta is applied on the left: R' = R_d R
    robot.move_delta([0.0, 0.0, 0.0], [0.0, 0.0, 0.2])
    turned = robot.read_state()
    expected = Rotation.from_euler("xyz", [0.0, 0.0, 0.2]) * after.pose.rotation
    assert (turned.pose.rotation * expected.inv()).magnitude() < 0.03
    np.testing.assert_allclose(turned.pose.position, after.pose.position, atol=tol)
    vector = turned.vector()
    again = Pose.from_euler(vector[:3], vector[3:6])
    assert (again.rotation * turned.pose.rotation.inv()).magnitude() < 1e-5
    target = Pose(HOME + [0.05, 0.05, -0.05], start.pose.rotation)
    reached = robot.move_to(target, tolerance_m=tol / 2)
    assert np.linalg.norm(reached.position - target.position) < tol


@pytest.mark.parametrize("kind", ADAPTERS)
def test_gripper_closedness_is_zero_open_one_closed(kind, request):
    robot, _ = _make(kind, request)
    robot.set_gripper(1.0)
    assert robot.read_state().gripper > 0.8
    robot.set_gripper(0.0)
    assert robot.read_state().gripper < 0.1


@pytest.mark.parametrize("kind", ADAPTERS)
def test_steps_are_clipped_to_the_limits_and_the_floor(kind, request):
    robot, tol = _make(kind, request)
    robot.limits = _limits(floor_z=0.3)
    start = robot.read_state().pose.position
    report = robot.move_delta([0.5, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert "step_translation_clipped" in report.events
    moved = robot.read_state().pose.position - start
    assert moved[0] == pytest.approx(robot.limits.max_step_m, abs=tol) and np.linalg.norm(moved) < 0.13 + tol
    for _ in range(3):
        robot.move_delta([0.0, 0.0, -0.1], [0.0, 0.0, 0.0])
    assert robot.read_state().pose.position[2] >= 0.3 - tol


@pytest.mark.parametrize("kind", ADAPTERS)
def test_watchdog_stops_and_holds_when_no_heartbeat_arrives(kind, request):
    robot, tol = _make(kind, request)
    robot.close()
    robot.limits = _limits(watchdog_s=0.2)
    robot.connect()
    held = robot.read_state().pose.position
    time.sleep(0.6)  # a slow planner: no command, no heartbeat
    assert robot.watchdog_trips >= 1 and "watchdog_stop" in robot.events
    np.testing.assert_allclose(robot.read_state().pose.position, held, atol=tol)
    robot.move_delta([0.02, 0.0, 0.0], [0.0, 0.0, 0.0])  # the next command is accepted
    assert robot.read_state().pose.position[0] == pytest.approx(held[0] + 0.02, abs=tol)


def test_franky_peer_received_only_targets_inside_the_limits(franky_host, request):
    """Read back what franky-sim was commanded (its desired end-effector pose) after an aggressive stream."""
    robot, _ = _make("franky", request)
    robot.limits = _limits(workspace_high=(0.55, 0.1, 0.45))
    adapter: FrankyRobot = robot.adapter
    rng = np.random.default_rng(0)
    for _ in range(6):
        robot.move_delta(rng.uniform(-0.3, 0.3, 3), [0.0, 0.0, 0.0])
        desired = np.array(adapter._robot.state.O_T_EE_d.matrix) @ np.linalg.inv(adapter._flange_to_ee)
        assert np.all(desired[:3, 3] <= np.array(robot.limits.high) + 1e-3)
        assert np.all(desired[:3, 3] >= robot.limits.low - 1e-3)
