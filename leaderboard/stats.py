"""Board statistics: Wilson intervals per track, a seeded stratified-bootstrap suite score, ranks with ties."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vjepa_bench.evaluation.metrics import wilson_interval

BOOTSTRAP_REPLICATES = 2000
BOOTSTRAP_SEED = 0

__all__ = ["wilson_interval", "suite_score", "tied_ranks"]


def suite_score(outcomes: Sequence[Sequence[bool]], replicates: int = BOOTSTRAP_REPLICATES,
                seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """Mean of per-track success rates and its 95% interval from a stratified bootstrap.

    Each replicate resamples episodes with replacement within every track (the strata) and takes the mean of the
    resampled rates; the interval is the 2.5 and 97.5 percentiles. The fixed seed makes the board deterministic.
    """
    rng = np.random.default_rng(seed)
    tracks = [np.asarray(o, dtype=float) for o in outcomes]
    point = float(np.mean([t.mean() for t in tracks]))
    reps = np.zeros(replicates)
    for t in tracks:
        reps += t[rng.integers(0, len(t), size=(replicates, len(t)))].mean(axis=1)
    reps /= len(tracks)
    low, high = np.percentile(reps, [2.5, 97.5])
    return point, float(low), float(high)


def tied_ranks(intervals: Sequence[tuple[float, float, float]]) -> list[tuple[int, int]]:
    """For each ``(point, low, high)``, the range of ranks it could take: best = 1 + the entries whose interval lies
    wholly above it, worst = n - the entries whose interval lies wholly below it. Overlapping entries tie."""
    n = len(intervals)
    out = []
    for _, low, high in intervals:
        above = sum(1 for _, o_low, _ in intervals if o_low > high)
        below = sum(1 for _, _, o_high in intervals if o_high < low)
        out.append((1 + above, n - below))
    return out
