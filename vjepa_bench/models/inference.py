"""What every user of the models' features shares: the parameter-free feature layer norm and bf16 autocast."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

FEATURE_NORM_EPS = 1e-5


def layer_norm_features(x: torch.Tensor, eps: float = FEATURE_NORM_EPS) -> torch.Tensor:
    """Parameter-free layer norm over the last (feature) axis, eps 1e-5 (docs/conventions.md#layer-norm): applied to
    encoder targets/goals and to every predicted frame in AC training and planning."""
    return F.layer_norm(x, (x.shape[-1],), eps=eps)


def inference_autocast(device: torch.device | str) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA, a no-op elsewhere; wrap forward passes with it for fast inference."""
    if torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
