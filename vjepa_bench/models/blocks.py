"""Transformer building blocks shared by the encoder, the predictors and the probe (docs/conventions.md#blocks, docs/conventions.md#probe).

Parameter names follow the official checkpoints (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``,
``mlp.fc1``, ``mlp.fc2``; cross-attention ``xattn.q``, ``xattn.kv``) so state dicts load with ``strict=True``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .rope import apply_rope


class Mlp(nn.Module):
    """fc1 -> exact GELU -> fc2."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection and optional RoPE tables."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x (B, N, D)``; ``rope`` = (cos, sin) broadcastable to ``(B, H, N, hd)``; boolean ``attn_mask (N, N)``."""
        b, n, d = x.shape
        # (B, N, 3D) -> (3, B, H, N, hd); output rows are laid out [3, heads, head_dim]
        qkv = self.qkv(x).view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            qk = apply_rope(qkv[:2], *rope)  # q and k together: (2, B, H, N, hd)
            q, k = qk.unbind(0)
        else:
            q, k = qkv[0], qkv[1]
        v = qkv[2]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, N, hd)
        out = out.transpose(1, 2).reshape(b, n, d)  # (B, N, D)
        return self.proj(out)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden_dim: int, qkv_bias: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = SelfAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden_dim)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope=rope, attn_mask=attn_mask)
        return x + self.mlp(self.norm2(x))


class CrossAttention(nn.Module):
    """Query tokens attend to context tokens; no output projection (as in the official probe)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)

    def forward(self, queries: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        b, m, d = queries.shape
        n = x.shape[1]
        q = self.q(queries).view(b, m, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, M, hd)
        kv = self.kv(x).view(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (2, B, H, N, hd)
        out = F.scaled_dot_product_attention(q, kv[0], kv[1])  # (B, H, M, hd)
        return out.transpose(1, 2).reshape(b, m, d)


class CrossAttentionBlock(nn.Module):
    """``q + xattn(q, norm1(x))`` then ``q + mlp(norm2(q))``; the queries themselves are not normalized."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden_dim: int, qkv_bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.xattn = CrossAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden_dim)

    def forward(self, queries: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        q = queries + self.xattn(queries, self.norm1(x))
        return q + self.mlp(self.norm2(q))


def init_transformer_weights(module: nn.Module, blocks: nn.ModuleList | None = None, std: float = 0.02) -> None:
    """Fresh-training init: truncated normal(std) for linear/conv weights, zero biases, unit LayerNorms;
    the residual output weights (``attn.proj``, ``mlp.fc2``) of block ``i`` (1-based) divided by ``sqrt(2 i)``."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv3d, nn.Conv2d)):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if blocks is not None:
        with torch.no_grad():
            for i, blk in enumerate(blocks, start=1):
                blk.attn.proj.weight.div_(math.sqrt(2.0 * i))
                blk.mlp.fc2.weight.div_(math.sqrt(2.0 * i))
