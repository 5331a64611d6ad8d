"""The planner benchmark's engine: latent planning problems built from an AC predictor (random weights are fine),
planner configs compared on them, and the AC predictor's fast path timed against its reference path.

A problem: random normalised context features, a fixed state (``BENCH_STATE``), and a goal = the predictor's own
rollout of a random in-box action sequence plus Gaussian noise in feature space, re-normalised (so the goal is not
exactly reachable, as a real goal image is not; ``goal_noise=0`` makes the optimum exactly that action, energy 0).

    rows = compare_planners(predictor, feature_dim=32, problems=6, horizon=1)
    print(format_summary(summarize(rows)))
    print(compare_predictor_paths(ac_predictor, energy.context, energy.state, samples=100))

``vjepa-bench bench planner`` (``vjepa_bench.bench.planner``) plans these problems with a real encoder in the loop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from statistics import mean, median
from typing import Any

import torch
from torch import nn

from vjepa_bench.layout import ACTION_DIM, GRIPPER, POSITION
from vjepa_bench.models import inference_autocast, layer_norm_features
from vjepa_bench.planning.config import FAST_CEM_GRAD, PAPER_CEM, PlannerConfig
from vjepa_bench.planning.energy import LatentRolloutEnergy
from vjepa_bench.planning.planner import Planner

DEFAULT_CONFIGS: Mapping[str, PlannerConfig] = {"paper_cem": PAPER_CEM, "cem_grad": FAST_CEM_GRAD}
BENCH_STATE = (0.5, 0.0, 0.3, 3.0, 0.1, -1.9, 0.2)  # a DROID-like end-effector state (layout.py)


def latent_problem(
    predictor: nn.Module,
    feature_dim: int,
    horizon: int = 1,
    goal_noise: float = 0.5,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[LatentRolloutEnergy, torch.Tensor]:
    """One problem: ``(energy, target_actions (H, 7))``; the target generated the (noise-free) goal."""
    generator = torch.Generator().manual_seed(seed)
    tokens = int(predictor.tokens_per_frame)
    context = layer_norm_features(torch.randn(tokens, feature_dim, generator=generator)).to(device)  # (P, D)
    state = torch.tensor(BENCH_STATE, device=device)  # (7,)
    target = torch.zeros(horizon, ACTION_DIM)  # (H, 7)
    target[:, POSITION] = (torch.rand(horizon, 3, generator=generator) * 2 - 1) * 0.8 * PAPER_CEM.max_position_delta
    target[:, GRIPPER] = 0.5
    noise = torch.randn(tokens, feature_dim, generator=generator).to(device)  # (P, D)
    target = target.to(device)
    with torch.inference_mode():
        goal = LatentRolloutEnergy(predictor, context, state, context).rollout(target[None])[0, -1].float()  # (P, D)
        if goal_noise > 0:
            goal = layer_norm_features(goal + goal_noise * noise)  # (P, D)
    return LatentRolloutEnergy(predictor, context, state, goal), target


def compare_planners(
    predictor: nn.Module,
    feature_dim: int,
    configs: Mapping[str, PlannerConfig] = DEFAULT_CONFIGS,
    problems: int = 6,
    horizon: int = 1,
    goal_noise: float = 0.5,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Plan every problem with every config (horizon overridden) on the predictor's device; one row per
    (config, problem).

    Rows: ``config, problem, horizon, energy, evaluations, gradient_evaluations, time_s`` and ``gap``: the
    relative energy difference to the first config on the same problem (negative: lower energy).
    """
    predictor.eval()
    device = next(predictor.parameters()).device
    rows = []
    for problem in range(problems):
        reference = None
        for name, config in configs.items():
            config = config.replace(horizon=horizon, seed=seed + problem)
            planner = Planner(config, device)
            energy, _ = latent_problem(predictor, feature_dim, horizon, goal_noise, seed + problem, device)
            result = planner.plan(energy)
            reference = result.energy if reference is None else reference
            rows.append(
                {
                    "config": name,
                    "problem": problem,
                    "horizon": horizon,
                    "energy": result.energy,
                    "gap": (result.energy - reference) / abs(reference) if reference else 0.0,
                    "evaluations": result.evaluations,
                    "gradient_evaluations": result.gradient_evaluations,
                    "time_s": result.time_s,
                }
            )
    return rows


def compare_predictor_paths(
    predictor: nn.Module,
    context: torch.Tensor,
    state: torch.Tensor,
    samples: int,
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Time one forward of an AC predictor's reference and fast paths (``forward(..., fast=False/True)``) as
    the planner runs it: ``samples`` candidate actions at horizon 1, all with the same context frame (``context
    (P, D)`` expanded over the batch, as ``LatentRolloutEnergy`` passes it) and ``state (7,)``.

    The two paths alternate ``repeats`` times after a warm-up of each, under inference mode (and bf16 autocast
    on CUDA); returns the median wall seconds of each, ``speedup`` (reference / fast), the same for the process
    CPU time, and ``max_abs_difference`` between their outputs (float32: rounding only, about 1e-6).
    """
    device = context.device
    generator = torch.Generator().manual_seed(seed)
    bound = PAPER_CEM.max_position_delta
    actions = ((torch.rand(samples, 1, ACTION_DIM, generator=generator) * 2 - 1) * bound).to(device)  # (S, 1, 7)
    z = context.expand(samples, *context.shape)  # (S, P, D), one context for the whole batch
    states = state.to(device, torch.float32).expand(samples, 1, -1)  # (S, 1, 7)

    def forward(fast: bool) -> tuple[torch.Tensor, float, float]:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        with torch.inference_mode(), inference_autocast(device):
            out = predictor(z, actions, states, fast=fast)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return out, time.perf_counter() - start, time.process_time() - cpu_start

    was_training = predictor.training
    predictor.eval()
    try:
        outputs = {fast: forward(fast)[0] for fast in (False, True)}  # warm-up (caches, kernels)
        times: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for fast in (False, True):
                _, seconds, cpu_seconds = forward(fast)
                times[fast].append(seconds)
                cpu[fast].append(cpu_seconds)
    finally:
        predictor.train(was_training)
    reference, fast = median(times[False]), median(times[True])
    return {
        "batch": samples,
        "frames": 1,
        "reference_seconds": reference,
        "fast_seconds": fast,
        "speedup": reference / fast,
        # process CPU time (user + system, all threads): on a shared machine, less sensitive to other processes
        "reference_cpu_seconds": median(cpu[False]),
        "fast_cpu_seconds": median(cpu[True]),
        "cpu_speedup": median(cpu[False]) / median(cpu[True]),
        "max_abs_difference": (outputs[True].float() - outputs[False].float()).abs().max().item(),
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per config: mean energy, mean and worst gap, evaluations per plan, mean time."""
    out = []
    for name in dict.fromkeys(row["config"] for row in rows):
        mine = [row for row in rows if row["config"] == name]
        out.append(
            {
                "config": name,
                "mean_energy": mean(row["energy"] for row in mine),
                "mean_gap": mean(row["gap"] for row in mine),
                "worst_gap": max(row["gap"] for row in mine),
                "evaluations": mean(row["evaluations"] for row in mine),
                "gradient_evaluations": mean(row["gradient_evaluations"] for row in mine),
                "time_s": mean(row["time_s"] for row in mine),
            }
        )
    return out


def format_summary(summary: list[dict[str, Any]]) -> str:
    """A plain-text table of ``summarize``'s output."""
    header = ("config", "energy", "mean gap", "worst gap", "evals", "grad evals", "time s")
    lines = ["{:<12} {:>9} {:>9} {:>9} {:>7} {:>10} {:>7}".format(*header)]
    for s in summary:
        lines.append(
            f"{s['config']:<12} {s['mean_energy']:9.5f} {s['mean_gap']:+9.1e} {s['worst_gap']:+9.1e} "
            f"{s['evaluations']:7.0f} {s['gradient_evaluations']:10.0f} {s['time_s']:7.3f}"
        )
    return "\n".join(lines)


__all__ = [
    "BENCH_STATE",
    "DEFAULT_CONFIGS",
    "compare_planners",
    "compare_predictor_paths",
    "format_summary",
    "latent_problem",
    "summarize",
]
