"""Mask-denoising predictor shipped with each pretrained V-JEPA 2 checkpoint (docs/conventions.md#mask-predictor).

Given encoder tokens at context positions, it predicts encoder features at target positions: context tokens
are projected to the predictor width, target tokens are a learned mask token, both are put in position
order, run through RoPE blocks (positions from token ids on the nominal square grid) and the target part
is projected back to the encoder width.  EK100 anticipation uses it to predict future tubelets.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .blocks import Block, init_transformer_weights
from .presets import PredictorConfig, predictor_config
from .rope import positions_from_ids, rope_tables


class MaskPredictor(nn.Module):
    """``(x (B, N_ctx, D), ctx_ids (B, N_ctx), tgt_ids (B, N_tgt)) -> (B, N_tgt, D)``."""

    def __init__(self, config: PredictorConfig, init_weights: bool = True) -> None:
        super().__init__()
        self.config = c = config
        p = c.predictor_embed_dim
        self.predictor_embed = nn.Linear(c.embed_dim, p)
        self.mask_tokens = nn.ParameterList([nn.Parameter(torch.zeros(1, 1, p)) for _ in range(c.num_mask_tokens)])
        self.predictor_blocks = nn.ModuleList(
            [Block(p, c.num_heads, c.mlp_hidden_dim, c.qkv_bias, c.norm_eps) for _ in range(c.depth)]
        )
        self.predictor_norm = nn.LayerNorm(p, eps=c.norm_eps)
        self.predictor_proj = nn.Linear(p, c.embed_dim)
        if init_weights:
            init_transformer_weights(self, self.predictor_blocks)

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def forward(
        self, x: torch.Tensor, ctx_ids: torch.Tensor, tgt_ids: torch.Tensor, mask_index: int = 1
    ) -> torch.Tensor:
        """``x``: encoder tokens at the flat token ids ``ctx_ids``; returns predictions at ``tgt_ids``."""
        b, n_ctx, _ = x.shape
        if ctx_ids.shape != (b, n_ctx):
            raise ValueError(f"ctx_ids must be (B, N_ctx) = {(b, n_ctx)}, got {tuple(ctx_ids.shape)}")
        if tgt_ids.ndim != 2 or tgt_ids.shape[0] != b:
            raise ValueError(f"tgt_ids must be (B={b}, N_tgt), got {tuple(tgt_ids.shape)}")
        n_tgt = tgt_ids.shape[1]
        ctx = self.predictor_embed(x)  # (B, N_ctx, P)
        token = self.mask_tokens[mask_index % len(self.mask_tokens)]  # (1, 1, P)
        tgt = token.expand(b, n_tgt, -1).to(ctx.dtype)  # (B, N_tgt, P)
        h = torch.cat([ctx, tgt], dim=1)  # (B, N, P)
        ids = torch.cat([ctx_ids, tgt_ids], dim=1)  # (B, N)
        order = torch.argsort(ids, dim=1, stable=True)  # (B, N) sort by position (as upstream)
        ids = torch.gather(ids, 1, order)
        h = torch.gather(h, 1, order.unsqueeze(-1).expand_as(h))
        g = self.config.grid_size
        t, r, col = positions_from_ids(ids, g, g)  # each (B, N)
        cos, sin = rope_tables((t, r, col), self.config.head_dim, self.config.tiled_rope)  # (B, N, hd)
        rope = (cos.unsqueeze(1), sin.unsqueeze(1))  # (B, 1, N, hd): broadcast over heads
        for blk in self.predictor_blocks:
            h = blk(h, rope=rope)
        h = self.predictor_norm(h)
        inverse = torch.argsort(order, dim=1)  # (B, N) back to [context, targets] order
        h = torch.gather(h, 1, inverse.unsqueeze(-1).expand_as(h))[:, n_ctx:]  # (B, N_tgt, P)
        return self.predictor_proj(h)


def build_predictor(name: str = "vjepa2_vitl", **overrides: Any) -> MaskPredictor:
    """Build a mask-denoising predictor (``vjepa2_vitl``/``vith``/``vitg``/``vitg_384``, ``predictor_tiny``)."""
    return MaskPredictor(predictor_config(name, **overrides))
