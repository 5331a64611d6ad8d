"""Model configs from weight shapes, for files that do not carry their config (official ``.pt``, bare state dicts).

What shapes cannot tell (attention heads, grid size) comes from a named preset, else from the preset tables of
``presets.py``: the heads of the first preset of the same width, else a head size of 64 (32 for the mask predictor).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import torch

from .errors import CheckpointError
from .presets import (
    AC_PREDICTOR_PRESETS,
    ENCODER_PRESETS,
    PREDICTOR_PRESETS,
    ACPredictorConfig,
    EncoderConfig,
    PredictorConfig,
    ProbeConfig,
    ac_predictor_config,
    encoder_config,
    predictor_config,
    probe_config,
)


def preset_heads(table: Mapping[str, Any], width_field: str, width: int, head_dim: int) -> int:
    """Heads of the first preset in ``table`` whose ``width_field`` is ``width``, else ``width // head_dim``."""
    for config in table.values():
        if getattr(config, width_field) == width:
            return int(config.num_heads)
    return max(1, width // head_dim)


def _block_count(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    ids = {int(m[1]) for k in sd if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(ids) + 1 if ids else 0


def _need(sd: Mapping[str, torch.Tensor], key: str, source: str, what: str) -> torch.Tensor:
    if key not in sd:
        sample = list(sd)[:5]
        raise CheckpointError(f"{source}: expected {what} weights with key {key!r}; found keys like {sample}")
    return sd[key]


def infer_encoder_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> EncoderConfig:
    """Encoder config from weight shapes; heads (not visible in shapes) from the preset or the released models."""
    w = _need(sd, "patch_embed.proj.weight", source, "encoder")  # (D, C, t, p, p)
    d, c, t, p, _ = w.shape
    depth = _block_count(sd, "blocks.")
    hidden = _need(sd, "blocks.0.mlp.fc1.weight", source, "encoder").shape[0]
    base = encoder_config(preset) if preset else None
    if base is not None and base.embed_dim == d:
        heads = base.num_heads
    else:
        heads = preset_heads(ENCODER_PRESETS, "embed_dim", d, 64)
    kw: dict[str, Any] = dict(embed_dim=d, depth=depth, num_heads=heads, mlp_hidden_dim=hidden, patch_size=p,
                              tubelet_size=t, in_chans=c, qkv_bias="blocks.0.attn.qkv.bias" in sd)
    if base is not None:
        return base.replace(**kw)
    return EncoderConfig(**kw)


def _predictor_with_preset(cls: type, base: Any, kw: dict[str, Any]) -> Any:
    """A predictor config from inferred shapes ``kw``; a preset of the same width supplies what shapes cannot
    tell (heads, grid)."""
    if base is None:
        return cls(**kw)
    if base.predictor_embed_dim == kw["predictor_embed_dim"]:
        kw = {**kw, "num_heads": base.num_heads}
    return base.replace(**kw)


def infer_predictor_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> PredictorConfig:
    """Mask-denoising predictor config from weight shapes (+ preset for the grid size)."""
    w = _need(sd, "predictor_embed.weight", source, "predictor")  # (P, D)
    pdim, d = w.shape
    n_mask = sum(1 for k in sd if k.startswith("mask_tokens."))
    kw: dict[str, Any] = dict(
        embed_dim=d, predictor_embed_dim=pdim, depth=_block_count(sd, "predictor_blocks."),
        num_heads=preset_heads(PREDICTOR_PRESETS, "predictor_embed_dim", pdim, 32),
        mlp_hidden_dim=_need(sd, "predictor_blocks.0.mlp.fc1.weight", source, "predictor").shape[0],
        num_mask_tokens=n_mask, qkv_bias="predictor_blocks.0.attn.qkv.bias" in sd,
    )
    return _predictor_with_preset(PredictorConfig, predictor_config(preset) if preset else None, kw)


def infer_ac_predictor_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> ACPredictorConfig:
    """AC predictor config from weight shapes (+ preset for heads and tokens per frame)."""
    w = _need(sd, "predictor_embed.weight", source, "AC predictor")
    pdim, d = w.shape
    kw: dict[str, Any] = dict(
        embed_dim=d, predictor_embed_dim=pdim, depth=_block_count(sd, "predictor_blocks."),
        num_heads=preset_heads(AC_PREDICTOR_PRESETS, "predictor_embed_dim", pdim, 64),
        mlp_hidden_dim=_need(sd, "predictor_blocks.0.mlp.fc1.weight", source, "AC predictor").shape[0],
        action_dim=_need(sd, "action_encoder.weight", source, "AC predictor").shape[1],
        state_dim=_need(sd, "state_encoder.weight", source, "AC predictor").shape[1],
        extrinsics_dim=_need(sd, "extrinsics_encoder.weight", source, "AC predictor").shape[1],
        qkv_bias="predictor_blocks.0.attn.qkv.bias" in sd,
    )
    return _predictor_with_preset(ACPredictorConfig, ac_predictor_config(preset) if preset else None, kw)


def infer_probe_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> ProbeConfig:
    """Probe config from weight shapes; the released probes use 16 heads."""
    q = _need(sd, "pooler.query_tokens", source, "probe")  # (1, M, D)
    d = q.shape[-1]
    heads = [(k[: -len(".weight")], v.shape[0]) for k, v in sd.items() if not k.startswith("pooler.") and k.endswith(".weight")]
    base = probe_config(preset) if preset else None
    num_heads = base.num_heads if base is not None and base.embed_dim == d else (16 if d % 16 == 0 else 1)
    return ProbeConfig(
        embed_dim=d, heads=tuple(heads), num_heads=num_heads, depth=_block_count(sd, "pooler.blocks.") + 1,
        mlp_hidden_dim=_need(sd, "pooler.cross_attention_block.mlp.fc1.weight", source, "probe").shape[0],
        num_queries=q.shape[1], qkv_bias="pooler.cross_attention_block.xattn.q.bias" in sd,
    )


def role_from_keys(sd: Mapping[str, torch.Tensor]) -> str | None:
    if "action_encoder.weight" in sd:
        return "ac_predictor"
    if "predictor_embed.weight" in sd:
        return "predictor"
    if "patch_embed.proj.weight" in sd:
        return "encoder"
    if "pooler.query_tokens" in sd:
        return "probe"
    return None
