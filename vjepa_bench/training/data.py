"""Which trajectories a training run reads: finite data, held-out split and a subset view of a trajectory store."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import h5py
import numpy as np

from vjepa_bench.data.clips import TrajectorySource
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.errors import UsageError


def check_finite_store(reader: TrajectoryReader) -> None:
    """Raise a UsageError naming the file and dataset when any trajectory's states or actions hold NaN/inf."""
    for path, infos in groupby(reader.infos, key=lambda info: info.path):
        with h5py.File(path, "r") as handle:
            for info in infos:
                group = handle["trajectories"][info.group]
                for name in ("states", "actions"):
                    if not np.isfinite(group[name][()]).all():
                        raise UsageError(
                            f"{path}:/trajectories/{info.group}/{name} holds NaN or infinite values; "
                            "fix or re-collect that trajectory, or leave its store out of data.stores"
                        )


def split_indices(count: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, val) trajectory indices: a permutation seeded with ``seed``; ``val`` holds
    ``ceil(val_fraction * count)`` indices (at least one when ``val_fraction > 0`` and ``count > 1``)."""
    if count < 1:
        raise ValueError("no trajectories to split")
    n_val = int(np.ceil(val_fraction * count)) if val_fraction > 0 else 0
    n_val = min(n_val, count - 1)
    order = np.random.default_rng(seed).permutation(count)
    return sorted(int(i) for i in order[n_val:]), sorted(int(i) for i in order[:n_val])


class SubsetSource:
    """The trajectories ``indices`` of a source, renumbered 0..len-1 (a :class:`TrajectorySource` itself)."""

    def __init__(self, source: TrajectorySource, indices: Sequence[int]) -> None:
        self.source = source
        self.indices = list(indices)
        all_lengths = source.lengths()
        self._lengths = [all_lengths[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def lengths(self) -> list[int]:
        return list(self._lengths)

    def window(self, i: int, start: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.source.window(self.indices[i], start, count)
