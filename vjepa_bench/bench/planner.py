"""``vjepa-bench bench planner``: time per planned action, predictor evaluations, FLOPs and share of matmul peak,
for the AC predictor's fast path and its reference path side by side.

One decision = encode the current frame (the goal is encoded once per episode, outside the timing) and plan
with the chosen optimisers. The problem (state, goal) is ``planning.benchmark.latent_problem``'s, with the
context replaced by the encoded frame. Weights are random: the cost does not depend on their values. Each
decision runs with the reference predictor path and then the fast one (``ACPredictor.fast``), alternating, so
both see the same machine load; ``predictor_forward`` times one forward of each at the planner's batch and gives
the largest difference between their outputs. On CUDA the models run under bf16 autocast and the FLOP rate is
compared with the measured bf16 matmul peak; on CPU with fp32. The FLOP-bound limit is FLOPs per action / peak:
the fastest a perfectly efficient implementation could plan.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from vjepa_bench.bench.models import measured_matmul_peak_tflops
from vjepa_bench.errors import UsageError
from vjepa_bench.models import (
    ac_predictor_flops,
    build_ac_predictor,
    build_encoder,
    encoder_flops,
    inference_autocast,
    layer_norm_features,
)
from vjepa_bench.devices import resolve_device
from vjepa_bench.planning import PRESETS, LatentRolloutEnergy, Planner, PlannerConfig
from vjepa_bench.planning.benchmark import compare_predictor_paths, latent_problem

PATHS = ("reference", "fast")  # ACPredictor.fast = False, True


def rollout_flops(predictor_config: Any, horizon: int) -> int:
    """FLOPs of one action sequence's autoregressive rollout: step t runs the predictor on t frames."""
    return sum(ac_predictor_flops(predictor_config, 1, t) for t in range(1, horizon + 1))


def plan_flops(result: Any, config: PlannerConfig, predictor_config: Any) -> int:
    """Predictor FLOPs of one plan: every forward sequence, plus about 2x for each back-propagated one."""
    sequences = result.evaluations // config.horizon
    backward = 2 * (result.gradient_evaluations // config.horizon)
    return (sequences + backward) * rollout_flops(predictor_config, config.horizon)


def bench_planner(
    encoder: str = "vit_tiny",
    ac_predictor: str = "ac_tiny",
    planners: list[str] | None = None,
    horizon: int = 1,
    decisions: int = 2,
    device: str = "auto",
    image_size: int | None = None,
    reference: bool = True,
    forward_repeats: int = 5,
    threads: int | None = None,
) -> dict[str, Any]:
    """Median time per planned action for each planner preset in ``planners`` (default: all), side by side,
    with the fast predictor path and (``reference=True``) the reference path in the same run.

    Use ``encoder=vit_giant ac_predictor=vjepa2_ac_vitg`` on CUDA for the paper's real architecture. ``threads``
    sets the CPU thread count for the run (on a busy shared machine 1 thread is often faster than 2).
    """
    dev = resolve_device(device)
    names = planners or list(PRESETS)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise UsageError(f"planners={unknown}: choose from {sorted(PRESETS)}")
    if decisions < 1 or forward_repeats < 1:
        raise UsageError(f"decisions={decisions} and forward_repeats={forward_repeats} must both be at least 1")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _bench(encoder, ac_predictor, names, horizon, decisions, dev, image_size, reference, forward_repeats)
    finally:
        torch.set_num_threads(previous_threads)


def _bench(
    encoder: str,
    ac_predictor: str,
    names: list[str],
    horizon: int,
    decisions: int,
    dev: torch.device,
    image_size: int | None,
    reference: bool,
    forward_repeats: int,
) -> dict[str, Any]:
    with torch.device(dev):
        enc = build_encoder(encoder).eval()
        size = image_size or enc.config.img_size[0]
        ac = build_ac_predictor(ac_predictor, embed_dim=enc.embed_dim, img_size=size).eval()
    frame = torch.randn(1, 3, size, size, device=dev)
    problem, _ = latent_problem(ac, enc.embed_dim, horizon, device=dev)  # the state and goal of every decision
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    peak = measured_matmul_peak_tflops(dev, dtype)
    frame_flops = encoder_flops(enc.config, 1, enc.config.tubelet_size, size, size)
    paths = PATHS if reference else PATHS[1:]

    def decide(planner: Planner) -> tuple[Any, float, float]:
        start, cpu_start = time.perf_counter(), time.process_time()
        with torch.inference_mode(), inference_autocast(dev):
            features = layer_norm_features(enc.encode_image(frame).float())[0]  # (P, D)
        result = planner.plan(LatentRolloutEnergy(ac, features, problem.state, problem.goal))
        # plan() ends with a device-to-host copy: synchronised
        return result, time.perf_counter() - start, time.process_time() - cpu_start

    rows = {}
    try:
        for name in names:
            config = PRESETS[name].replace(horizon=horizon)
            planners = {path: Planner(config, dev) for path in paths}  # same seed: the same samples on both paths
            times: dict[str, list[tuple[float, float]]] = {path: [] for path in paths}  # (wall, CPU) seconds
            results: dict[str, list[Any]] = {path: [] for path in paths}
            for _ in range(decisions + 1):  # the first decision warms up kernels and caches
                for path in paths:
                    ac.fast = path == "fast"
                    result, seconds, cpu_seconds = decide(planners[path])
                    times[path].append((seconds, cpu_seconds))
                    results[path].append(result)
            ac.fast = True
            rows[name] = _row(config, times, results, ac.config, frame_flops, peak)
            rows[name]["predictor_forward"] = compare_predictor_paths(
                ac, problem.context, problem.state, config.samples, forward_repeats
            )
    finally:
        ac.fast = True
    return {
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "encoder": encoder,
        "ac_predictor": ac_predictor,
        "image_size": size,
        "tokens_per_frame": ac.tokens_per_frame,
        "matmul_peak_tflops": peak,
        "matmul_dtype": str(dtype).removeprefix("torch."),
        "planners": rows,
        "speedup_fast_vs_paper": (
            rows["paper"]["seconds_per_action"] / rows["fast"]["seconds_per_action"]
            if {"paper", "fast"} <= rows.keys()
            else None
        ),
    }


def _row(
    config: PlannerConfig,
    times: dict[str, list[tuple[float, float]]],
    results: dict[str, list[Any]],
    predictor_config: Any,
    frame_flops: int,
    peak: float,
) -> dict[str, Any]:
    """One planner's figures: the fast path's (the default), and the reference path's next to them. CPU seconds
    are the process's CPU time (user + system, all threads): on a shared machine, less sensitive to other jobs."""
    seconds = statistics.median(wall for wall, _ in times["fast"][1:])
    cpu_seconds = statistics.median(cpu for _, cpu in times["fast"][1:])
    result = results["fast"][-1]
    flops = plan_flops(result, config, predictor_config) + frame_flops
    row: dict[str, Any] = {
        "config": {k: getattr(config, k) for k in ("method", "samples", "iterations", "topk", "horizon")},
        "seconds_per_action": seconds,
        "cpu_seconds_per_action": cpu_seconds,
        "predictor_evaluations": result.evaluations,
        "gradient_evaluations": result.gradient_evaluations,
        "final_energy": result.energy,
        "tflops_per_action": flops / 1e12,
        "achieved_tflops": flops / seconds / 1e12,
        "fraction_of_peak": flops / seconds / 1e12 / peak,
        "flop_bound_seconds": flops / 1e12 / peak,
        "ratio_to_flop_bound": seconds / (flops / 1e12 / peak),
    }
    if "reference" in times:
        reference = statistics.median(wall for wall, _ in times["reference"][1:])
        reference_cpu = statistics.median(cpu for _, cpu in times["reference"][1:])
        pairs = list(zip(results["reference"], results["fast"]))
        row["reference_seconds_per_action"] = reference
        row["speedup_vs_reference"] = reference / seconds
        row["reference_cpu_seconds_per_action"] = reference_cpu
        row["cpu_speedup_vs_reference"] = reference_cpu / cpu_seconds
        row["reference_final_energy"] = results["reference"][-1].energy
        # The same samples on both paths; the plans differ only if rounding reorders CEM's elites.
        row["max_abs_plan_difference"] = max(float(np.abs(r.actions - f.actions).max()) for r, f in pairs)
    return row
