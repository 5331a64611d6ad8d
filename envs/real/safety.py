"""The safety layer between any agent and any robot adapter: limits, watchdog, bounded recovery, emergency stop.

Every Cartesian command goes through :class:`SafeRobot`, which

* rejects NaN / inf input outright (nothing is sent);
* limits each step: translation norm ``max_step_m`` and rotation angle ``max_step_rad`` from the measured pose;
* clips the target into the workspace box (base frame) and above the floor, and pushes it out of the keep-out
  cylinder around the base's z axis;
* checks the final target once more right before sending it (:func:`violations`) and refuses to send if anything is
  off, so no command outside the limits ever reaches an adapter;
* sends at ``speed`` (a fraction of the stack's maximum: franky's relative dynamics factor) and grasps with at most
  ``gripper_force_n``.

A :class:`Watchdog` thread stops and holds the arm when neither a command nor a heartbeat arrived within
``watchdog_s`` (a blocking move counts as busy until its own timeout), so a slow planner never leaves a motion
running. Control faults and dropped links are recovered at most ``max_recoveries`` times per episode; then
:class:`SafetyAbort` ends the episode (the env marks it ``aborted_safety``). :class:`EmergencyStop` can be
triggered from any thread or by Ctrl-C (:func:`stop_on_interrupt`); it stops the arm and refuses every later
command until the process is restarted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterator, Mapping

import numpy as np
from scipy.spatial.transform import Rotation

from vjepa_bench.envs.real.interface import (
    ConnectionLost,
    ControlFault,
    Pose,
    RobotAdapter,
    RobotError,
    RobotState,
)
from vjepa_bench.errors import UsageError

_EPS = 1e-9


class SafetyViolation(RobotError):
    """A command the safety layer refused to send (non-finite, or no safe target exists)."""


class SafetyAbort(RobotError):
    """Recovery is exhausted (or failed): the episode must end as ``aborted_safety``."""


class EmergencyStopped(RobotError):
    """The emergency stop was triggered; the arm is stopped and no command is accepted."""


@dataclass(frozen=True)
class SafetyLimits:
    """Limits in the base frame, SI units. Defaults suit a Franka on a table with the sim envs' workspace."""

    workspace_low: tuple[float, float, float] = (0.25, -0.4, 0.12)
    workspace_high: tuple[float, float, float] = (0.75, 0.4, 0.6)
    floor_z: float = 0.12
    """Lowest flange height (m); with a hand mounted, keeps the fingertips above the table top."""
    keep_out_radius: float = 0.2
    """No target closer than this (m) to the base's z axis."""
    max_step_m: float = 0.13
    """Largest translation (m) of one step (the action box's diagonal is 0.075 * sqrt(3))."""
    max_step_rad: float = 0.45
    """Largest rotation angle (rad) of one step."""
    speed: float = 0.1
    """Fraction of the stack's maximum velocity / acceleration / jerk; start real runs at 0.05."""
    gripper_force_n: float = 20.0
    watchdog_s: float = 1.0
    """Stop and hold when no command or heartbeat arrives for this long."""
    move_timeout_s: float = 10.0
    max_recoveries: int = 2
    """Automatic recoveries per episode before it is aborted."""

    def __post_init__(self) -> None:
        for name in ("workspace_low", "workspace_high"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3 or not all(np.isfinite(value)):
                raise UsageError(f"safety.{name}={list(value)}: need three finite numbers (m, base frame)")
            object.__setattr__(self, name, value)
        low, high = np.array(self.workspace_low), np.array(self.workspace_high)
        if np.any(low >= high):
            raise UsageError(f"safety.workspace_low={list(low)} must be below workspace_high={list(high)} on every axis")
        if self.floor_z >= high[2]:
            raise UsageError(f"safety.floor_z={self.floor_z} leaves no room below workspace_high z={high[2]}")
        if not 0.0 < self.speed <= 1.0:
            raise UsageError(f"safety.speed={self.speed} must be in (0, 1] (a fraction of the maximum)")
        positive = ("max_step_m", "max_step_rad", "gripper_force_n", "watchdog_s", "move_timeout_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise UsageError(f"safety.{name}={getattr(self, name)} must be positive")
        if self.keep_out_radius < 0 or self.max_recoveries < 0:
            raise UsageError("safety.keep_out_radius and safety.max_recoveries must be >= 0")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> SafetyLimits:
        """Limits from config values; an unknown key is a ``UsageError`` that lists the known ones."""
        values = dict(values or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise UsageError(f"unknown robot.safety keys {unknown}; known: {sorted(names)}")
        return cls(**{k: v for k, v in values.items() if v is not None})

    @property
    def low(self) -> np.ndarray:
        low = np.array(self.workspace_low)
        low[2] = max(low[2], self.floor_z)
        return low

    @property
    def high(self) -> np.ndarray:
        return np.array(self.workspace_high)


def violations(limits: SafetyLimits, current: Pose, target: Pose) -> list[str]:
    """Every limit ``target`` breaks as a step from ``current`` (empty: safe to send)."""
    out = []
    if not (np.all(np.isfinite(target.position)) and np.all(np.isfinite(target.rotation.as_quat()))):
        return ["non-finite target"]
    p = target.position
    if np.any(p < limits.low - _EPS) or np.any(p > limits.high + _EPS):
        out.append(f"target {np.round(p, 4).tolist()} outside the workspace box / above-floor region")
    if np.hypot(p[0], p[1]) < limits.keep_out_radius - _EPS:
        out.append(f"target {np.round(p, 4).tolist()} inside the keep-out radius {limits.keep_out_radius} m")
    translation, angle = current.distance_to(target)
    if translation > limits.max_step_m + _EPS:
        out.append(f"step of {translation:.4f} m exceeds max_step_m={limits.max_step_m}")
    if angle > limits.max_step_rad + _EPS:
        out.append(f"rotation of {angle:.4f} rad exceeds max_step_rad={limits.max_step_rad}")
    return out


def safe_target(limits: SafetyLimits, current: Pose, dposition, drotation_xyz) -> tuple[Pose, list[str]]:
    """The limited target for a base-frame delta from ``current`` and the events (what was clipped and why)."""
    dposition = np.asarray(dposition, np.float64)
    drotation = np.asarray(drotation_xyz, np.float64)
    if not (np.all(np.isfinite(dposition)) and np.all(np.isfinite(drotation))):
        raise SafetyViolation(f"non-finite command rejected: dp={dposition.tolist()}, drot={drotation.tolist()}")
    events = []
    step = np.linalg.norm(dposition)
    if step > limits.max_step_m:
        dposition = dposition * (limits.max_step_m / step)
        events.append("step_translation_clipped")
    rotvec = Rotation.from_euler("xyz", drotation).as_rotvec()
    angle = np.linalg.norm(rotvec)
    if angle > limits.max_step_rad:
        rotvec = rotvec * (limits.max_step_rad / angle)
        events.append("step_rotation_clipped")
    position = current.position + dposition
    boxed = np.clip(position, limits.low, limits.high)
    if not np.allclose(boxed, position, atol=0.0):
        events.append("workspace_clipped")
    radius = np.hypot(boxed[0], boxed[1])
    if radius < limits.keep_out_radius:
        direction = boxed[:2] / radius if radius > 1e-6 else np.array([1.0, 0.0])
        boxed[:2] = direction * limits.keep_out_radius * (1 + 1e-6)
        boxed = np.clip(boxed, limits.low, limits.high)
        events.append("keep_out_clipped")
    offset = boxed - current.position
    if np.linalg.norm(offset) > limits.max_step_m:  # only when the arm is outside the box: approach it step by step
        boxed = current.position + offset * (limits.max_step_m / np.linalg.norm(offset))
    target = Pose(boxed, Rotation.from_rotvec(rotvec) * current.rotation)
    return target, events


class EmergencyStop:
    """A latch any thread can trigger: it calls every registered stop and refuses all later commands."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._stops: list[Callable[[], None]] = []
        self.reason = ""

    def register(self, stop: Callable[[], None]) -> None:
        self._stops.append(stop)

    def trigger(self, reason: str = "emergency stop") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()
        for stop in self._stops:
            with contextlib.suppress(Exception):  # a dead link must not keep the other stops from running
                stop()

    @property
    def triggered(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self.triggered:
            raise EmergencyStopped(f"emergency stop ({self.reason}): the arm is stopped; restart to continue")


@contextlib.contextmanager
def stop_on_interrupt(estop: EmergencyStop) -> Iterator[None]:
    """Make Ctrl-C (SIGINT) trigger ``estop`` before the usual ``KeyboardInterrupt`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        estop.trigger("Ctrl-C")
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Watchdog:
    """Calls ``on_timeout`` once when ``feed`` was not called for ``timeout_s`` (plus any busy time announced)."""

    def __init__(self, timeout_s: float, on_timeout: Callable[[], None]) -> None:
        self.timeout_s = float(timeout_s)
        self._on_timeout = on_timeout
        self._deadline = time.monotonic() + self.timeout_s
        self._fired = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.trips = 0
        self._thread = threading.Thread(target=self._run, name="robot-watchdog", daemon=True)
        self._thread.start()

    def feed(self, busy_s: float = 0.0) -> None:
        """A command or heartbeat: re-arm; ``busy_s`` extends the deadline while a blocking move runs."""
        with self._lock:
            self._deadline = time.monotonic() + self.timeout_s + busy_s
            self._fired = False

    def _run(self) -> None:
        while not self._closed:
            with self._lock:
                remaining = self._deadline - time.monotonic()
                fire = remaining <= 0 and not self._fired
                if fire:
                    self._fired = True
                    self.trips += 1
            if fire:
                with contextlib.suppress(Exception):
                    self._on_timeout()
            self._wake.wait(min(max(remaining, 0.005), 0.05) if remaining > 0 else 0.02)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=1.0)


@dataclass
class StepReport:
    """What one safe step did: the target sent (None if nothing was sent) and the safety events."""

    target: Pose | None = None
    events: list[str] = field(default_factory=list)


class SafeRobot:
    """Wraps an adapter; the only way the real env (and ``robot-check``) commands a robot."""

    def __init__(self, adapter: RobotAdapter, limits: SafetyLimits | None = None,
                 estop: EmergencyStop | None = None) -> None:
        self.adapter = adapter
        self.limits = limits or SafetyLimits()
        self.estop = estop or EmergencyStop()
        self.estop.register(adapter.stop)
        self.recoveries = 0
        self.events: list[str] = []
        self._watchdog: Watchdog | None = None
        self._gripper_target: float | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle
    def connect(self) -> None:
        self.adapter.connect()
        if self._watchdog is None:
            self._watchdog = Watchdog(self.limits.watchdog_s, self._on_watchdog)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        self.adapter.close()

    def start_episode(self) -> None:
        """Reset the per-episode recovery budget and event log."""
        self.recoveries = 0
        self.events = []
        self._gripper_target = None

    @property
    def watchdog_trips(self) -> int:
        return 0 if self._watchdog is None else self._watchdog.trips

    def heartbeat(self) -> None:
        if self._watchdog is not None:
            self._watchdog.feed()

    def _on_watchdog(self) -> None:
        self.adapter.stop()
        self.events.append("watchdog_stop")

    def stop(self) -> None:
        self.adapter.stop()

    # ------------------------------------------------------------------------------------------------ commands
    def read_state(self) -> RobotState:
        self.estop.check()
        return self._guarded(self.adapter.read_state)

    def move_delta(self, dposition, drotation_xyz) -> StepReport:
        """One limited base-frame step from the measured pose (blocking)."""
        self.estop.check()
        current = self.read_state().pose
        target, events = safe_target(self.limits, current, dposition, drotation_xyz)
        report = StepReport(events=events)
        self.events.extend(events)
        if self._send(current, target):
            report.target = target
        return report

    def move_to(self, pose: Pose, tolerance_m: float = 0.005, max_steps: int = 200) -> Pose:
        """Approach an absolute pose in limited steps (blocking); returns the pose reached."""
        for _ in range(max_steps):
            current = self.read_state().pose
            translation, angle = current.distance_to(pose)
            if translation <= tolerance_m and angle <= 0.02:
                return current
            drot = (pose.rotation * current.rotation.inv()).as_euler("xyz")
            target, events = safe_target(self.limits, current, pose.position - current.position, drot)
            if events and "step_translation_clipped" not in events and "step_rotation_clipped" not in events:
                raise SafetyViolation(f"pose {np.round(pose.position, 4).tolist()} is outside the safety limits "
                                      f"({', '.join(events)}); choose a target inside robot.safety")
            self._send(current, target)
        return self.read_state().pose

    def set_gripper(self, closedness: float, force_n: float | None = None) -> None:
        """Blocking gripper command, closedness clipped to [0, 1], force capped at ``gripper_force_n``."""
        self.estop.check()
        closedness = float(closedness)
        if not np.isfinite(closedness):
            raise SafetyViolation(f"non-finite gripper command rejected: {closedness}")
        force = self.limits.gripper_force_n if force_n is None else min(float(force_n), self.limits.gripper_force_n)
        if not force > 0:
            raise SafetyViolation(f"gripper force must be positive, got {force_n}")
        closedness = float(np.clip(closedness, 0.0, 1.0))
        self._busy()
        self._guarded(lambda: self.adapter.set_gripper(closedness, force, self.limits.move_timeout_s))
        self._gripper_target = closedness
        self.heartbeat()

    # ------------------------------------------------------------------------------------------------ internals
    def _busy(self) -> None:
        if self._watchdog is not None:
            self._watchdog.feed(busy_s=self.limits.move_timeout_s)

    def _send(self, current: Pose, target: Pose) -> bool:
        problems = violations(self.limits, current, target)
        if problems:
            raise SafetyViolation("refused to send: " + "; ".join(problems))
        self.estop.check()
        self._busy()
        sent = self._guarded(lambda: self.adapter.move_to(target, self.limits.speed, self.limits.move_timeout_s),
                             returns_ok=True)
        self.heartbeat()
        return sent

    def _guarded(self, call: Callable[[], Any], returns_ok: bool = False) -> Any:
        """Run an adapter call; on a fault, recover (bounded) and report; out of budget: ``SafetyAbort``."""
        try:
            result = call()
            return True if returns_ok else result
        except (ControlFault, ConnectionLost) as error:
            self.events.append(f"fault: {error}")
            if self.estop.triggered:
                self.estop.check()
            if self.recoveries >= self.limits.max_recoveries:
                self.adapter.stop()
                raise SafetyAbort(f"{error}; {self.recoveries} recoveries used this episode "
                                  f"(robot.safety.max_recoveries={self.limits.max_recoveries})") from error
            self.recoveries += 1
            if not self.adapter.recover():
                self.adapter.stop()
                raise SafetyAbort(f"{error}; recovery failed") from error
            self.events.append("recovered")
            if returns_ok:
                return False
            return call()
