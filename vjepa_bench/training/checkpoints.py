"""Model files written and read by training: our own checkpoint format (``vjepa_bench.models``), which
carries each model's config so that the file alone rebuilds it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import nn


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_world_model(path: Path, encoder: nn.Module, predictor: nn.Module, meta: dict[str, Any]) -> None:
    """Encoder + AC predictor (+ meta) in our format, written atomically."""
    _save(path, {"encoder": encoder, "ac_predictor": predictor}, meta)


def save_pretrained(path: Path, encoder: nn.Module, predictor: nn.Module, meta: dict[str, Any]) -> None:
    """V-JEPA pretraining output: the (EMA target) encoder and the mask-denoising predictor."""
    _save(path, {"encoder": encoder, "predictor": predictor}, meta)


def _save(path: Path, models: dict[str, nn.Module], meta: dict[str, Any]) -> None:
    import vjepa_bench.models as models_pkg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    models_pkg.save_checkpoint(tmp, meta=meta, **models)
    tmp.replace(path)


def load_encoder(path: Path) -> nn.Module:
    """The encoder stored in a checkpoint of ours."""
    import vjepa_bench.models as models_pkg

    loaded = models_pkg.load_checkpoint(path)
    encoder = _get(loaded, "encoder")
    if encoder is None:
        from vjepa_bench.errors import UsageError

        raise UsageError(f"{path} holds no encoder")
    return encoder


def _get(loaded: Any, name: str) -> Any:
    return loaded.get(name) if isinstance(loaded, dict) else getattr(loaded, name, None)
