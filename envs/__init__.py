"""Gymnasium Franka Panda table-top envs (MuJoCo) with image goals; importing this module registers them.

Ids (``gym.make(id, **kwargs)``):

* ``vjepa_bench/FrankaReach-v1``: move the hand to a goal position (30 steps).
* ``vjepa_bench/FrankaGrasp-v1``: grasp the ``object`` ("box" or "cup") and lift it (30 steps).
* ``vjepa_bench/FrankaPickPlace-v1``: pick the object and place it on a coaster, 3 sub-goals 4 / 10 / 4 (18 steps).
* ``vjepa_bench/FrankaPickPlaceFinal-v1``: the same pick-and-place from the final goal image alone (30 steps).
* ``vjepa_bench/FrankaReachWithObject-v1``: carry the held object to a goal position (30 steps).

Keyword arguments (all envs): ``image_size=256``, ``camera`` (``CameraPose`` or dict), ``camera_randomization``
(``CameraRandomization`` or dict of ranges), ``render_mode=None | "rgb_array"``, ``shadows=True``; ``object="box"``
for the three object tasks. See each env class's docstring for the full spec.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from vjepa_bench.envs.base import FrankaEnv, GoalSpec
from vjepa_bench.envs.camera import CameraPose, CameraRandomization
from vjepa_bench.envs.grasp import FrankaGraspEnv
from vjepa_bench.envs.pick_place import FrankaPickPlaceEnv, FrankaPickPlaceFinalEnv
from vjepa_bench.envs.reach import FrankaReachEnv
from vjepa_bench.envs.reach_with_object import FrankaReachWithObjectEnv

from vjepa_bench.errors import UsageError

ENV_CLASSES: dict[str, type[FrankaEnv]] = {
    "vjepa_bench/FrankaReach-v1": FrankaReachEnv,
    "vjepa_bench/FrankaGrasp-v1": FrankaGraspEnv,
    "vjepa_bench/FrankaPickPlace-v1": FrankaPickPlaceEnv,
    "vjepa_bench/FrankaPickPlaceFinal-v1": FrankaPickPlaceFinalEnv,
    "vjepa_bench/FrankaReachWithObject-v1": FrankaReachWithObjectEnv,
}
ENV_IDS = tuple(ENV_CLASSES)
OBJECT_TASKS = tuple(i for i, c in ENV_CLASSES.items() if c.uses_object)



def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` for user settings: a bad id or argument is a ``UsageError`` that names it, not a traceback."""
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.Error as err:
        raise UsageError(f"env {env_id!r}: {err}") from None
    except (TypeError, ValueError) as err:
        raise UsageError(f"env {env_id!r} with {kwargs}: {err} (check env.kwargs and the camera settings)") from None


for _env_id, _cls in ENV_CLASSES.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=f"{_cls.__module__}:{_cls.__name__}",
                     max_episode_steps=_cls.max_episode_steps)

__all__ = ["ENV_CLASSES", "ENV_IDS", "OBJECT_TASKS", "CameraPose", "CameraRandomization", "FrankaEnv", "GoalSpec",
           "make_env",
           "FrankaGraspEnv", "FrankaPickPlaceEnv", "FrankaPickPlaceFinalEnv", "FrankaReachEnv", "FrankaReachWithObjectEnv"]
