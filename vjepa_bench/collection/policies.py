"""Exploration policies for collecting sim trajectories.

``random``          smooth random end-effector motion (AR(1) deltas within the action bounds, a pull back toward
                    the start pose so the arm stays in view, random gripper open/close).
``noisy_scripted``  the privileged scripted agent (``AGENTS["scripted"]``) plus Gaussian noise and occasional
                    random segments, so trajectories still grasp and carry objects but cover states around them.
``mix``             one of the two per episode.

All draw from the ``rng`` given at ``reset``, so an episode is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from vjepa_bench import layout
from vjepa_bench.agents import make_agent

__all__ = ["ExplorationPolicy", "RandomPolicy", "NoisyScriptedPolicy", "MixPolicy", "POLICIES", "make_policy"]


class ExplorationPolicy(Protocol):
    name: str

    def reset(
        self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any, rng: np.random.Generator
    ) -> None: ...

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...


@dataclass
class RandomPolicy:
    """Smooth random end-effector motion.

    Position and rotation deltas follow an AR(1) process ``d_t = smoothing d_{t-1} + sqrt(1 - smoothing^2) std e_t``
    plus ``pull`` times the offset back to the episode's start pose once it is farther than ``radius`` (m);
    the gripper target flips between open and closed with probability ``gripper_flip`` per step.
    """

    position_std: float = 0.04
    rotation_std: float = 0.03
    smoothing: float = 0.7
    radius: float = 0.2
    pull: float = 0.3
    gripper_flip: float = 0.1
    name: str = "random"

    def reset(
        self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any, rng: np.random.Generator
    ) -> None:
        self._rng = rng
        self._start = np.asarray(observation["state"], np.float64).copy()
        self._delta = np.zeros(6)
        self._gripper_target = float(np.round(self._start[layout.GRIPPER][0]))

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        state = np.asarray(observation["state"], np.float64)
        std = np.array([self.position_std] * 3 + [self.rotation_std] * 3)
        noise = self._rng.normal(size=6) * std
        self._delta = self.smoothing * self._delta + np.sqrt(1.0 - self.smoothing**2) * noise
        action = np.zeros(layout.ACTION_DIM)
        action[:6] = self._delta
        back = layout.action_between(state, self._start)
        if np.linalg.norm(back[layout.POSITION]) > self.radius:
            action[layout.POSITION] += self.pull * back[layout.POSITION]
        action[layout.ROTATION] += self.pull * back[layout.ROTATION]  # keep the hand roughly as it started
        if self._rng.random() < self.gripper_flip:
            self._gripper_target = 1.0 - self._gripper_target
        action[layout.GRIPPER] = self._gripper_target - state[layout.GRIPPER]
        return layout.clip_action(action)


@dataclass
class NoisyScriptedPolicy:
    """The scripted agent's action plus Gaussian noise on its travelling steps; with probability ``segment_prob``
    per step, a random segment of ``segment_steps`` (low, high) steps of :class:`RandomPolicy` arm motion (gripper
    held) replaces it. The scripted agent is closed-loop, so it resumes from wherever the segment left the arm.
    With probability ``release_prob`` per step while the scripted agent keeps the gripper closed, the step opens it
    instead: the data then shows what opening does to a held object (it falls); the scripted agent closes again
    on its next step."""

    position_noise: float = 0.01
    rotation_noise: float = 0.01
    noise_min_step: float = 0.02
    """Noise is added only when the scripted position step is at least this long (m): the scripted agent lands on
    each waypoint exactly (its check is 1 mm on the commanded pose), so the landing steps stay clean."""
    segment_prob: float = 0.05
    segment_steps: tuple[int, int] = (2, 5)
    release_prob: float = 0.0
    agent_kwargs: dict[str, Any] | None = None
    name: str = "noisy_scripted"

    def __post_init__(self) -> None:
        if not 0.0 <= self.release_prob <= 1.0:
            raise ValueError(f"policy_kwargs.release_prob={self.release_prob}: a probability per step, in [0, 1]")
        self._agent = make_agent("scripted", **(self.agent_kwargs or {}))
        self._random = RandomPolicy()

    def reset(
        self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any, rng: np.random.Generator
    ) -> None:
        self._rng = rng
        self._env = getattr(env, "unwrapped", env)
        self._agent.reset(observation, info, env)
        self._random.reset(observation, info, env, rng)
        self._segment_left = 0

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        if self._segment_left == 0 and self._rng.random() < self.segment_prob:
            self._segment_left = int(self._rng.integers(self.segment_steps[0], self.segment_steps[1] + 1))
        scripted = np.asarray(self._agent.act(observation), np.float64)  # the agent keeps its own progress
        if self._segment_left > 0:
            self._segment_left -= 1
            action = self._random.act(observation)
            action[layout.GRIPPER] = 0.0  # move the arm only: a carried object stays in the hand
            return action
        noise = np.zeros(layout.ACTION_DIM)
        noise[layout.POSITION] = self._rng.normal(scale=self.position_noise, size=3)
        noise[layout.ROTATION] = self._rng.normal(scale=self.rotation_noise, size=3)
        if np.linalg.norm(scripted[layout.POSITION]) < self.noise_min_step:
            noise[:] = 0.0  # drawn anyway, so the random stream does not depend on the gate
        action = layout.clip_action(scripted + noise)
        # drawn only when asked for, so recipes without releases keep their random stream
        if self.release_prob > 0 and self._env.target_pose()[2] >= 0.5 and self._rng.random() < self.release_prob:
            action[layout.GRIPPER] = -1.0
        return action


@dataclass
class MixPolicy:
    """Per episode: :class:`NoisyScriptedPolicy` with probability ``scripted_prob``, else :class:`RandomPolicy`;
    ``release_prob`` is the scripted episodes' (:class:`NoisyScriptedPolicy`)."""

    scripted_prob: float = 0.7
    release_prob: float = 0.0
    name: str = "mix"

    def __post_init__(self) -> None:
        self._choices = {"noisy_scripted": NoisyScriptedPolicy(release_prob=self.release_prob),
                         "random": RandomPolicy()}
        self.current = "random"

    def reset(
        self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any, rng: np.random.Generator
    ) -> None:
        self.current = "noisy_scripted" if rng.random() < self.scripted_prob else "random"
        self._choices[self.current].reset(observation, info, env, rng)

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return self._choices[self.current].act(observation)


POLICIES: dict[str, Callable[..., ExplorationPolicy]] = {
    "random": RandomPolicy,
    "noisy_scripted": NoisyScriptedPolicy,
    "mix": MixPolicy,
}


def make_policy(name: str, **kwargs: Any) -> ExplorationPolicy:
    """An exploration policy by name (``random``, ``noisy_scripted``, ``mix``); kwargs are its fields."""
    if name not in POLICIES:
        raise KeyError(f"unknown exploration policy {name!r}; choose one of {sorted(POLICIES)}")
    return POLICIES[name](**kwargs)
