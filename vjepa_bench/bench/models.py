"""``vjepa-bench bench models``: forward time and throughput of an encoder and an AC predictor.

The workload is the planning path: ``batch`` clips of ``frames`` frames, each frame encoded on its own as a
duplicated 2-frame tubelet, then the AC predictor run once on the ``frames``-step token sequence.
On CUDA the forward runs under bf16 autocast and is compared with the device's measured bf16 matmul peak.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import torch

from vjepa_bench.devices import resolve_device
from vjepa_bench.models import (
    ac_predictor_flops,
    build_ac_predictor,
    build_encoder,
    encoder_flops,
    inference_autocast,
)
from vjepa_bench.models.blocks import linear
from vjepa_bench.models.presets import ac_predictor_config


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def measured_matmul_peak_tflops(
    device: torch.device | str = "auto", dtype: torch.dtype = torch.bfloat16, size: int | None = None, repeats: int = 10
) -> float:
    """Best achieved TFLOP/s of a square ``size x size`` matmul (8192 on CUDA, 1024 on CPU by default); on a CPU
    the better of the default BLAS and oneDNN (``models.blocks.linear``, which the AC predictor's fast path uses)."""
    dev = resolve_device(str(device)) if isinstance(device, str) else device
    n = size or (8192 if dev.type == "cuda" else 1024)
    if dev.type == "cpu" and dtype in (torch.bfloat16, torch.float16):
        dtype = torch.float32  # CPU half-precision matmul is not representative
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    with torch.inference_mode():
        times = _time(lambda: torch.mm(a, b), dev, repeats, warmup=2)
        if dev.type == "cpu":
            times += _time(lambda: linear(a, b), dev, repeats, warmup=2)  # a @ b.T: the same FLOPs
    return 2 * n**3 / min(times) / 1e12


def bench_models(
    encoder: str = "vit_small",
    ac_predictor: str = "ac_small",
    batch: int = 8,
    frames: int = 4,
    image_size: int | None = None,
    device: str = "auto",
    repeats: int = 3,
    threads: int | None = None,
) -> dict[str, Any]:
    """Benchmark one encoder preset and one AC predictor preset (random weights); returns a JSON-able dict.

    ``image_size`` defaults to the AC predictor's ``img_size`` (its tokens per frame must match the encoder's
    output).  Times are medians over ``repeats`` forwards after one warm-up.  ``threads`` sets the CPU
    thread count for the run (on a busy shared machine 1 thread is often faster than 2).
    """
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _bench(encoder, ac_predictor, batch, frames, image_size, resolve_device(device), repeats)
    finally:
        torch.set_num_threads(previous_threads)


def _bench(
    encoder: str, ac_predictor: str, batch: int, frames: int, image_size: int | None, dev: torch.device, repeats: int
) -> dict[str, Any]:
    with torch.device(dev):
        enc = build_encoder(encoder).eval()
    size = image_size or ac_predictor_config(ac_predictor).img_size[0]
    with torch.device(dev):
        ac = build_ac_predictor(ac_predictor, embed_dim=enc.embed_dim, img_size=size).eval()
    imgs = torch.randn(batch * frames, 3, size, size, device=dev)
    tokens_per_frame = ac.tokens_per_frame
    z = torch.randn(batch, frames * tokens_per_frame, enc.embed_dim, device=dev)
    actions = torch.randn(batch, frames, ac.config.action_dim, device=dev)
    states = torch.randn(batch, frames, ac.config.state_dim, device=dev)

    def run_encoder() -> torch.Tensor:
        with torch.inference_mode(), inference_autocast(dev):
            return enc.encode_image(imgs)

    def run_ac() -> torch.Tensor:
        with torch.inference_mode(), inference_autocast(dev):
            return ac(z, actions, states)

    enc_out = run_encoder()
    if enc_out.shape[1] != tokens_per_frame:
        raise ValueError(f"encoder gives {enc_out.shape[1]} tokens per frame, AC predictor expects {tokens_per_frame}")
    enc_t = statistics.median(_time(run_encoder, dev, repeats))
    ac_t = statistics.median(_time(run_ac, dev, repeats))
    enc_flops = encoder_flops(enc.config, batch * frames, enc.config.tubelet_size, size, size)
    ac_flops = ac_predictor_flops(ac.config, batch, frames)
    result: dict[str, Any] = {
        "device": str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
        "dtype": "bfloat16-autocast" if dev.type == "cuda" else "float32",
        "torch_threads": torch.get_num_threads(),
        "batch": batch,
        "frames": frames,
        "image_size": size,
        "tokens_per_frame": tokens_per_frame,
        "encoder": {
            "preset": encoder,
            "params_m": round(sum(p.numel() for p in enc.parameters()) / 1e6, 3),
            "forward_s": enc_t,
            "tokens_per_s": batch * frames * tokens_per_frame / enc_t,
            "frames_per_s": batch * frames / enc_t,
            "gflops_per_forward": enc_flops / 1e9,
            "achieved_tflops": enc_flops / enc_t / 1e12,
        },
        "ac_predictor": {
            "preset": ac_predictor,
            "params_m": round(sum(p.numel() for p in ac.parameters()) / 1e6, 3),
            "forward_s": ac_t,
            "tokens_per_s": batch * frames * tokens_per_frame / ac_t,
            "gflops_per_forward": ac_flops / 1e9,
            "achieved_tflops": ac_flops / ac_t / 1e12,
        },
    }
    if dev.type == "cuda":
        peak = measured_matmul_peak_tflops(dev, torch.bfloat16)
        result["bf16_matmul_peak_tflops"] = peak
        for key in ("encoder", "ac_predictor"):
            result[key]["fraction_of_peak"] = result[key]["achieved_tflops"] / peak
    return result
