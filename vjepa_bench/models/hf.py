"""Key maps between HuggingFace ``transformers`` VJEPA2 state dicts and the official layout (docs/conventions.md#hf).

HF splits every fused ``qkv`` (and the probe's ``kv``) into separate projections; we concatenate them back
(rows q, k, v in that order).  Also builds our configs from an HF ``config.json``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from .errors import CheckpointError
from .presets import EncoderConfig, PredictorConfig

# HF name pattern -> official name; "{part}" marks a piece of a fused projection.
_HF_TO_OFFICIAL: list[tuple[str, str]] = [
    (r"encoder\.embeddings\.patch_embeddings\.proj\.", "patch_embed.proj."),
    (r"encoder\.layer\.(\d+)\.attention\.proj\.", r"blocks.\1.attn.proj."),
    (r"encoder\.layer\.(\d+)\.attention\.(query|key|value)\.", r"blocks.\1.attn.qkv{\2}."),
    (r"encoder\.layer\.(\d+)\.", r"blocks.\1."),
    (r"encoder\.layernorm\.", "norm."),
    (r"predictor\.embeddings\.predictor_embeddings\.", "predictor_embed."),
    (r"predictor\.layer\.(\d+)\.attention\.proj\.", r"predictor_blocks.\1.attn.proj."),
    (r"predictor\.layer\.(\d+)\.attention\.(query|key|value)\.", r"predictor_blocks.\1.attn.qkv{\2}."),
    (r"predictor\.layer\.(\d+)\.", r"predictor_blocks.\1."),
    (r"predictor\.layernorm\.", "predictor_norm."),
    (r"predictor\.proj\.", "predictor_proj."),
    (r"pooler\.cross_attention_layer\.layer_norm(\d)\.", r"pooler.cross_attention_block.norm\1."),
    (r"pooler\.cross_attention_layer\.cross_attn\.q_proj\.", "pooler.cross_attention_block.xattn.q."),
    (r"pooler\.cross_attention_layer\.cross_attn\.(k|v)_proj\.", r"pooler.cross_attention_block.xattn.kv{\1}."),
    (r"pooler\.cross_attention_layer\.mlp\.", "pooler.cross_attention_block.mlp."),
    (r"pooler\.self_attention_layers\.(\d+)\.layer_norm(\d)\.", r"pooler.blocks.\1.norm\2."),
    (r"pooler\.self_attention_layers\.(\d+)\.self_attn\.(q|k|v)_proj\.", r"pooler.blocks.\1.attn.qkv{\2}."),
    (r"pooler\.self_attention_layers\.(\d+)\.self_attn\.out_proj\.", r"pooler.blocks.\1.attn.proj."),
    (r"pooler\.self_attention_layers\.(\d+)\.mlp\.", r"pooler.blocks.\1.mlp."),
    (r"classifier\.", "linear."),
]
_PART_ORDER = {"query": 0, "key": 1, "value": 2, "q": 0, "k": 1, "v": 2}
_DROPPED = {"encoder.embeddings.position_embeddings", "predictor.embeddings.position_embeddings"}


def _role_of(official_key: str) -> str:
    if official_key.startswith(("pooler.", "linear.")):
        return "probe"
    if official_key.startswith("predictor_") or official_key.startswith("mask_tokens."):
        return "predictor"
    return "encoder"


def hf_to_official(state_dict: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Split an HF VJEPA2 state dict into official-layout ``{"encoder"|"predictor"|"probe": state_dict}``."""
    pieces: dict[str, dict[int, torch.Tensor]] = {}
    out: dict[str, dict[str, torch.Tensor]] = {}
    for raw_key, value in state_dict.items():
        key = raw_key[len("vjepa2."):] if raw_key.startswith("vjepa2.") else raw_key
        if key in _DROPPED:
            continue
        if key == "predictor.embeddings.mask_tokens":  # (M, 1, 1, P) -> M tensors (1, 1, P)
            for i in range(value.shape[0]):
                out.setdefault("predictor", {})[f"mask_tokens.{i}"] = value[i]
            continue
        new = key
        for pattern, repl in _HF_TO_OFFICIAL:
            if re.match(pattern, key):
                new = re.sub("^" + pattern, repl, key)
                break
        part = re.search(r"\{(\w+)\}", new)
        if part:
            fused = new.replace(part.group(0), "")
            pieces.setdefault(fused, {})[_PART_ORDER[part.group(1)]] = value
        else:
            out.setdefault(_role_of(new), {})[new] = value
    for fused, parts in pieces.items():
        out.setdefault(_role_of(fused), {})[fused] = torch.cat([parts[i] for i in sorted(parts)], dim=0)
    return out


def _value(cfg: dict[str, Any], key: str, default: Any, kind: type, source: str) -> Any:
    """``cfg[key]`` (or ``default``) checked to be a positive int, a positive finite float or a bool."""
    value = cfg.get(key, default)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        expected = {bool: "true or false", int: "a positive integer", float: "a positive finite number"}[kind]
        raise CheckpointError(f"{source}: key {key!r} is {value!r}, expected {expected}; fix the file or download the "
                              "snapshot again")
    return kind(value)


def configs_from_hf(cfg: dict[str, Any], source: str = "config.json") -> tuple[EncoderConfig, PredictorConfig]:
    """Encoder and predictor configs from an HF VJEPA2 ``config.json`` (defaults = ViT-L, as HF's); a malformed
    value raises :class:`CheckpointError` naming ``source`` and the key. ``frames_per_clip``, a nominal clip length
    (``models.presets.LEGACY_KEYS``), is not read."""
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{source}: holds a JSON {type(cfg).__name__}, expected an object of config keys")

    def get(key: str, default: Any, kind: type) -> Any:
        return _value(cfg, key, default, kind, source)

    hidden = get("hidden_size", 1024, int)
    crop = get("crop_size", 256, int)
    patch = get("patch_size", 16, int)
    tubelet = get("tubelet_size", 2, int)
    eps = get("layer_norm_eps", 1e-6, float)
    qkv_bias = get("qkv_bias", True, bool)
    enc = EncoderConfig(
        embed_dim=hidden,
        depth=get("num_hidden_layers", 24, int),
        num_heads=get("num_attention_heads", 16, int),
        mlp_hidden_dim=round(hidden * get("mlp_ratio", 4.0, float)),
        patch_size=patch,
        tubelet_size=tubelet,
        in_chans=get("in_chans", 3, int),
        img_size=crop,
        qkv_bias=qkv_bias,
        norm_eps=eps,
    )
    p = get("pred_hidden_size", 384, int)
    pred = PredictorConfig(
        embed_dim=hidden,
        predictor_embed_dim=p,
        depth=get("pred_num_hidden_layers", 12, int),
        num_heads=get("pred_num_attention_heads", 12, int),
        mlp_hidden_dim=round(p * get("pred_mlp_ratio", 4.0, float)),
        num_mask_tokens=get("pred_num_mask_tokens", 10, int),
        img_size=crop,
        patch_size=patch,
        qkv_bias=qkv_bias,
        norm_eps=eps,
    )
    return enc, pred
