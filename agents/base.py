"""The Agent protocol every policy and planner implements, and a registry of agents by name."""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    """A goal-conditioned policy driven by the evaluation runner.

    ``reset`` receives the first observation, the reset ``info`` (with ``info["goal"]``, see docs/conventions.md#goals) and the
    unwrapped env; only privileged agents (``scripted``, ``sim_cem``, ``sim_image_cem``) may read the simulator through
    it (``require_sim_env``).
    ``act`` returns one 7-D action; ``step_info`` reports diagnostics of the last ``act`` call
    (``planning_time_s``, ``energy``, ...), all JSON-serialisable.
    """

    name: str

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None: ...

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...

    def step_info(self) -> dict[str, Any]: ...


AGENTS: dict[str, Callable[..., Agent]] = {}


def register_agent(name: str) -> Callable[[Callable[..., Agent]], Callable[..., Agent]]:
    """Class decorator: make an agent constructible by name (``agent=<name>`` on the command line)."""

    def decorate(factory: Callable[..., Agent]) -> Callable[..., Agent]:
        if name in AGENTS:
            raise ValueError(f"agent {name!r} is registered twice")
        AGENTS[name] = factory
        return factory

    return decorate


def require_sim_env(agent: str, env: Any, *needed: str) -> None:
    """A privileged ``agent`` refuses an env that lacks the simulator methods it reads (``needed``)."""
    for method in needed:
        if not hasattr(env, method):
            raise TypeError(f"{agent} needs a simulated vjepa_bench env (with {method}); got {type(env).__name__}")
