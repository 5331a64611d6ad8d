"""Transformer building blocks shared by the encoder, the predictors and the probe (docs/conventions.md#blocks, docs/conventions.md#probe).

Parameter names follow the official checkpoints (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``,
``mlp.fc1``, ``mlp.fc2``; cross-attention ``xattn.q``, ``xattn.kv``) so state dicts load with ``strict=True``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .rope import RopeTables, apply_rope, apply_rope_deinterleaved, deinterleave_permutation


def _linear_into(residual: torch.Tensor, x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``residual += linear(x)`` in place (the matmul accumulates into it; no output tensor), returned."""
    flat = residual.view(-1, residual.shape[-1])  # (M, out)
    flat.addmm_(x.reshape(-1, x.shape[-1]), linear.weight.t())
    if linear.bias is not None:
        flat.add_(linear.bias)
    return residual


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
        self._permutations: dict[torch.device, torch.Tensor] = {}  # de-interleaving row order, per device

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

    # Fast path (same values up to float rounding): q and k come out of the qkv projection with each head's dims
    # in deinterleave_permutation order, so RoPE needs no pair swap, and no tensor is copied into head-major order.

    def project(self, x: torch.Tensor, deinterleave: bool = True) -> torch.Tensor:
        """``qkv(x)``, ``(..., D) -> (..., 3D)``, laid out ``[q | k | v]`` by head; with ``deinterleave`` the
        dims of each q and k head are in ``deinterleave_permutation`` order (the weight rows are reordered,
        differentiably, on every call: ``3D x D`` values, nothing cached that could go stale)."""
        if not deinterleave:
            return self.qkv(x)
        dim = self.num_heads * self.head_dim
        perm = self._permutations.get(x.device)
        if perm is None:
            with torch.inference_mode(False):  # an index saved for backward must not be an inference tensor
                qk = deinterleave_permutation(self.head_dim, 2 * self.num_heads, x.device)  # q and k heads
                perm = torch.cat((qk, torch.arange(2 * dim, 3 * dim, device=x.device)))  # v rows unchanged
            self._permutations[x.device] = perm
        bias = self.qkv.bias.index_select(0, perm) if self.qkv.bias is not None else None
        return F.linear(x, self.qkv.weight.index_select(0, perm), bias)

    @staticmethod
    def rotate(qk: torch.Tensor, tables: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """RoPE on de-interleaved ``qk (..., 2, H, hd)`` (a view of ``project``'s output); ``tables`` are
        ``RopeTables.deinterleaved``'s, viewed to broadcast (``(N, 1, 1, hd/2)`` for ``qk (B, N, 2, H, hd)``).
        Returns a new tensor; without autograd it is written in place of a temporary (no concatenation)."""
        if torch.is_grad_enabled() and (qk.requires_grad or any(t.requires_grad for t in tables)):
            return apply_rope_deinterleaved(qk, *tables)
        return apply_rope_deinterleaved(qk, *tables, out=torch.empty_like(qk, memory_format=torch.contiguous_format))

    def attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``proj(attention)`` of token-major ``q, k, v (B, N, H, hd)`` (views are fine) -> ``(B, N, D)``;
        with ``residual`` (no autograd) the result is added into it in place and it is returned."""
        b, n = q.shape[:2]
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=attn_mask
        )  # (B, H, N, hd); the CPU and CUDA kernels lay it out token-major, so the reshape below is a view
        out = out.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim)  # (B, N, D)
        return self.proj(out) if residual is None else _linear_into(residual, out, self.proj)

    def forward_fast(
        self,
        x: torch.Tensor,
        rope: RopeTables | None = None,
        attn_mask: torch.Tensor | None = None,
        residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``forward`` with ``rope`` given as ``RopeTables`` of the ``N`` tokens of ``x (B, N, D)``; see
        ``attend`` for ``residual``."""
        b, n, _ = x.shape
        qkv = self.project(x, rope is not None).view(b, n, 3, self.num_heads, self.head_dim)  # (B, N, 3, H, hd)
        if rope is None:
            return self.attend(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], attn_mask, residual)
        tables = tuple(t.view(n, 1, 1, -1) for t in rope.deinterleaved(qkv.dtype))  # (N, 1, 1, hd/2)
        qk = self.rotate(qkv[:, :, :2], tables)  # (B, N, 2, H, hd)
        return self.attend(qk[:, :, 0], qk[:, :, 1], qkv[:, :, 2], attn_mask, residual)


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

    def forward_fast(
        self, x: torch.Tensor, rope: RopeTables | None = None, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``forward`` through ``SelfAttention.forward_fast`` (``rope`` as ``RopeTables``). Without autograd or
        autocast, ``x`` is updated in place (the residual adds go into the matmuls), so pass a tensor you own."""
        if self.in_place_ok(x):
            self.attn.forward_fast(self.norm1(x), rope=rope, attn_mask=attn_mask, residual=x)
        else:
            x = x + self.attn.forward_fast(self.norm1(x), rope=rope, attn_mask=attn_mask)
        return self.add_mlp(x)

    def in_place_ok(self, x: torch.Tensor) -> bool:
        """Whether the fast path may overwrite activations: no autograd, no autocast, ``x`` in the weights' dtype."""
        return (
            not torch.is_grad_enabled()
            and not torch.is_autocast_enabled(x.device.type)
            and x.dtype == self.mlp.fc2.weight.dtype
        )

    def add_mlp(self, x: torch.Tensor) -> torch.Tensor:
        """``x + mlp(norm2(x))``; in place (``x`` returned) when ``in_place_ok(x)``."""
        if not self.in_place_ok(x):
            return x + self.mlp(self.norm2(x))
        h = self.mlp.fc1(self.norm2(x))
        return _linear_into(x, torch.ops.aten.gelu_(h), self.mlp.fc2)  # the same exact (erf) GELU, in place


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
