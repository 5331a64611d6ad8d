"""Does a world model read the gripper? Paired energies along the scripted oracle's grasps and releases.

A planner closes or opens the hand on purpose only if its world model predicts what closing and opening look like.
This diagnostic runs the scripted oracle through grasp or pick-and-place episodes and, at every step the gripper
closes, holds the object or releases it, compares two horizon-1 energies from the same frame, toward the goal image
the oracle's phase works toward (grasp: the grasp goal until the lift; pick-and-place: then the carry goal, and the
place goal from the lowering on):

- the step's own action as the model was trained on it: ``layout.action_between`` of the measured states before and
  after the step (the V-JEPA 2-AC action: the gripper entry is the change of the *measured* closedness), and
- the same action with another gripper change: none where the gripper closed or released, an opening (closedness
  back to 0) where it held the object.

The model reads the gripper at a step when the true action has the lower energy. Per kind of step (``close``,
``hold``, ``release``) the report gives the steps, how many the true action won (``read``), the mean energy margin
(the other action's energy minus the true one's: positive when the model reads the step), the same margin for the
true action with its move 1 cm off along x (``mean_margin_1cm``: the scale a planner's position noise works at) and
the mean change of the measured closedness (how far the fingers moved).

``python -m vjepa_bench.evaluation.gripper_reading <checkpoint> --task grasp|pick_place [--object cup|box]
[--gripper franka_hand|robotiq_2f85] [--seeds 10] [--first-seed 2000]`` prints the report as JSON.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

import numpy as np
import torch

import vjepa_bench.envs  # noqa: F401 - registers the envs
from vjepa_bench import layout
from vjepa_bench.agents import make_agent
from vjepa_bench.agents.scripted import PHASES
from vjepa_bench.envs import make_env
from vjepa_bench.errors import UsageError
from vjepa_bench.planning import LatentRolloutEnergy

TASKS = {"grasp": "vjepa_bench/FrankaGrasp-v1", "pick_place": "vjepa_bench/FrankaPickPlace-v1"}
GOAL_STARTS = {"grasp": ("lift",), "pick_place": ("lift", "lower")}
"""The oracle phases at which the next goal image becomes the one the oracle works toward."""
KINDS = ("close", "hold", "release")
EVENT = 0.1
"""A step whose measured closedness changes by more than this closes (or, falling, releases) the gripper."""
OFFSET = 0.01
"""The position error (m, along x) of the reference action in ``mean_margin_1cm``."""


def goal_of_phase(task: str, phase: str) -> int:
    """Index of the goal image the oracle works toward in ``phase`` of ``task``."""
    return sum(PHASES.index(phase) >= PHASES.index(start) for start in GOAL_STARTS[task])


def step_kind(closedness: float, change: float) -> str | None:
    """``close``, ``release``, ``hold`` (fingers on the object, no event) or None (an open hand that stays open)."""
    if change > EVENT:
        return "close"
    if change < -EVENT:
        return "release"
    return "hold" if closedness > EVENT else None


def scored_actions(state: np.ndarray, next_state: np.ndarray, kind: str) -> np.ndarray:
    """``(3, 7)``: the step's true action, the same with the other gripper change (none after an event, an opening
    while holding) and the same moved ``OFFSET`` along x."""
    true = layout.action_between(state, next_state)
    other, moved = true.copy(), true.copy()
    other[layout.GRIPPER] = -state[layout.GRIPPER] if kind == "hold" else 0.0
    moved[0] += OFFSET
    return np.stack([true, other, moved])


def gripper_reading(agent: Any, env: Any, task: str, seeds: list[int]) -> dict[str, Any]:
    """Run the scripted oracle on ``seeds`` of ``env`` (a ``task`` env) and score ``agent``'s world model (a
    world-model agent such as ``vjepa_ac``) at its close, hold and release steps (module docstring)."""
    oracle = make_agent("scripted")
    steps: dict[str, list[list[float]]] = defaultdict(list)  # kind -> [E_true, E_other, E_moved, change]
    for seed in seeds:
        observation, info = env.reset(seed=seed)
        oracle.reset(observation, info, env)
        goals = agent.encode(np.asarray(info["goal"]["images"]))  # (K, P, D)
        done = False
        while not done:
            action = oracle.act(observation)
            phase = PHASES[oracle.step_info()["phase"]]
            following, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
            state, next_state = observation["state"], following["state"]
            change = float(next_state[layout.GRIPPER][0] - state[layout.GRIPPER][0])
            kind = step_kind(float(state[layout.GRIPPER][0]), change)
            if kind is not None:
                features = agent.encode(observation["image"][None])[0]  # (P, D)
                energy = LatentRolloutEnergy(agent.predictor, features, torch.as_tensor(state, device=features.device),
                                             goals[goal_of_phase(task, phase)])  # fmt: skip
                actions = torch.as_tensor(scored_actions(state, next_state, kind)[:, None], device=features.device)
                with torch.inference_mode():
                    steps[kind].append(energy(actions).tolist() + [change])
            observation = following
    report: dict[str, Any] = {}
    for kind in KINDS:
        rows = np.array(steps[kind]).reshape(-1, 4)
        report[kind] = {
            "steps": len(rows),
            "read": int((rows[:, 0] < rows[:, 1]).sum()),
            "mean_margin": _mean(rows[:, 1] - rows[:, 0], 5),
            "mean_margin_1cm": _mean(rows[:, 2] - rows[:, 0], 5),
            "mean_closedness_change": _mean(rows[:, 3], 3),
        }
    return report


def _mean(values: np.ndarray, digits: int) -> float | None:
    return round(float(values.mean()), digits) if len(values) else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--task", default="pick_place", choices=sorted(TASKS))
    parser.add_argument("--object", default="cup", choices=["cup", "box"])
    parser.add_argument("--gripper", default="franka_hand")
    parser.add_argument("--seeds", type=int, default=10, help="episodes (default 10)")
    parser.add_argument("--first-seed", type=int, default=2000, help="seed of the first episode (default 2000)")
    args = parser.parse_args(argv)
    try:
        agent = make_agent("vjepa_ac", checkpoint=args.checkpoint, device="cpu")
        env = make_env(TASKS[args.task], object=args.object, gripper=args.gripper)
    except UsageError as err:
        parser.error(str(err))
    report = gripper_reading(agent, env, args.task, list(range(args.first_seed, args.first_seed + args.seeds)))
    env.close()
    print(json.dumps({"checkpoint": args.checkpoint, "task": args.task, "object": args.object,
                      "gripper": args.gripper, **report}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
