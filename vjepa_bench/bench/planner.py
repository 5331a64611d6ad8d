"""``vjepa-bench bench planner``: time per planned action, predictor evaluations, FLOPs and share of matmul peak.

One decision = encode the current frame (the goal is encoded once per episode, outside the timing) and plan
with the chosen optimisers. Weights are random: the cost does not depend on their values. On CUDA the models
run under bf16 autocast and the FLOP rate is compared with the measured bf16 matmul peak; on CPU with fp32.
The FLOP-bound limit is FLOPs per action / peak: the fastest a perfectly efficient implementation could plan.
"""

from __future__ import annotations

import statistics
from typing import Any

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
from vjepa_bench.planning import (
    PRESETS,
    LatentRolloutEnergy,
    Planner,
    PlannerConfig,
    resolve_device,
)


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
) -> dict[str, Any]:
    """Median time per planned action for each planner preset in ``planners`` (default: all), side by side.

    Use ``encoder=vit_giant ac_predictor=vjepa2_ac_vitg`` on CUDA for the paper's real architecture.
    """
    dev = resolve_device(device)
    names = planners or list(PRESETS)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        raise UsageError(f"planners={unknown}: choose from {sorted(PRESETS)}")
    with torch.device(dev):
        enc = build_encoder(encoder).eval()
        size = image_size or enc.config.img_size[0]
        ac = build_ac_predictor(ac_predictor, embed_dim=enc.embed_dim, img_size=size).eval()
    frame = torch.randn(1, 3, size, size, device=dev)
    with torch.inference_mode(), inference_autocast(dev):
        goal = layer_norm_features(enc.encode_image(torch.randn(1, 3, size, size, device=dev)).float())[0]
    state = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.9, 0.2], device=dev)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    peak = measured_matmul_peak_tflops(dev, dtype)
    frame_flops = encoder_flops(enc.config, 1, enc.config.tubelet_size, size, size)
    rows = {}
    for name in names:
        config = PRESETS[name].replace(horizon=horizon, device=str(dev))
        planner = Planner(config)
        times, result = [], None
        for _ in range(decisions + 1):  # the first decision warms up kernels and caches
            with torch.inference_mode(), inference_autocast(dev):
                start_features = layer_norm_features(enc.encode_image(frame).float())[0]
            result = planner.plan(LatentRolloutEnergy(ac, start_features, state, goal))
            times.append(result.time_s)
        seconds = statistics.median(times[1:])
        flops = plan_flops(result, config, ac.config) + frame_flops
        rows[name] = {
            "config": {k: getattr(config, k) for k in ("method", "samples", "iterations", "topk", "horizon")},
            "seconds_per_action": seconds,
            "predictor_evaluations": result.evaluations,
            "gradient_evaluations": result.gradient_evaluations,
            "final_energy": result.energy,
            "tflops_per_action": flops / 1e12,
            "achieved_tflops": flops / seconds / 1e12,
            "fraction_of_peak": flops / seconds / 1e12 / peak,
            "flop_bound_seconds": flops / 1e12 / peak,
            "ratio_to_flop_bound": seconds / (flops / 1e12 / peak),
        }
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
