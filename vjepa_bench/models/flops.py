"""Analytic FLOP counts per forward pass (matmuls and attention; 1 multiply-add = 2 FLOPs).

Attention is counted dense (all N x N scores), which is what SDPA computes even with a block-causal mask.
LayerNorm, GELU, softmax and RoPE are ignored (a few percent at most).
"""

from __future__ import annotations

from .presets import ACPredictorConfig, EncoderConfig


def block_flops(tokens: int, dim: int, mlp_hidden: int, batch: int = 1) -> int:
    """One pre-norm transformer block on ``tokens`` tokens of width ``dim``."""
    n, d = tokens, dim
    linear = 2 * n * d * (3 * d) + 2 * n * d * d + 2 * 2 * n * d * mlp_hidden  # qkv, proj, fc1 + fc2
    attention = 2 * 2 * n * n * d  # q k^T and (attn) v over all heads
    return batch * (linear + attention)


def encoder_flops(config: EncoderConfig, batch: int, frames: int, height: int, width: int) -> int:
    """Encoder forward on a ``(batch, C, frames, height, width)`` clip."""
    c = config
    n = (frames // c.tubelet_size) * (height // c.patch_size) * (width // c.patch_size)
    patch = 2 * n * (c.in_chans * c.tubelet_size * c.patch_size**2) * c.embed_dim
    return batch * patch + c.depth * block_flops(n, c.embed_dim, c.mlp_hidden_dim, batch)


def ac_predictor_flops(config: ACPredictorConfig, batch: int, steps: int) -> int:
    """AC predictor forward on ``steps`` frames of ``tokens_per_frame`` tokens (+2 conditioning tokens each)."""
    c = config
    patches = steps * c.tokens_per_frame
    seq = steps * (c.tokens_per_frame + 2)
    p = c.predictor_embed_dim
    io = 2 * patches * c.embed_dim * p * 2 + 2 * steps * (c.action_dim + c.state_dim) * p  # embed + proj + cond
    return batch * io + c.depth * block_flops(seq, p, c.mlp_hidden_dim, batch)
