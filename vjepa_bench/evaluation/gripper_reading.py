"""Does a world model read the gripper? Paired energies along the scripted oracle's grasps and releases.

A planner closes or opens the hand on purpose only if its world model predicts what closing and opening look like.
This diagnostic runs the scripted oracle through grasp or pick-and-place episodes and, at every step, compares two
horizon-1 energies from the same frame, toward the goal image the oracle's phase works toward (grasp: the grasp goal
until the lift; pick-and-place: then the carry goal, and the place goal from the lowering on):

- the step's own action as the model was trained on it: ``layout.action_between`` of the measured states before and
  after the step (the V-JEPA 2-AC action: the gripper entry is the change of the *measured* closedness), and
- the same action with another gripper change: none where the gripper closed or released, an opening (closedness
  back to 0) where it held the object, and a full close (closedness to 1, the fingers meeting) where the open hand
  stayed open, on its way to the object or away from it.

The model reads the gripper at a step when the true action has the lower energy. Per kind of step (``open``,
``close``, ``hold``, ``release``) the report gives the steps, how many the true action won (``read``), the mean
energy margin (the other action's energy minus the true one's: positive when the model reads the step), the same
margin for the true action with its move 1 cm off along x (``mean_margin_1cm``: the scale a planner's position noise
works at) and the mean change of the measured closedness (how far the fingers moved). An ``open`` step the model
does not read is one where it would rather close the empty hand: a greedy planner may close it beside the object.

With ``--rendered`` the options are the oracle's env action and the same with the other gripper command, and each
is scored by the frame the simulator renders after it: the energies a perfect world model would give, which tell
the model's errors from what the image energy itself prefers.

``python -m vjepa_bench.evaluation.gripper_reading <checkpoint> --task grasp|pick_place [--object cup|box]
[--gripper franka_hand|robotiq_2f85] [--seeds 10] [--first-seed 2000] [--rendered]`` prints the report as JSON.
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
from vjepa_bench.envs import make_env, scene
from vjepa_bench.errors import UsageError
from vjepa_bench.planning import LatentRolloutEnergy

TASKS = {"grasp": "vjepa_bench/FrankaGrasp-v1", "pick_place": "vjepa_bench/FrankaPickPlace-v1"}
GOAL_STARTS = {"grasp": ("lift",), "pick_place": ("lift", "lower")}
"""The oracle phases at which the next goal image becomes the one the oracle works toward."""
KINDS = ("open", "close", "hold", "release")
EVENT = 0.1
"""A step whose measured closedness changes by more than this closes (or, falling, releases) the gripper."""
OFFSET = 0.01
"""The position error (m, along x) of the reference action in ``mean_margin_1cm``."""


def goal_of_phase(task: str, phase: str) -> int:
    """Index of the goal image the oracle works toward in ``phase`` of ``task``."""
    return sum(PHASES.index(phase) >= PHASES.index(start) for start in GOAL_STARTS[task])


def step_kind(closedness: float, change: float) -> str:
    """``close``, ``release``, ``hold`` (fingers on the object, no event) or ``open`` (an open hand staying open)."""
    if change > EVENT:
        return "close"
    if change < -EVENT:
        return "release"
    return "hold" if closedness > EVENT else "open"


def _with_other_gripper(action: np.ndarray, other_gripper: float) -> np.ndarray:
    """``(3, 7)``: ``action``, the same with gripper entry ``other_gripper`` and the same moved ``OFFSET`` along x."""
    other, moved = action.copy(), action.copy()
    other[layout.GRIPPER] = other_gripper
    moved[0] += OFFSET
    return np.stack([action, other, moved])


def scored_actions(state: np.ndarray, next_state: np.ndarray, kind: str) -> np.ndarray:
    """``(3, 7)``: the step's true action, the same with the other gripper change (none after an event, an opening
    while holding, a full close while open) and the same moved ``OFFSET`` along x."""
    closedness = state[layout.GRIPPER][0]
    other = {"hold": -closedness, "open": 1.0 - closedness}.get(kind, 0.0)
    return _with_other_gripper(layout.action_between(state, next_state), other)


def rendered_options(action: np.ndarray, kind: str) -> np.ndarray:
    """``(3, 7)`` env actions for ``rendered`` scoring: the oracle's ``action``, the same with the other gripper
    command (none after an event, opening while holding, closing while open) and the same moved ``OFFSET`` along x."""
    return _with_other_gripper(action, {"hold": -1.0, "open": 1.0}.get(kind, 0.0))


def rendered_energies(
    agent: Any, env: Any, start: dict[str, Any], actions: np.ndarray, goal: torch.Tensor
) -> list[float]:
    """Energies toward ``goal`` of the frames the simulator renders after each of ``actions`` from the snapshot
    ``start`` (``get_sim_state``): what a perfect world model would predict. Leaves the env after the last one."""
    frames = []
    for action in actions:
        env.unwrapped.set_sim_state(start)
        observation, *_ = env.unwrapped.step(action)
        frames.append(observation["image"])
    features = agent.encode(np.stack(frames))  # (3, P, D)
    return (features - goal).abs().mean(dim=(1, 2)).tolist()


def gripper_reading(agent: Any, env: Any, task: str, seeds: list[int], rendered: bool = False) -> dict[str, Any]:
    """Run the scripted oracle on ``seeds`` of ``env`` (a ``task`` env) and score ``agent``'s world model (a
    world-model agent such as ``vjepa_ac``) at every step (module docstring); with ``rendered``, score the frames
    the simulator renders instead of the model's predictions (``rendered_energies``)."""
    oracle = make_agent("scripted")
    steps: dict[str, list[list[float]]] = defaultdict(list)  # kind -> [E_true, E_other, E_moved, change]
    for seed in seeds:
        observation, info = env.reset(seed=seed)
        oracle.reset(observation, info, env)
        goals = agent.encode(np.asarray(info["goal"]["images"]))  # (K, P, D)
        done = False
        while not done:
            action = oracle.act(observation)
            goal = goals[goal_of_phase(task, PHASES[oracle.step_info()["phase"]])]
            before = env.unwrapped.get_sim_state() if rendered else None
            following, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
            state, next_state = observation["state"], following["state"]
            change = float(next_state[layout.GRIPPER][0] - state[layout.GRIPPER][0])
            kind = step_kind(float(state[layout.GRIPPER][0]), change)
            if rendered:
                after = env.unwrapped.get_sim_state()
                energies = rendered_energies(agent, env, before, rendered_options(action, kind), goal)
                env.unwrapped.set_sim_state(after)
            else:
                features = agent.encode(observation["image"][None])[0]  # (P, D)
                energy = LatentRolloutEnergy(agent.predictor, features, torch.as_tensor(state, device=features.device),
                                             goal)  # fmt: skip
                actions = torch.as_tensor(scored_actions(state, next_state, kind)[:, None], device=features.device)
                with torch.inference_mode():
                    energies = energy(actions).tolist()
            steps[kind].append(energies + [change])
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
    parser.add_argument("--gripper", default=scene.DEFAULT_GRIPPER, choices=scene.GRIPPERS)
    parser.add_argument("--seeds", type=int, default=10, help="episodes (default 10)")
    parser.add_argument("--first-seed", type=int, default=2000, help="seed of the first episode (default 2000)")
    parser.add_argument("--rendered", action="store_true",
                        help="score the frames the simulator renders for each option (a perfect world model)")
    args = parser.parse_args(argv)
    try:
        agent = make_agent("vjepa_ac", checkpoint=args.checkpoint, device="cpu")
        env = make_env(TASKS[args.task], object=args.object, gripper=args.gripper)
    except UsageError as err:
        parser.error(str(err))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    report = gripper_reading(agent, env, args.task, seeds, rendered=args.rendered)
    env.close()
    print(json.dumps({"checkpoint": args.checkpoint, "task": args.task, "object": args.object,
                      "gripper": args.gripper, "frames": "rendered" if args.rendered else "predicted",
                      **report}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
