"""Can a greedy image planner grasp at all? The energy of a perfect world model along the oracle's grasp path.

A perfect world model predicts exactly the features of the frame an action leads to, so the energy a horizon-1
planner can see at a configuration is the L1 distance between the encoder features of that configuration's frame
and of the goal image (the same energy ``vjepa_ac`` minimises, docs/conventions.md#cem). This module renders the
grasp task's key configurations, each a real frame of the env, and reports that energy for each, against the
task's last goal image (the lift): it shows why a lifted goal alone is out of a greedy planner's reach, and so why
``FrankaGrasp-v1`` shows the grasp where the object stands first:

===============  ==========================================================================================
configuration    what the frame shows
===============  ==========================================================================================
``start``        the episode's start frame (hand high, open)
``hover_goal``   the open hand at the goal's flange pose, the object still on the table: the local minimum
                 the privileged planner's energy needed its in-hand terms to escape (``agents/sim_cem.py``)
``above``        the open hand 7 cm above the grasp, turned to it (the oracle's hover)
``at_object``    the open hand at the grasp, around the object
``closed``       the hand closed on the object, still on the table
``lifted``       the object held 5 cm up (the task's success height)
===============  ==========================================================================================

A greedy planner moves from one configuration to the next only if the energy falls along the way; when
``hover_goal`` is lower than ``above`` and ``at_object``, a horizon-1 plan never goes down to the object, however
good the world model: the limit is the planner's horizon and the task's start, not the model.

``python -m vjepa_bench.evaluation.grasp_path <checkpoint> [--object cup|box] [--gripper ...] [--seeds N]``
prints the energies per seed and their means as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

import vjepa_bench.envs  # noqa: F401 - registers the envs
from vjepa_bench.agents import make_agent
from vjepa_bench.envs import scene

CONFIGURATIONS = ("start", "hover_goal", "above", "at_object", "closed", "lifted")
HOVER = 0.07
"""Height (m) of ``above`` over the grasp: the scripted oracle's hover."""
LIFT = 0.05
"""Height (m) of ``lifted``: the grasp task's success threshold."""


def _frame(env: Any, flange: np.ndarray, rotation: Any, finger: float | None, object_z: float | None) -> np.ndarray:
    """The frame with the hand at ``flange`` / ``rotation``, fingers at ``finger`` and the object at its start
    position (raised to ``object_z`` if given), all else as at reset."""
    env.set_robot(flange, rotation, finger)
    if object_z is not None:
        env.place_object(env.start_object[:2], env.object_yaw(), z=object_z)
    mujoco.mj_forward(env.model, env.data)
    return env.render_frame()


def grasp_path_frames(env: Any, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The frames of ``CONFIGURATIONS`` of grasp episode ``seed`` in ``env`` (a ``FrankaGrasp`` env), and the goal
    image."""
    observation, info = env.reset(seed=seed)
    goal_flange = env._goals[-1].position  # the lifted grasp
    rotation = env.grasp_rotation()
    grasp = env.grasp_flange(env.start_object)
    held = env.object_half_width()
    frames = {
        "start": observation["image"],
        "hover_goal": _frame(env, goal_flange, rotation, None, None),
        "above": _frame(env, grasp + [0.0, 0.0, HOVER], rotation, None, None),
        "at_object": _frame(env, grasp, rotation, None, None),
        "closed": _frame(env, grasp, rotation, held, None),
        "lifted": _frame(env, grasp + [0.0, 0.0, LIFT], rotation, held, env.object_rest_height() + LIFT),
    }
    return frames, info["goal"]["images"][-1]


def grasp_path_energies(agent: Any, env: Any, seeds: list[int]) -> dict[str, Any]:
    """Per seed and on average, the energy ``mean |features(frame) - features(goal)|`` of each configuration, with
    ``agent``'s encoder (a world-model agent such as ``vjepa_ac``)."""
    per_seed = []
    for seed in seeds:
        frames, goal = grasp_path_frames(env, seed)
        features = agent.encode(np.stack([goal, *frames.values()]))  # (1 + C, P, D)
        energies = (features[1:] - features[:1]).abs().mean((-2, -1))
        per_seed.append({"seed": seed, **{name: round(float(e), 4) for name, e in zip(frames, energies)}})
    mean = {name: round(float(np.mean([s[name] for s in per_seed])), 4) for name in CONFIGURATIONS}
    greedy_descends = sum(min(s["above"], s["at_object"]) < s["hover_goal"] for s in per_seed)
    return {"mean": mean, "seeds_where_the_object_beats_hover_goal": greedy_descends, "per_seed": per_seed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--object", default="cup", choices=["cup", "box"])
    parser.add_argument("--gripper", default=scene.DEFAULT_GRIPPER, choices=scene.GRIPPERS)
    parser.add_argument("--seeds", type=int, default=10, help="grasp episodes from seed 2000 (default 10)")
    args = parser.parse_args(argv)
    agent = make_agent("vjepa_ac", checkpoint=args.checkpoint, device="cpu")
    env = gym.make("vjepa_bench/FrankaGrasp-v1", object=args.object, gripper=args.gripper,
                   image_size=agent.image_size).unwrapped  # fmt: skip
    report = grasp_path_energies(agent, env, list(range(2000, 2000 + args.seeds)))
    env.close()
    print(json.dumps({"checkpoint": args.checkpoint, "object": args.object, "gripper": args.gripper, **report},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
