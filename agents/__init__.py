"""Agents: the Agent protocol, baselines and world-model planners, constructible by name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from vjepa_bench.agents.base import AGENTS, Agent, register_agent
from vjepa_bench.errors import UsageError


def load_agents() -> dict[str, Any]:
    """Import every module of this package, so each ``@register_agent`` class is in ``AGENTS`` (the one registry)."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    return AGENTS


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Build a registered agent, e.g. ``make_agent("scripted")``; unknown names list the known ones."""
    load_agents()
    if name not in AGENTS:
        raise UsageError(f"unknown agent {name!r}; choose one of: {', '.join(sorted(AGENTS))}")
    factory = AGENTS[name]
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as err:
        raise UsageError(f"agent {name!r}: {err} (see configs/agent/{name}.yaml for its settings)") from None
    return factory(**kwargs)


__all__ = ["AGENTS", "Agent", "load_agents", "make_agent", "register_agent"]
