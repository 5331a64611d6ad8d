"""Device names in configs (``auto``, ``cpu``, ``cuda``, ``cuda:<i>``) and the one rule that turns them into devices."""

from __future__ import annotations

import re

import torch

from vjepa_bench.errors import UsageError

_DEVICE_NAME = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device_name(name: str, key: str = "device") -> None:
    """A ``UsageError`` naming ``key`` unless ``name`` is a device name (checked without touching CUDA)."""
    if not isinstance(name, str) or not _DEVICE_NAME.fullmatch(name):
        raise UsageError(f"{key}={name!r} is not a device name; use auto, cpu, cuda or cuda:<i>")


def resolve_device(name: str = "auto", key: str = "device", local_rank: int = 0) -> torch.device:
    """The device ``name`` stands for: ``auto`` is this process's GPU (``cuda:<local_rank>``) when CUDA is available,
    else the CPU; ``cuda`` is this process's GPU; a named device must exist. Errors name ``key``."""
    check_device_name(name, key)
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError(f"{key}={name!r} but no CUDA device is available; use auto or cpu")
    device = torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(f"{key}={name!r} but only {torch.cuda.device_count()} CUDA device(s)")
    return device
