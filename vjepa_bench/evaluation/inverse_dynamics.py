"""Which action took frame t to frame t+1? A world model's inverse dynamics, read off its planner.

The world model infers the action between two frames as the energy minimiser of a one-step rollout from frame t
with frame t+1 as the goal, found by the configured planner at horizon 1 (the camera sweep's axis test uses the x-y
part of it). On stored trajectories this says what a planning failure comes from: a model that recovers the moves
and the gripper events of held-out transitions but fails the task points at the planner (one greedy step at a
time); a model that cannot recover them points at the model or what it sees.

``python -m vjepa_bench.evaluation.inverse_dynamics <checkpoint> <store> [<store> ...]`` reports, per store, on
the transitions of the trajectories ``train-ac`` holds out (same ``--val-fraction`` and ``--split-seed``):

- ``position_error_cm``: mean distance between the inferred and the true x-y-z move (the true one clipped to the
  planner's box), beside ``zero_action_error_cm``, the same for inferring no move at all;
- ``position_correlation``: correlation of inferred with true move components;
- ``gripper_events`` (transitions whose closedness changes by more than ``GRIPPER_EVENT``) and
  ``gripper_event_accuracy``: the fraction of them whose inferred gripper command has the right sign (a command
  inside the planner's deadband counts as wrong);
- ``gripper_false_commands``: the fraction of transitions without a gripper change whose inferred command is not 0.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from vjepa_bench import layout
from vjepa_bench.agents import make_agent
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.errors import UsageError
from vjepa_bench.planning import LatentRolloutEnergy, Planner
from vjepa_bench.training.data import split_indices

InferAction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""A world model's inverse dynamics: ``(image_t, state_t, image_t+1) -> action (7,)`` (docs/conventions.md#action)."""

GRIPPER_EVENT = 0.25
"""A transition whose gripper closedness changes by more than this is a gripper event (the planner's deadband)."""
GRIPPER_STILL = 0.05
"""A transition whose gripper closedness changes by less than this has no gripper change."""


def world_model_inference(agent: Any, what: str = "inferring actions",
                          fix: str = "use a world-model agent (agent=vjepa_ac)") -> InferAction:  # fmt: skip
    """``InferAction`` for a world-model agent (one with ``encode``, ``predictor`` and ``planner``, e.g.
    ``vjepa_ac``): its planner, at horizon 1, minimises the latent energy from frame t towards frame t+1.
    Another agent is a UsageError naming ``what`` needed the world model and the ``fix``."""
    if not all(hasattr(agent, name) for name in ("encode", "predictor", "planner")):
        raise UsageError(
            f"agent={getattr(agent, 'name', type(agent).__name__)!r} has no world model, which {what} needs; {fix}"
        )
    planner = Planner(agent.planner.config.replace(horizon=1, warm_start=False), agent.planner.device)

    def infer(image: np.ndarray, state: np.ndarray, next_image: np.ndarray) -> np.ndarray:
        features = agent.encode(np.stack([image, next_image]))  # (2, P, D)
        state_t = torch.as_tensor(state, dtype=torch.float32, device=features.device)
        planner.reset()  # the same random draws for every pair
        result = planner.plan(LatentRolloutEnergy(agent.predictor, features[0], state_t, features[1]))
        return result.actions[0].astype(np.float64)

    return infer


def choose_transitions(states: list[np.ndarray], limit: int) -> list[tuple[int, int]]:
    """Up to ``limit`` (trajectory, t) pairs: every gripper event first (at most half of ``limit``), then the
    other transitions evenly spaced over all of them."""
    events, others = [], []
    for j, s in enumerate(states):
        for t, dg in enumerate(np.abs(np.diff(s[:, layout.GRIPPER][:, 0]))):
            (events if dg > GRIPPER_EVENT else others).append((j, t))
    events = events[: limit // 2]
    rest = limit - len(events)
    if rest >= len(others):
        return events + others
    picks = np.linspace(0, len(others) - 1, rest).round().astype(int)
    return events + [others[i] for i in picks]


def score_inferred(inferred: np.ndarray, true: np.ndarray, max_position_delta: float,
                   deadband: float) -> dict[str, Any]:  # fmt: skip
    """The report's figures for inferred and true actions, both ``(N, 7)``."""
    true_xyz = np.clip(true[:, layout.POSITION], -max_position_delta, max_position_delta)
    got_xyz = inferred[:, layout.POSITION]
    dg, g = true[:, layout.GRIPPER][:, 0], inferred[:, layout.GRIPPER][:, 0]
    events = np.abs(dg) > GRIPPER_EVENT
    still = np.abs(dg) < GRIPPER_STILL
    commanded = np.abs(g) >= deadband
    right_sign = commanded & (np.sign(g) == np.sign(dg))
    spread = true_xyz.std() > 0 and got_xyz.std() > 0
    return {
        "pairs": int(len(true)),
        "position_error_cm": float(100 * np.linalg.norm(got_xyz - true_xyz, axis=1).mean()),
        "zero_action_error_cm": float(100 * np.linalg.norm(true_xyz, axis=1).mean()),
        "position_correlation": float(np.corrcoef(got_xyz.ravel(), true_xyz.ravel())[0, 1]) if spread else None,
        "gripper_events": int(events.sum()),
        "gripper_event_accuracy": float(right_sign[events].mean()) if events.any() else None,
        "gripper_false_commands": float(commanded[still].mean()) if still.any() else None,
    }


def inverse_dynamics_report(infer: InferAction, reader: Any, indices: list[int], groups: list[str], limit: int,
                            max_position_delta: float, deadband: float) -> dict[str, Any]:  # fmt: skip
    """Per group (``groups[i]`` names trajectory ``indices[i]``'s store): ``score_inferred`` on up to ``limit``
    transitions of its trajectories."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for index, group in zip(indices, groups):
        by_group[group].append(index)
    report = {}
    for group, members in by_group.items():
        trajectories = [reader[i] for i in members]
        chosen = choose_transitions([tr.states for tr in trajectories], limit)
        true = np.stack([layout.action_between(trajectories[j].states[t], trajectories[j].states[t + 1])
                         for j, t in chosen])  # fmt: skip
        inferred = np.stack([infer(trajectories[j].images[t], trajectories[j].states[t], trajectories[j].images[t + 1])
                             for j, t in chosen])  # fmt: skip
        report[group] = score_inferred(inferred, true, max_position_delta, deadband)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("stores", nargs="+", help="in the order train-ac was given them (it fixes the held-out split)")
    parser.add_argument("--pairs", type=int, default=40, help="transitions per store (default 40)")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--split-seed", type=int, default=0)
    args = parser.parse_args(argv)
    agent = make_agent("vjepa_ac", checkpoint=args.checkpoint, device="cpu")
    reader = TrajectoryReader(args.stores)
    _, held_out = split_indices(len(reader), args.val_fraction, args.split_seed)
    groups = [Path(reader.infos[i].path).parent.name for i in held_out]
    cfg = agent.planner.config
    report = inverse_dynamics_report(world_model_inference(agent), reader, held_out, groups, args.pairs,
                                     cfg.max_position_delta, cfg.gripper_deadband)  # fmt: skip
    print(json.dumps({"checkpoint": args.checkpoint, "held_out_trajectories": len(held_out), "stores": report},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
