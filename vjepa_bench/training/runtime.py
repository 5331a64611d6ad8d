"""What every training loop needs: device choice, torch.distributed set-up from torchrun's environment,
atomic, code-free train-state files, finite-loss checks and a CSV (+ optional TensorBoard) metrics log."""

from __future__ import annotations

import csv
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from vjepa_bench.devices import resolve_device
from vjepa_bench.errors import UsageError
from vjepa_bench.fileio import write_atomic, write_text_atomic


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_name: str, cpu_threads: int | None = None) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1): NCCL on CUDA, gloo on CPU.
    ``cpu_threads`` sets torch's intra-op threads of this process (on a shared CPU, 1 is often fastest)."""
    if cpu_threads is not None:
        torch.set_num_threads(cpu_threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    info = DistInfo(rank, world, local_rank)
    device = resolve_device(device_name, "device", local_rank)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled and dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value)
        value /= info.world_size
    return value


def shutdown(info: DistInfo) -> None:
    """End a training run: wait for every rank, then tear the process group down."""
    if info.enabled:
        barrier(info)
        dist.destroy_process_group()


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params: list[torch.Tensor],
                   grad_clip: float) -> torch.Tensor:
    """Backward, clip the global gradient norm (``grad_clip <= 0``: no clipping), step; returns the norm."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
    optimizer.step()
    return grad_norm


def save_state(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` of tensors and plain Python (what :func:`load_state` accepts), written atomically."""
    write_atomic(path, lambda f: torch.save(state, f))


def load_state(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A file written by :func:`save_state`, read with ``weights_only=True``: a file that would run code is refused."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UsageError(
            f"{path}: holds Python objects beyond tensors and plain values, refused (loading it could run code); "
            "delete it or use a new output_dir"
        ) from err
    except (OSError, RuntimeError, EOFError) as err:
        raise UsageError(f"{path}: could not be read ({type(err).__name__}); delete it or use a new output_dir") from err
    if not isinstance(state, dict):
        kind = type(state).__name__
        raise UsageError(f"{path}: holds a {kind}, not a train state; delete it or use a new output_dir")
    return state


class NonFiniteLoss(UsageError):
    """Training produced a NaN or infinite loss or weights; nothing non-finite is written."""


def require_finite(values: torch.Tensor, step: int, what: str, info: DistInfo) -> None:
    """Raise :class:`NonFiniteLoss` on every rank when ``values`` holds NaN/inf on any rank."""
    flag = (~torch.isfinite(values.detach())).any().float().reshape(1)
    if info.enabled and dist.is_initialized():
        dist.all_reduce(flag)
    if flag.item():
        raise NonFiniteLoss(
            f"step {step}: the {what} is not finite (NaN or infinity); training stopped and no checkpoint of it was "
            "written; lower optim.peak_lr or optim.grad_clip, or check the data"
        )


class MetricsLog:
    """Appends rows to ``<dir>/metrics.csv`` (header written once; a resumed run drops rows past its step);
    mirrors them to TensorBoard when asked. Only the main process writes."""

    FIELDS = ("step", "split", "lr", "loss", "loss_tf", "loss_rollout", "grad_norm", "ema", "feature_std", "seconds")

    def __init__(self, directory: Path, resume_step: int, tensorboard: bool, active: bool = True) -> None:
        self.active = active
        self.path = directory / "metrics.csv"
        self.writer = None
        if not active:
            return
        directory.mkdir(parents=True, exist_ok=True)
        # rewritten whole (a kill during the rewrite keeps the old file): a resumed run drops the rows past its step
        kept = self._rows_until(resume_step) if self.path.is_file() else []
        write_text_atomic(self.path, _csv_text(self.FIELDS, kept))
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise UsageError("tensorboard=true needs the `tensorboard` package (pip install tensorboard)") from err
            self.writer = SummaryWriter(str(directory / "tensorboard"), purge_step=resume_step + 1)

    def _rows_until(self, step: int) -> list[dict[str, str]]:
        with self.path.open(newline="") as fh:
            return [row for row in csv.DictReader(fh) if int(row["step"]) <= step]

    def log(self, step: int, split: str, **values: float) -> None:
        if not self.active:
            return
        row = {"step": step, "split": split, **{k: f"{v:.6g}" for k, v in values.items()}}
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=self.FIELDS).writerow(row)
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{split}/{key}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _csv_text(fields: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO(newline="")
    out = csv.DictWriter(buffer, fieldnames=fields)
    out.writeheader()
    out.writerows(rows)
    return buffer.getvalue()
