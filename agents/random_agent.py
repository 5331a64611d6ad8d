"""The random baseline: actions uniform in the documented bounds, from a seeded generator."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from vjepa_bench.agents.base import register_agent

from vjepa_bench import layout


@register_agent("random")
class RandomAgent:
    """Uniform random actions in ``[ACTION_LOW, ACTION_HIGH]``.

    Seeding: the ``seed`` given here (one stream across episodes); else a seed derived from the first observation's
    bytes, so that the same episode always gets the same actions.
    """

    name = "random"

    def __init__(self, seed: int | None = None):
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        if self._seed is None:
            digest = hashlib.sha256(observation["state"].tobytes() + observation["image"].tobytes()).digest()
            self._rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return self._rng.uniform(layout.ACTION_LOW, layout.ACTION_HIGH).astype(np.float32)

    def step_info(self) -> dict[str, Any]:
        return {}
