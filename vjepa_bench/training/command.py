"""Thin Hydra entry points: ``vjepa-bench pretrain`` and ``vjepa-bench train-ac``."""

from __future__ import annotations

from omegaconf import DictConfig

from vjepa_bench.training.config import PretrainConfig, TrainACConfig, parse


def train_ac(cfg: DictConfig) -> None:
    from vjepa_bench.training.ac_trainer import train_ac as run

    path = run(parse(TrainACConfig, cfg))
    print(f"checkpoint: {path}")


def pretrain(cfg: DictConfig) -> None:
    from vjepa_bench.training.pretrain import pretrain as run

    path = run(parse(PretrainConfig, cfg))
    print(f"checkpoint: {path}")
