"""The random baseline: actions uniform in the documented bounds, from a seeded generator."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from vjepa_bench.agents.base import register_agent

from vjepa_bench import layout

_STREAM = 0x52414E44
"""Salt of the random agent's per-episode streams."""


@register_agent("random")
class RandomAgent:
    """Uniform random actions in ``[ACTION_LOW, ACTION_HIGH]``.

    Seeding: the ``seed`` given here (one stream across episodes); else each episode's own stream, derived from the
    env's episode seed (``np_random_seed``), so that the same episode always gets the same actions whatever the
    renderer draws; an env without one (negative or missing) seeds from the first observation's bytes.
    """

    name = "random"

    def __init__(self, seed: int | None = None):
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        if self._seed is not None:
            return
        episode = getattr(env, "np_random_seed", None)
        if episode is not None and int(episode) >= 0:
            entropy = [int(episode), _STREAM]  # salted: the env's own generator is seeded with the bare episode seed
        else:
            digest = hashlib.sha256(observation["state"].tobytes() + observation["image"].tobytes()).digest()
            entropy = int.from_bytes(digest[:8], "little")
        self._rng = np.random.default_rng(np.random.SeedSequence(entropy))

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return self._rng.uniform(layout.ACTION_LOW, layout.ACTION_HIGH).astype(np.float32)

    def step_info(self) -> dict[str, Any]:
        return {}
