"""Success-rate statistics: Wilson score intervals and the summary of a set of episode records."""

from __future__ import annotations

import math
from typing import Any, Iterable

Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0, 1)`` when ``n == 0``."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Summary block of ``results.json``: n, successes, rate, Wilson 95% interval, mean distance and plan time."""
    records = list(records)
    n = len(records)
    successes = sum(bool(r["success"]) for r in records)
    low, high = wilson_interval(successes, n)
    plan_times = [t for r in records for t in r.get("planning_time_s", [])]
    return {
        "n": n,
        "successes": successes,
        "success_rate": successes / n if n else None,
        "wilson95": [low, high],
        "mean_final_distance": _mean([r["final_distance"] for r in records]),
        "mean_planning_time_s": _mean(plan_times),
        "mean_steps": _mean([r["steps"] for r in records]),
    }
