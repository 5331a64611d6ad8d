"""Episode videos: frames (optionally side by side with the active goal image) written as MP4."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vjepa_bench.data.video import write_video


def side_by_side(observation: np.ndarray, goal: np.ndarray | None) -> np.ndarray:
    """One frame: the observation, and the goal image to its right if given (resized by pixel repetition if needed)."""
    if goal is None:
        return observation
    if goal.shape != observation.shape:
        rows = np.linspace(0, goal.shape[0] - 1, observation.shape[0]).astype(int)
        cols = np.linspace(0, goal.shape[1] - 1, observation.shape[1]).astype(int)
        goal = goal[rows][:, cols]
    return np.concatenate([observation, goal], axis=1)


class EpisodeRecorder:
    """Collects frames during an episode: ``add(obs, info)`` after reset and after each step, then ``save(path)``.

    With ``with_goal=True`` each frame shows the observation next to the goal active at that step (the reset
    ``info["goal"]`` is remembered; later infos carry ``subgoal``).
    """

    def __init__(self, with_goal: bool = True, fps: int = 4):
        self.with_goal, self.fps = with_goal, fps
        self.frames: list[np.ndarray] = []
        self._goal_images: np.ndarray | None = None

    def add(self, observation: dict, info: dict) -> None:
        if "goal" in info:
            self._goal_images = info["goal"]["images"]
        goal = None
        if self.with_goal and self._goal_images is not None:
            goal = self._goal_images[min(int(info.get("subgoal", 0)), len(self._goal_images) - 1)]
        self.frames.append(side_by_side(observation["image"], goal))

    def save(self, path: str | Path) -> Path:
        return write_video(path, self.frames, fps=self.fps)
