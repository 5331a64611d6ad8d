"""How well does the arm follow its target? The step contract measured over extreme action streams.

The V-JEPA 2-AC predictor assumes next state = state + action. The env's controller moves a bounded target pose by
each (clipped) action and servos the arm to it within one 0.25 s step; this diagnostic measures how far the measured
flange pose ends from that target after every step. It draws seeded action streams whose entries sit at the action
bounds (each entry -bound, 0 or +bound with probabilities 0.4, 0.2, 0.4; the gripper entry at +-1): the hardest
streams a planner or a random agent can send, full tilts and turns at the table floor and the workspace corners
included.

``python -m vjepa_bench.evaluation.step_contract [--gripper franka_hand|robotiq_2f85] [--streams 200]
[--length 15] [--seed 0]`` prints, as JSON, the position (m) and orientation (rad) errors' p50, p99 and maximum, how
many steps exceed ``controller.STEP_TOLERANCE``, how many steps the controller took as asked or changed
(``target_outcome``), and the worst step: its stream, its step and whether a finger touched the table there.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

import vjepa_bench.envs  # noqa: F401 - registers the envs
from vjepa_bench import layout
from vjepa_bench.envs import controller, make_env, scene
from vjepa_bench.errors import UsageError

ENTRY_PROBABILITIES = (0.4, 0.2, 0.4)
"""Probabilities of -bound, 0 and +bound for every entry of a drawn action."""


def extreme_streams(count: int, length: int, seed: int) -> list[tuple[int, np.ndarray]]:
    """``count`` (reset seed, (length, 7) actions) pairs with every entry at -bound, 0 or +bound."""
    rng = np.random.default_rng(seed)
    bound = np.r_[layout.ACTION_HIGH[:6], 1.0]
    streams = []
    for _ in range(count):
        reset_seed = int(rng.integers(1000))
        streams.append((reset_seed, rng.choice([-1.0, 0.0, 1.0], size=(length, 7), p=ENTRY_PROBABILITIES) * bound))
    return streams


def step_errors(env: Any) -> tuple[float, float]:
    """Position (m) and orientation (rad) distance of the measured flange pose from the controller's target."""
    position, rotation, _ = env.target_pose()
    measured = env.robot_state()
    rotation_error = (Rotation.from_euler("xyz", measured[3:6]) * rotation.inv()).magnitude()
    return float(np.linalg.norm(measured[:3] - position)), float(rotation_error)


OUTCOMES = ("as asked", "tilted back", "cut back", "held")
"""What the controller made of an action (``target_outcome``)."""


def target_outcome(env: Any, previous: tuple[np.ndarray, Rotation], action: np.ndarray) -> str:
    """How the controller turned ``action`` into the target it holds now, from the ``previous`` target (position,
    orientation): ``"as asked"`` (moved by the clipped action, inside the workspace and the orientation cone),
    ``"tilted back"`` (the same turn with the tilt cut in quarters: out of reach), ``"held"`` (the target stayed:
    every cut of a too-wide move was still too wide) or ``"cut back"`` (a shorter move, ``controller.SWING_CUTS``)."""
    position, rotation, _ = env.target_pose()
    clipped = layout.checked_action(action)
    requested = controller.bound_rotation(Rotation.from_euler("xyz", clipped[layout.ROTATION]) * previous[1])
    if np.allclose(position, env.controller.bounded_position(previous[0] + clipped[layout.POSITION], rotation),
                   atol=1e-6):
        for fraction in (1.0, 0.75, 0.5, 0.25, 0.0):
            if (controller.tilted_back(requested, fraction) * rotation.inv()).magnitude() < 1e-5:
                return "as asked" if fraction == 1.0 else "tilted back"
    if np.array_equal(position, previous[0]) and (previous[1] * rotation.inv()).magnitude() < 1e-12:
        return "held"
    return "cut back"


def touches_table(env: Any) -> bool:
    """Whether any geom of the gripper is in contact with the table top."""
    table = env.model.geom("table_top").id
    fingers = set(np.concatenate(env._finger_geoms).tolist())
    return any(
        table in (c.geom1, c.geom2) and {c.geom1, c.geom2} & fingers for c in env.data.contact[: env.data.ncon]
    )


def step_contract(gripper: str, streams: int, length: int, seed: int) -> dict[str, Any]:
    """Run ``streams`` extreme action streams of ``length`` steps through ``FrankaReach-v1`` with ``gripper``."""
    if streams < 1 or length < 1:
        raise UsageError(f"--streams {streams} and --length {length} must both be at least 1")
    env = make_env("vjepa_bench/FrankaReach-v1", image_size=64, gripper=gripper).unwrapped  # no time limit
    errors, worst, outcomes = [], None, dict.fromkeys(OUTCOMES, 0)
    try:
        for index, (reset_seed, actions) in enumerate(extreme_streams(streams, length, seed)):
            env.reset(seed=reset_seed)
            for step, action in enumerate(actions):
                previous = env.target_pose()[:2]
                env.step(action)
                outcomes[target_outcome(env, previous, action)] += 1
                position_error, rotation_error = step_errors(env)
                errors.append((position_error, rotation_error))
                if worst is None or position_error > worst["position_error"]:
                    worst = {"stream": index, "reset_seed": reset_seed, "step": step,
                             "position_error": position_error, "rotation_error": rotation_error,
                             "finger_on_table": touches_table(env)}  # fmt: skip
    finally:
        env.close()
    position, rotation = np.array(errors).T
    tolerance = controller.STEP_TOLERANCE
    return {
        "gripper": gripper,
        "streams": streams,
        "steps": len(errors),
        "position_m": _percentiles(position),
        "rotation_rad": _percentiles(rotation),
        "step_tolerance": list(tolerance),
        "steps_beyond_tolerance": int(((position >= tolerance[0]) | (rotation >= tolerance[1])).sum()),
        "targets": outcomes,
        "worst": worst,
    }


def _percentiles(values: np.ndarray) -> dict[str, float]:
    p50, p99 = np.percentile(values, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(values.max())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gripper", default=scene.DEFAULT_GRIPPER, choices=scene.GRIPPERS)
    parser.add_argument("--streams", type=int, default=200, help="action streams (default 200)")
    parser.add_argument("--length", type=int, default=15, help="steps per stream (default 15)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the streams (default 0)")
    args = parser.parse_args(argv)
    try:
        report = step_contract(args.gripper, args.streams, args.length, args.seed)
    except UsageError as err:
        parser.error(str(err))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
