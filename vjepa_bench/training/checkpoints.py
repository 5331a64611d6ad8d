"""Model files written and read by training, in our own checkpoint format (``vjepa_bench.models.checkpoints``),
which carries each model's config so that the file alone rebuilds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from vjepa_bench.errors import UsageError
from vjepa_bench.models.checkpoints import (
    CheckpointError,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)

__all__ = ["file_sha256", "load_encoder", "save_pretrained", "save_world_model"]


def save_world_model(path: Path, encoder: nn.Module, predictor: nn.Module, meta: dict[str, Any]) -> None:
    """Encoder + AC predictor (+ meta): what ``agent=vjepa_ac`` loads."""
    save_checkpoint(path, encoder=encoder, ac_predictor=predictor, meta=meta)


def save_pretrained(path: Path, encoder: nn.Module, predictor: nn.Module, meta: dict[str, Any]) -> None:
    """V-JEPA pretraining output: the (EMA target) encoder and the mask-denoising predictor."""
    save_checkpoint(path, encoder=encoder, predictor=predictor, meta=meta)


def load_encoder(path: Path) -> nn.Module:
    """The encoder of a checkpoint (ours, official or HF), on the CPU in float32."""
    try:
        loaded = load_checkpoint(path, kind="encoder")
    except CheckpointError as err:
        raise UsageError(f"encoder.checkpoint: {err}") from err
    return loaded.encoder
