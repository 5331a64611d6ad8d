"""``vjepa-bench bench sim``: decision steps per second of our envs next to robosuite's Lift doing the same work.

One *decision step* = 0.25 s of simulated control plus one 256 x 256 RGB observation:

* ours: one ``env.step`` (125 physics steps of 2 ms under the IK controller + one render), per task;
* robosuite 1.5.2 ``Lift`` (Panda, default OSC_POSE controller, 20 Hz, camera observations off): five ``env.step``
  calls plus one 256 x 256 ``agentview`` frame through robosuite's own renderer (``env.sim.render``).

robosuite runs in a subprocess (its own GL context and global state), one after the other, in the same call, so the
two figures share the machine's conditions. Random actions from a fixed seed; resets happen outside the timers.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from vjepa_bench.errors import UsageError

ROBOSUITE_STEPS_PER_DECISION = 5
IMAGE_SIZE = 256

_ROBOSUITE_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
import robosuite
from robosuite.controllers import load_composite_controller_config
steps, size, per_decision = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
env = robosuite.make("Lift", robots="Panda", controller_configs=load_composite_controller_config(robot="Panda"),
                     has_renderer=False, has_offscreen_renderer=True, use_camera_obs=False, control_freq=20,
                     horizon=10**6, ignore_done=True)
env.reset()
rng = np.random.default_rng(0)
low, high = env.action_spec
def decision():
    for _ in range(per_decision):
        env.step(rng.uniform(low, high))
    return env.sim.render(width=size, height=size, camera_name="agentview")
for _ in range(3):
    decision()
start = time.perf_counter()
for _ in range(steps):
    decision()
elapsed = time.perf_counter() - start
print(json.dumps({"steps": steps, "seconds": elapsed, "steps_per_s": steps / elapsed,
                  "robosuite": robosuite.__version__}))
"""


def _bench_ours(env_id: str, steps: int, image_size: int) -> dict[str, float]:
    import gymnasium as gym

    import vjepa_bench.envs  # noqa: F401  (registers the ids)

    kwargs = {"object": "box"} if env_id in vjepa_bench.envs.OBJECT_TASKS else {}
    env = gym.make(env_id, image_size=image_size, **kwargs)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.zeros(env.action_space.shape, np.float32))
    elapsed, done_steps, seed = 0.0, 0, 1
    while done_steps < steps:
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        elapsed += time.perf_counter() - start
        done_steps += 1
        if terminated or truncated:
            env.reset(seed=seed)
            seed += 1
    env.close()
    return {"steps": steps, "seconds": elapsed, "steps_per_s": steps / elapsed}


def _bench_robosuite(steps: int, image_size: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("MUJOCO_GL", "egl")
    env.pop("PYOPENGL_PLATFORM", None)
    result = subprocess.run(
        [sys.executable, "-c", _ROBOSUITE_SCRIPT, str(steps), str(image_size), str(ROBOSUITE_STEPS_PER_DECISION)],
        capture_output=True, text=True, env=env, timeout=1800,
    )
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-5:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median steps/s of ``runs`` (the lower middle one of an even count), plus every round's
    steps/s as ``per_round``; the first error if any run failed."""
    failed = [r for r in runs if "steps_per_s" not in r]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda r: r["steps_per_s"])
    return {**ordered[(len(ordered) - 1) // 2], "per_round": [r["steps_per_s"] for r in runs]}


def bench_sim(steps: int = 40, tasks: list[str] | None = None, image_size: int = IMAGE_SIZE,
              robosuite_steps: int | None = None, rounds: int = 1) -> dict[str, Any]:
    """Measure and return a JSON-able dict: ours per task, robosuite Lift, and ours / robosuite per task.

    ``tasks``: env ids or short names (``reach``, ``grasp``, ``pick_place``, ``reach_with_object``); default all.
    ``robosuite_steps``: decision steps timed for robosuite (default ``steps // 2``, it is ~10x slower).
    ``rounds``: how many times to time every task and then robosuite, alternating, so slow drifts of a shared
    machine reach both sides; each figure is the median round and each ratio the median of the rounds' ratios (the
    lower middle one of an even count), with their range in ``ratio_range``.
    """
    from vjepa_bench.envs import ENV_IDS
    from vjepa_bench.envs.rendering import select_gl_backend

    short = {"reach": ENV_IDS[0], "grasp": ENV_IDS[1], "pick_place": ENV_IDS[2], "reach_with_object": ENV_IDS[3]}
    ids = [short.get(t, t) for t in (tasks or ENV_IDS)]
    unknown = [t for t in ids if t not in ENV_IDS]
    if unknown:
        raise UsageError(f"unknown tasks {unknown}; choose from {sorted(short)} or {list(ENV_IDS)}")
    if rounds < 1:
        raise UsageError(f"rounds={rounds}: must be at least 1")
    backend = select_gl_backend()
    ours: dict[str, list[dict[str, Any]]] = {env_id: [] for env_id in ids}
    robosuite: list[dict[str, Any]] = []
    ratios: dict[str, list[float]] = {env_id: [] for env_id in ids}
    for _ in range(rounds):
        for env_id in ids:
            ours[env_id].append(_bench_ours(env_id, steps, image_size))
        robosuite.append(_bench_robosuite(robosuite_steps or max(steps // 2, 5), image_size))
        if "steps_per_s" in robosuite[-1]:
            for env_id in ids:
                ratios[env_id].append(ours[env_id][-1]["steps_per_s"] / robosuite[-1]["steps_per_s"])
    import mujoco

    return {
        "unit": "decision steps per second (0.25 s of simulated control + one RGB observation)",
        "image_size": image_size,
        "rounds": rounds,
        "ours": {env_id: median_round(runs) for env_id, runs in ours.items()},
        "robosuite_lift": median_round(robosuite),
        "robosuite_steps_per_decision": ROBOSUITE_STEPS_PER_DECISION,
        "ratio_ours_over_robosuite": {
            env_id: (statistics.median_low(r) if len(r) == rounds else None) for env_id, r in ratios.items()},
        "ratio_range": {env_id: ([min(r), max(r)] if len(r) == rounds else None) for env_id, r in ratios.items()},
        "system": {"mujoco": mujoco.__version__, "gl_backend": backend, "python": platform.python_version(),
                   "cpus": os.cpu_count(), "machine": platform.machine()},
    }


if __name__ == "__main__":
    print(json.dumps(bench_sim(), indent=2))
