"""Thin entry points: ``vjepa-bench pretrain`` and ``vjepa-bench train-ac`` (configs parsed by the CLI)."""

from __future__ import annotations

from vjepa_bench.training.config import PretrainConfig, TrainACConfig


def train_ac(cfg: TrainACConfig) -> None:
    from vjepa_bench.training.ac_trainer import train_ac as run

    print(f"checkpoint: {run(cfg)}")


def pretrain(cfg: PretrainConfig) -> None:
    from vjepa_bench.training.pretrain import pretrain as run

    print(f"checkpoint: {run(cfg)}")
