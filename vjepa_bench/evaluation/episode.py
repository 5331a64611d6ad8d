"""The one episode loop: reset with a seed, then ``act`` and ``step`` until the episode ends.

``vjepa-bench eval`` (``runner.run_episode``) and ``vjepa-bench collect`` (``collection.collect.run_episode``) both
play episodes through :func:`play` and keep what they need from each :class:`Transition`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Transition:
    """One item of an episode: the reset (``action`` None) or one step with the observation and info after it."""

    observation: dict[str, np.ndarray]
    info: dict[str, Any]
    action: np.ndarray | None = None
    reward: float = 0.0
    agent_info: dict[str, Any] = field(default_factory=dict)  # the agent's step_info() for this decision
    act_seconds: float = 0.0  # wall time of agent.act


def play(env: Any, agent: Any, seed: int, prepare: Callable[[np.ndarray], np.ndarray] | None = None
         ) -> Iterator[Transition]:
    """Yield the reset, then every step of one episode of ``agent`` (``reset(obs, info, env)``, ``act(obs)``,
    ``step_info()``) in ``env`` reset with ``seed``, to termination or truncation. ``prepare`` maps each action
    before it is stepped and yielded (``collect`` clips and stores float32 actions)."""
    observation, info = env.reset(seed=seed)
    agent.reset(observation, info, env.unwrapped)
    yield Transition(observation, info)
    while True:
        start = time.perf_counter()
        action = agent.act(observation)
        seconds = time.perf_counter() - start
        agent_info = agent.step_info()
        if prepare is not None:
            action = prepare(action)
        observation, reward, terminated, truncated, info = env.step(action)
        yield Transition(observation, info, action, float(reward), agent_info, seconds)
        if terminated or truncated:
            return
