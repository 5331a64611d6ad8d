"""Typed configs of ``vjepa-bench train-ac`` and ``vjepa-bench pretrain`` (the schema of their YAML files).

They are registered in Hydra's ConfigStore (``vjepa_bench.schema``), so ``configs/train_ac.yaml`` /
``configs/pretrain.yaml`` hold values only; the CLI parses the composed config into these dataclasses once, and
``__post_init__`` checks the values before any work starts (``vjepa_bench.schema.from_values`` builds them from
plain dicts with the same checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vjepa_bench.devices import check_device_name
from vjepa_bench.errors import UsageError

@dataclass
class OptimConfig:
    """AdamW with the warmup-constant-decay LR (docs/conventions.md#training). ``decay_steps`` ends the run: the total number of
    optimiser steps is ``warmup_steps + constant_steps + decay_steps``."""

    start_lr: float = 7.5e-5
    peak_lr: float = 4.25e-4
    final_lr: float = 0.0
    warmup_steps: int = 4500
    constant_steps: int = 85500
    decay_steps: int = 4500
    weight_decay: float = 0.04
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    grad_clip: float = 1.0  # max global grad norm; 0 disables clipping

    def validate(self, where: str) -> None:
        if min(self.warmup_steps, self.constant_steps, self.decay_steps) < 0:
            raise UsageError(f"{where}: warmup_steps, constant_steps and decay_steps must be >= 0")
        if self.warmup_steps + self.constant_steps + self.decay_steps < 1:
            raise UsageError(f"{where}: the schedule has no steps; set constant_steps or decay_steps > 0")
        if min(self.start_lr, self.peak_lr, self.final_lr, self.weight_decay, self.grad_clip) < 0:
            raise UsageError(f"{where}: learning rates, weight_decay and grad_clip must be >= 0")


@dataclass
class EncoderSource:
    """The encoder: a checkpoint in our format (``checkpoint``), else a preset built from ``seed``. Frozen, as in
    V-JEPA 2-AC, unless ``finetune``: then it trains with the predictor at ``lr_scale`` times the scheduled LR, scored
    against its own features with gradients stopped, and its features are encoded every step (no cache)."""

    checkpoint: str | None = None
    preset: str = "vit_tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    finetune: bool = False
    lr_scale: float = 0.1

    def validate(self, where: str) -> None:
        if not self.lr_scale > 0:
            raise UsageError(f"{where}.lr_scale must be > 0, got {self.lr_scale}")


@dataclass
class DataConfig:
    """Trajectory stores and clip sampling. Held-out trajectories (``val_fraction``, at least one when > 0)
    are chosen by a permutation seeded with ``split_seed`` and never trained on."""

    stores: list[str] = field(default_factory=list)
    frames_per_clip: int = 4
    image_size: int = 128
    val_fraction: float = 0.05
    split_seed: int = 0
    actions: str = "from_states"  # or "stored"
    num_workers: int = 0

    def validate(self, where: str, min_frames: int) -> None:
        if not self.stores:
            raise UsageError(f"{where}.stores is empty: give one or more trajectory store folders, "
                             f"e.g. {where}.stores=[data/reach]")
        if self.frames_per_clip < min_frames:
            raise UsageError(f"{where}.frames_per_clip={self.frames_per_clip}: need at least {min_frames}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UsageError(f"{where}.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.actions not in ("from_states", "stored"):
            raise UsageError(f"{where}.actions must be 'from_states' or 'stored', got {self.actions!r}")
        if self.image_size < 1 or self.num_workers < 0:
            raise UsageError(f"{where}: image_size must be >= 1 and num_workers >= 0")


@dataclass
class TrainACConfig:
    """``vjepa-bench train-ac``: AC predictor post-training on a frozen (or fine-tuned) encoder
    (docs/conventions.md#training)."""

    output_dir: str = "runs/train_ac"
    encoder: EncoderSource = field(default_factory=EncoderSource)
    predictor: str = "ac_tiny"
    predictor_overrides: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 8  # per process
    rollout_steps: int = 2
    cache_features: bool = True  # encode every frame once and train from the cache (frozen encoder only)
    seed: int = 239
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    cpu_threads: int | None = None  # torch intra-op threads per process; None keeps torch's default
    bf16: bool = True  # autocast on CUDA only
    resume: bool = True
    log_every: int = 10
    val_every: int = 100
    checkpoint_every: int = 100
    tensorboard: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        self.data.validate("data", min_frames=self.rollout_steps + 1)
        self.optim.validate("optim")
        self.encoder.validate("encoder")
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.rollout_steps < 1:
            raise UsageError(f"rollout_steps must be >= 1, got {self.rollout_steps}")
        for name in ("log_every", "val_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}")
        check_device_name(self.device)
        _check_threads(self.cpu_threads)


@dataclass
class MaskConfig:
    """Multi-block tube masks (V-JEPA): ``blocks`` rectangles per clip, each covering ``scale`` of the
    spatial grid with aspect ratio in ``aspect``, repeated over all tubelets; the union is predicted."""

    blocks: int = 4
    scale: tuple[float, float] = (0.1, 0.25)
    aspect: tuple[float, float] = (0.75, 1.5)


@dataclass
class PretrainConfig:
    """``vjepa-bench pretrain``: a small V-JEPA encoder (mask denoising in feature space, EMA target, L1)."""

    output_dir: str = "runs/pretrain"
    encoder: str = "vit_tiny"
    encoder_overrides: dict[str, Any] = field(default_factory=dict)
    predictor: str = "predictor_tiny"
    predictor_overrides: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)  # the same held-out split as train-ac
    mask: MaskConfig = field(default_factory=MaskConfig)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(start_lr=1e-4, peak_lr=5e-4, final_lr=1e-5, warmup_steps=100,
                                            constant_steps=800, decay_steps=100)
    )
    ema: tuple[float, float] = (0.99, 0.999)  # target momentum, linear from first to second over the run
    batch_size: int = 16
    seed: int = 0
    device: str = "auto"
    cpu_threads: int | None = None
    bf16: bool = True
    resume: bool = True
    log_every: int = 10
    checkpoint_every: int = 100
    tensorboard: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        self.data.validate("data", min_frames=2)
        self.optim.validate("optim")
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.ema[0] <= self.ema[1] <= 1.0:
            raise UsageError(f"ema must be [start, end] with 0 <= start <= end <= 1, got {list(self.ema)}")
        lo, hi = self.mask.scale
        if not 0.0 < lo <= hi < 1.0 or self.mask.blocks < 1:
            raise UsageError("mask.scale must satisfy 0 < low <= high < 1 and mask.blocks >= 1")
        for name in ("log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}")
        check_device_name(self.device)
        _check_threads(self.cpu_threads)


def _check_threads(threads: int | None) -> None:
    if threads is not None and threads < 1:
        raise UsageError(f"cpu_threads must be >= 1 or null, got {threads}")
