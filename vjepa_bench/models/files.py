"""Reading model files: safe ``torch.load`` (tensors and plain containers only, ``weights_only=True``),
safetensors, weight hashes (file hashes: ``fileio.file_sha256``), and the key clean-up of official state dicts."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import torch

from .errors import CheckpointError


def weights_sha256(models: Mapping[str, Mapping[str, Any]]) -> str:
    """sha256 over every model's role, tensor names, dtypes, shapes and bytes (our format's ``models``)."""
    digest = hashlib.sha256()
    for role in sorted(models):
        for key, tensor in sorted(models[role]["state_dict"].items()):
            flat = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{role}|{key}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def read_torch_file(path: Path) -> Any:
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: file is empty (0 bytes); it looks truncated or corrupt, download it again")
    with open(path, "rb") as f:
        head = f.read(4)
    is_zip = head.startswith(b"PK\x03\x04")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except Exception as err:  # torch raises OSError/RuntimeError/KeyError/UnpicklingError for bad files
        text = str(err)
        if "Weights only load failed" in text:
            raise CheckpointError(
                f"{path}: holds Python objects beyond tensors and plain containers; refused, as loading them could "
                "run code: re-save its state dicts with plain torch.save, or use the released file"
            ) from err
        if is_zip or head[:1] == b"\x80":
            raise CheckpointError(
                f"{path}: could not be read ({size} bytes); it looks truncated or corrupt (interrupted "
                f"download?). Original error: {type(err).__name__}: {text[:200]}"
            ) from err
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint (first bytes {head!r}). Original error: {type(err).__name__}: {text[:200]}"
        ) from err


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as err:
        raise CheckpointError(
            f"{path}: safetensors file could not be read; it looks truncated or corrupt. "
            f"Original error: {type(err).__name__}: {str(err)[:200]}"
        ) from err


def strip_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove every ``module.`` and ``backbone.`` from key names and drop ``pos_embed``/``predictor_pos_embed``."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        k2 = k.replace("module.", "").replace("backbone.", "")
        if k2 in ("pos_embed", "predictor_pos_embed"):
            continue
        out[k2] = v
    return out
