"""Warmup-constant-decay learning rate and the AdamW parameter groups of V-JEPA 2-AC (docs/conventions.md#training).

The LR rises linearly from ``start_lr`` to ``peak_lr`` over ``warmup_steps``, stays at ``peak_lr`` for
``constant_steps``, then falls linearly to ``final_lr`` over ``decay_steps``. Weight decay is constant and is
applied to weight matrices only: biases and every 1-D parameter (LayerNorm weights) are excluded.
The upstream values are 7.5e-5 -> 4.25e-4 over 4 500 steps, 85 500 constant, 4 500 decay to 0, WD 0.04.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Schedule:
    """Piecewise-linear LR over ``total_steps = warmup_steps + constant_steps + decay_steps``."""

    start_lr: float
    peak_lr: float
    final_lr: float
    warmup_steps: int
    constant_steps: int
    decay_steps: int

    def __post_init__(self) -> None:
        for name in ("warmup_steps", "constant_steps", "decay_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("start_lr", "peak_lr", "final_lr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def total_steps(self) -> int:
        return self.warmup_steps + self.constant_steps + self.decay_steps

    def lr(self, step: int) -> float:
        """LR used for optimiser step ``step`` (0-based); past the end it stays at ``final_lr``."""
        if step < self.warmup_steps:
            return self.start_lr + (self.peak_lr - self.start_lr) * step / self.warmup_steps
        step -= self.warmup_steps
        if step < self.constant_steps:
            return self.peak_lr
        step -= self.constant_steps
        if step < self.decay_steps:
            return self.peak_lr + (self.final_lr - self.peak_lr) * step / self.decay_steps
        return self.final_lr


def param_groups(module: nn.Module, weight_decay: float, lr_scales: dict[str, float] | None = None) -> list[dict]:
    """AdamW groups: matrices (and conv kernels) with ``weight_decay``; biases and 1-D params without. ``lr_scales``
    maps a parameter-name prefix to a multiplier of the scheduled LR (its parameters get their own two groups)."""
    scales = lr_scales or {}
    groups: dict[tuple[float, bool], list[torch.Tensor]] = {(1.0, True): [], (1.0, False): []}
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        scale = next((v for prefix, v in scales.items() if name.startswith(prefix)), 1.0)
        decays = not (param.ndim <= 1 or name.endswith(".bias"))
        groups.setdefault((scale, decays), []).append(param)
    return [
        {"params": params, "weight_decay": weight_decay if decays else 0.0, "lr_scale": scale}
        for (scale, decays), params in groups.items()
    ]


def build_optimizer(
    module: nn.Module,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    lr_scales: dict[str, float] | None = None,
) -> torch.optim.AdamW:
    """AdamW over ``param_groups``; the LR is set every step by ``set_lr``."""
    return torch.optim.AdamW(param_groups(module, weight_decay, lr_scales), lr=0.0, betas=betas, eps=eps)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The scheduled LR, times each group's ``lr_scale``."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
