"""Clip sampling for AC training (docs/conventions.md#droid): a random window of ``frames_per_clip`` consecutive
(4 fps) frames from a trajectory, its states, and the ``frames_per_clip - 1`` actions between them."""

from __future__ import annotations

import logging
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.utils.data

from vjepa_bench import layout
from vjepa_bench.data.transforms import preprocess_frames, preprocess_train_frames

__all__ = ["TrajectorySource", "ClipDataset", "ClipWindows", "clip_actions"]

logger = logging.getLogger(__name__)


class TrajectorySource(Protocol):
    """What a clip dataset reads from: :class:`~vjepa_bench.data.store.TrajectoryReader` and
    :class:`~vjepa_bench.data.droid.DroidTrajectories` both are one."""

    def __len__(self) -> int: ...

    def lengths(self) -> list[int]: ...

    def window(self, i: int, start: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class ClipWindows:
    """Which frames each clip covers: item ``k`` of trajectories with ``lengths[k]`` frames starts at a random
    frame drawn from ``(seed, epoch, k)``, or, with ``fixed=True``, in the middle of the room (validation).

    Both clip datasets (frames here, cached features in ``training.features``) sample through this one rule, so a
    cached and an uncached run train on the same windows.
    """

    def __init__(self, lengths: list[int], frames_per_clip: int, seed: int = 0, fixed: bool = False) -> None:
        self.lengths = list(lengths)
        self.frames_per_clip = int(frames_per_clip)
        self.seed = int(seed)
        self.fixed = fixed
        self.epoch = 0

    def start(self, k: int) -> int:
        """First frame of item ``k``'s window in the current epoch."""
        room = self.lengths[k] - self.frames_per_clip
        if self.fixed:
            return room // 2
        return int(np.random.default_rng([self.seed, self.epoch, k]).integers(0, room + 1))


def clip_actions(states: np.ndarray, stored: np.ndarray, mode: str) -> np.ndarray:
    """The ``T - 1`` actions of a clip: ``"from_states"`` (``layout.action_between`` of consecutive states, the
    V-JEPA 2-AC definition) or ``"stored"`` (the recorded actions), as float32 ``(T - 1, 7)``."""
    if mode == "from_states":
        actions = layout.action_between(np.asarray(states)[:-1], np.asarray(states)[1:])
    else:
        actions = np.asarray(stored)
    return np.asarray(actions, np.float32).reshape(-1, layout.ACTION_DIM)


class ClipDataset(torch.utils.data.Dataset):
    """One random clip per trajectory per epoch, deterministic given ``seed``, the epoch and the item index.

    Item ``k`` is a dict: ``images`` float32 ``(T, 3, size, size)`` (ImageNet-normalised), ``states`` float32
    ``(T, 7)``, ``actions`` float32 ``(T - 1, 7)``, and ``trajectory`` / ``start`` (source index, first frame).
    Trajectories shorter than ``frames_per_clip`` are skipped; ``n_skipped`` counts them (also logged).

    Args:
        source: the trajectories.
        frames_per_clip: T (8 in the released AC config, 16 in the paper).
        size: output side in pixels.
        crop: ``"train"`` (aspect-clamped centre crop, as in AC training) or ``"deploy"`` (square centre crop).
        actions: ``"from_states"`` (``layout.action_between`` of consecutive states, the V-JEPA 2-AC definition) or
            ``"stored"`` (the actions recorded with the trajectory, e.g. the commanded sim actions).
        seed: base seed of the window sampling; call :meth:`set_epoch` to draw new windows each epoch.
        fixed: always the middle window of each trajectory (validation), see :class:`ClipWindows`.
    """

    def __init__(
        self,
        source: TrajectorySource,
        frames_per_clip: int = 8,
        size: int = 256,
        *,
        crop: Literal["train", "deploy"] = "train",
        actions: Literal["from_states", "stored"] = "from_states",
        seed: int = 0,
        fixed: bool = False,
    ) -> None:
        if frames_per_clip < 2:
            raise ValueError(f"frames_per_clip must be >= 2 (one action), got {frames_per_clip}")
        if crop not in ("train", "deploy"):
            raise ValueError(f"crop must be 'train' or 'deploy', got {crop!r}")
        if actions not in ("from_states", "stored"):
            raise ValueError(f"actions must be 'from_states' or 'stored', got {actions!r}")
        self.source = source
        self.frames_per_clip = int(frames_per_clip)
        self.size = int(size)
        self.crop = crop
        self.actions = actions
        lengths = source.lengths()
        self.trajectories = [i for i, n in enumerate(lengths) if n >= self.frames_per_clip]
        self.windows = ClipWindows([lengths[i] for i in self.trajectories], self.frames_per_clip, seed, fixed)
        self.n_skipped = len(lengths) - len(self.trajectories)
        if self.n_skipped:
            logger.info(
                "skipped %d of %d trajectories shorter than %d frames", self.n_skipped, len(lengths), frames_per_clip
            )
        if not self.trajectories:
            raise ValueError(f"no trajectory has {frames_per_clip} frames or more ({len(lengths)} trajectories)")

    def set_epoch(self, epoch: int) -> None:
        """Draw a different set of windows (same seed and epoch: same windows)."""
        self.windows.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.trajectories)

    def __getitem__(self, k: int) -> dict[str, Any]:
        if not 0 <= k < len(self):
            raise IndexError(f"clip {k} out of range for {len(self)} clips")
        start = self.windows.start(k)
        trajectory = self.trajectories[k]
        images, states, stored = self.source.window(trajectory, start, self.frames_per_clip)
        preprocess = preprocess_train_frames if self.crop == "train" else preprocess_frames
        return {
            "images": preprocess(images, self.size),
            "states": torch.from_numpy(np.asarray(states, np.float32)),
            "actions": torch.from_numpy(clip_actions(states, stored, self.actions)),
            "trajectory": trajectory,
            "start": start,
        }
