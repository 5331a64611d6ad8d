"""Goal schedules: which of an episode's goal images is active at a control step (docs/conventions.md#goals).

Shared by the sim envs, the real env and the world-model agent, so that all three switch goals at the same step.
"""

from __future__ import annotations

import numpy as np


def active_goal(step: int, schedule: list[int] | tuple[int, ...]) -> int:
    """Index of the goal active at ``step`` (0-based) when goal ``k`` is active for ``schedule[k]`` steps; the
    last goal stays active after the schedule ends (pick-and-place: 4 / 10 / 4)."""
    if not schedule:
        raise ValueError("a goal schedule needs at least one goal")
    return int(min(np.searchsorted(np.cumsum(schedule), step, side="right"), len(schedule) - 1))
