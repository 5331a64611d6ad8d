"""Attentive probe / classifier (docs/conventions.md#probe): self-attention blocks over frozen encoder tokens, one
cross-attention block with learnable queries, then a linear head per query."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .blocks import Block, CrossAttentionBlock, init_transformer_weights
from .presets import ProbeConfig, probe_config


class AttentivePooler(nn.Module):
    """``(B, N, D) -> (B, num_queries, D)``.  Key order: ``query_tokens``, ``cross_attention_block``, ``blocks``."""

    def __init__(self, config: ProbeConfig) -> None:
        super().__init__()
        c = config
        hidden = int(c.mlp_hidden_dim or 4 * c.embed_dim)
        self.query_tokens = nn.Parameter(torch.zeros(1, int(c.num_queries or 1), c.embed_dim))
        self.cross_attention_block = CrossAttentionBlock(c.embed_dim, c.num_heads, hidden, c.qkv_bias, c.norm_eps)
        self.blocks = nn.ModuleList(
            [Block(c.embed_dim, c.num_heads, hidden, c.qkv_bias, c.norm_eps) for _ in range(c.depth - 1)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        q = self.query_tokens.expand(x.shape[0], -1, -1).to(x.dtype)  # (B, M, D)
        return self.cross_attention_block(q, x)


class AttentiveProbe(nn.Module):
    """Classifier over encoder tokens ``(B, N, D)``.

    One head: returns logits ``(B, classes)``.  Several heads (EK100 verb/noun/action): returns a dict
    ``{short name: logits}`` with query ``i`` feeding head ``i`` (``verb_classifier`` -> key ``verb``).
    Tokens of several clips of one view are concatenated along N before calling it.
    """

    def __init__(self, config: ProbeConfig, init_weights: bool = True) -> None:
        super().__init__()
        self.config = config
        self.pooler = AttentivePooler(config)
        self.head_names = [name for name, _ in config.heads]
        for name, classes in config.heads:
            setattr(self, name, nn.Linear(config.embed_dim, classes))
        if init_weights:
            init_transformer_weights(self, self.pooler.blocks)
            nn.init.trunc_normal_(self.pooler.query_tokens, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        pooled = self.pooler(x)  # (B, M, D)
        if len(self.head_names) == 1:
            head: nn.Module = getattr(self, self.head_names[0])
            return head(pooled[:, 0])  # (B, classes)
        out: dict[str, torch.Tensor] = {}
        for i, name in enumerate(self.head_names):
            out[name.removesuffix("_classifier")] = getattr(self, name)(pooled[:, i])
        return out


def build_probe(name: str = "ssv2_vitl", **overrides: Any) -> AttentiveProbe:
    """Build an attentive probe (``ssv2_vitl``, ``ssv2_vitg``, ``diving48_vitl``, ``ek100_vitl``, ``probe_tiny``, ...);
    e.g. ``build_probe("ssv2_vitl", heads=(("linear", 10),))`` for a 10-class head."""
    return AttentiveProbe(probe_config(name, **overrides))
