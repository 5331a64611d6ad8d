"""Real Franka arms behind the sim envs' Gymnasium interface: robot and camera adapters, the safety layer and
``FrankaRealEnv`` (registered as ``vjepa_bench/FrankaReal-v1``). Hardware packages are imported only when an
adapter connects, so importing this package needs none of them."""

from __future__ import annotations

import gymnasium as gym

from vjepa_bench.envs.real.config import CameraDeviceConfig, GoalConfig, RobotConfig, make_camera, make_robot
from vjepa_bench.envs.real.interface import (
    CameraAdapter,
    CameraTimeout,
    ConnectionLost,
    ControlFault,
    Frame,
    Health,
    Pose,
    RobotAdapter,
    RobotError,
    RobotState,
)
from vjepa_bench.envs.real.safety import (
    EmergencyStop,
    EmergencyStopped,
    SafeRobot,
    SafetyAbort,
    SafetyLimits,
    SafetyViolation,
    Watchdog,
    stop_on_interrupt,
)

REAL_ENV_ID = "vjepa_bench/FrankaReal-v1"

if REAL_ENV_ID not in gym.registry:
    gym.register(id=REAL_ENV_ID, entry_point="vjepa_bench.envs.real.env:FrankaRealEnv")

__all__ = [
    "REAL_ENV_ID", "CameraAdapter", "CameraDeviceConfig", "CameraTimeout", "ConnectionLost", "ControlFault",
    "EmergencyStop", "EmergencyStopped", "Frame", "GoalConfig", "Health", "Pose", "RobotAdapter", "RobotConfig",
    "RobotError", "RobotState", "SafeRobot", "SafetyAbort", "SafetyLimits", "SafetyViolation", "Watchdog",
    "make_camera", "make_robot", "stop_on_interrupt",
]
