"""Small random-weight world models the agent tests plan with (written as real checkpoints of ours)."""

from __future__ import annotations

from pathlib import Path

import torch

from vjepa_bench.models.ac_predictor import build_ac_predictor
from vjepa_bench.models.checkpoints import save_checkpoint
from vjepa_bench.models.encoder import build_encoder


def write_random_world_model(folder: Path, depth: int, image_size: int = 64, seed: int = 0) -> str:
    """A seeded vit_tiny encoder + ac_tiny predictor of ``depth`` blocks, saved as ``<folder>/world_model.pt``."""
    torch.manual_seed(seed)
    encoder = build_encoder("vit_tiny", img_size=image_size, depth=depth)
    predictor = build_ac_predictor("ac_tiny", embed_dim=encoder.embed_dim, img_size=image_size, depth=depth)
    path = Path(folder) / "world_model.pt"
    save_checkpoint(path, encoder=encoder, ac_predictor=predictor, meta={"note": "random weights for tests"})
    return str(path)
