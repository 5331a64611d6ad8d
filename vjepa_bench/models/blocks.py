"""Transformer building blocks shared by the encoder, the predictors and the probe (docs/conventions.md#blocks, docs/conventions.md#probe).

Parameter names follow the official checkpoints (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``,
``mlp.fc1``, ``mlp.fc2``; cross-attention ``xattn.q``, ``xattn.kv``) so state dicts load with ``strict=True``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .rope import FastRope, RopeTables, apply_rope, apply_rope_fast, deinterleave_permutation

@functools.cache
def onednn_linear_works() -> bool:
    """Whether this torch has oneDNN's fused linear op and it computes a small linear right (a private API, so it
    is tried once rather than assumed)."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return False
    x, weight, bias = torch.arange(6.0).view(2, 3), torch.arange(12.0).view(4, 3) / 7, torch.arange(4.0)
    try:
        with torch.no_grad():
            out = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    except (RuntimeError, NotImplementedError):
        return False
    return bool(torch.allclose(out, F.linear(x, weight, bias)))


def _onednn_ok(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``linear`` may run oneDNN's matmul: CPU fp32 tensors outside autograd and autocast (the op has no
    backward), in a torch whose oneDNN linear works."""
    return (
        x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and not torch.is_grad_enabled()
        and not _autocasting(x)
        and onednn_linear_works()
    )


def _weight_key(t: torch.Tensor) -> tuple[int, int]:
    """What says a weight tensor still holds the values a cache was made from: its storage address and in-place
    version counter (-1 for an inference tensor, which keeps none)."""
    try:
        return t.data_ptr(), t._version
    except RuntimeError:
        return t.data_ptr(), -1


class DerivedWeights:
    """Tensors derived from a module's weights (a row-permuted copy, oneDNN's packed form), each kept until its
    source weight is replaced or changes. Never copied or saved: a deep copy or an unpickled module starts empty
    (oneDNN's packed tensors have no storage to copy)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[torch.Tensor, tuple[int, int], torch.Tensor]] = {}

    def get(self, name: str, source: torch.Tensor, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The tensor ``make()`` built from ``source``, rebuilt when ``source`` is another tensor or has changed."""
        hit = self._entries.get(name)
        if hit is None or hit[0] is not source or hit[1] != _weight_key(source):
            with torch.inference_mode(False), torch.no_grad():  # a plain tensor, usable in and out of inference mode
                hit = self._entries[name] = (source, _weight_key(source), make())
        return hit[2]

    def __deepcopy__(self, memo: dict[int, Any]) -> DerivedWeights:
        return DerivedWeights()

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return DerivedWeights, ()


def derived_weights(owner: nn.Module) -> DerivedWeights:
    """``owner``'s ``DerivedWeights`` (a plain attribute: not a parameter or buffer, not in its state dict)."""
    cache = owner.__dict__.get("_derived_weights")
    if cache is None:
        cache = owner._derived_weights = DerivedWeights()
    return cache


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    gelu: bool = False,
    owner: nn.Module | None = None,
) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, followed by the exact (erf) GELU when ``gelu``; on CPU fp32 without autograd
    through oneDNN's matmul with the GELU fused into it (docs/conventions.md#blocks: 1.1-1.25x the default BLAS
    matmul at the AC predictor's shapes on the AMD CPUs we measure on; same values up to float rounding). With an
    ``owner`` (the module the weight belongs to) the weight is packed once for oneDNN and reused."""
    if _onednn_ok(x, weight):
        packed = weight
        if owner is not None:  # reordered into oneDNN's blocked layout once: the same values, ~3 % faster matmuls
            packed = derived_weights(owner).get("onednn", weight, lambda: torch.ops.mkldnn._reorder_linear_weight(weight))
        return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "gelu" if gelu else "none", [], "none" if gelu else "")
    out = F.linear(x, weight, bias)
    return F.gelu(out) if gelu else out


def _linear_into(
    residual: torch.Tensor, x: torch.Tensor, layer: nn.Linear, bias: torch.Tensor | None
) -> torch.Tensor:
    """``residual += x @ layer.weight.T + bias`` in place (through ``linear``'s oneDNN matmul where it applies,
    else the BLAS matmul accumulates into it with no output tensor)."""
    if _onednn_ok(x, layer.weight):
        return residual.add_(linear(x, layer.weight, bias, owner=layer))
    flat = residual.view(-1, residual.shape[-1])  # (M, out)
    flat.addmm_(x.reshape(-1, x.shape[-1]), layer.weight.t())
    if bias is not None:
        flat.add_(bias)
    return residual


def _autocasting(x: torch.Tensor) -> bool:
    """Whether autocast is on for ``x``'s device type (devices without autocast, such as ``meta``, never are)."""
    return x.device.type in ("cpu", "cuda", "xpu", "mps") and torch.is_autocast_enabled(x.device.type)


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
    # in deinterleave_permutation order, so RoPE needs no pair swap; the qkv bias is kept out of the matmul (q's
    # and k's is rotated once per call and added inside the RoPE multiply, v's is folded into proj's bias: the
    # attention weights of a query sum to 1); nothing is copied into head-major order.

    def qkv_fast(self, x: torch.Tensor, rope: FastRope) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (..., N, D)`` -> rotated de-interleaved ``qk (..., N, 2H, hd)`` (q heads, then k heads) and
        ``v (..., N, H, hd)`` *without its bias* (``attend`` adds it back through ``proj``). ``rope``: the
        ``N`` tokens' ``FastRope`` tables for ``2H`` groups (viewed to broadcast against ``x``'s token dims)."""
        heads, hd = self.num_heads, self.head_dim
        perm = self._permutation(x.device)
        raw = linear(x, self._deinterleaved_qkv_weight(perm), owner=self.qkv)
        raw = raw.unflatten(-1, (3 * heads, hd))  # (..., N, 3H, hd)
        bias = None
        if self.qkv.bias is not None:
            qk_bias = self.qkv.bias[: 2 * heads * hd].index_select(0, perm).view(2 * heads, hd).to(raw.dtype)
            bias = apply_rope_fast(qk_bias.expand(*rope.cos.shape), rope)  # (N, 2H, hd), the bias rotated
        return apply_rope_fast(raw[..., : 2 * heads, :], rope, bias), raw[..., 2 * heads :, :]

    def _permutation(self, device: torch.device) -> torch.Tensor:
        """``deinterleave_permutation`` of the q and k rows, made once per device."""
        perm = self._permutations.get(device)
        if perm is None:
            with torch.inference_mode(False):  # an index saved for backward must not be an inference tensor
                perm = deinterleave_permutation(self.head_dim, 2 * self.num_heads, device)
            self._permutations[device] = perm
        return perm

    def _deinterleaved_qkv_weight(self, perm: torch.Tensor) -> torch.Tensor:
        """The qkv weight with its q and k rows in ``perm`` order; without autograd made once per weight version
        (the same tensor object, so ``linear`` keeps its packed form too)."""
        weight = self.qkv.weight

        def rows() -> torch.Tensor:
            return torch.cat((weight[: len(perm)].index_select(0, perm), weight[len(perm) :]))

        return rows() if torch.is_grad_enabled() else derived_weights(self).get("deinterleaved_qkv", weight, rows)

    def attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``proj(attention)`` of token-major ``q, k, v (B, N, H, hd)`` (views are fine), ``v`` from
        ``qkv_fast`` (without its bias) -> ``(B, N, D)``; with ``residual`` (no autograd) the result is added
        into it in place and it is returned."""
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=attn_mask
        )  # (B, H, N, hd), laid out token-major by the CPU kernel, so project's reshape is then a view
        return self.project(out.transpose(1, 2), residual)

    def project(self, out: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """``proj`` of the token-major attention output ``out (B, N, H, hd)`` of ``v`` without its bias (added
        here: the attention weights of a query sum to 1) -> ``(B, N, D)``; ``residual`` as in ``attend``."""
        b, n = out.shape[:2]
        out = out.reshape(b, n, self.num_heads * self.head_dim)  # (B, N, D)
        bias = self.proj.bias
        if self.qkv.bias is not None:  # attention(q, k, v + b) = attention(q, k, v) + b
            v_bias = self.qkv.bias[2 * self.num_heads * self.head_dim :]
            bias = self.proj.weight @ v_bias if bias is None else torch.addmv(bias, self.proj.weight, v_bias)
        if residual is None:
            return linear(out, self.proj.weight, bias, owner=self.proj)
        return _linear_into(residual, out, self.proj, bias)

    def forward_fast(
        self,
        x: torch.Tensor,
        rope: RopeTables | None = None,
        attn_mask: torch.Tensor | None = None,
        residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``forward`` with ``rope`` given as ``RopeTables`` of the ``N`` tokens of ``x (B, N, D)``; see
        ``attend`` for ``residual``."""
        if rope is None:
            out = self.forward(x, attn_mask=attn_mask)
            return out if residual is None else residual.add_(out)
        b, n, _ = x.shape
        dtype = torch.get_autocast_dtype(x.device.type) if _autocasting(x) else x.dtype
        qk, v = self.qkv_fast(x, rope.fast(dtype, 2 * self.num_heads))  # (B, N, 2H, hd), (B, N, H, hd)
        qk = qk.unflatten(2, (2, self.num_heads))  # (B, N, 2, H, hd)
        return self.attend(qk[:, :, 0], qk[:, :, 1], v, attn_mask, residual)


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
            and not _autocasting(x)
            and x.dtype == self.mlp.fc2.weight.dtype
        )

    def add_mlp(self, x: torch.Tensor) -> torch.Tensor:
        """``x + mlp(norm2(x))``; in place (``x`` returned) when ``in_place_ok(x)``."""
        if not self.in_place_ok(x):
            return x + self.mlp(self.norm2(x))
        h = linear(self.norm2(x), self.mlp.fc1.weight, self.mlp.fc1.bias, gelu=True, owner=self.mlp.fc1)
        return _linear_into(x, h, self.mlp.fc2, self.mlp.fc2.bias)


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
