"""3D rotary position embedding (RoPE) as used by V-JEPA 2 (docs/conventions.md#rope).

Each attention head of size ``hd`` is split into three segments of ``s = 2 * ((hd // 3) // 2)`` dims,
rotated with the temporal, row and column index in that order; the remaining ``hd - 3 s`` dims pass through.

Within a segment of length ``s`` and position ``p`` the released checkpoints use *tiled* frequencies:
``out[j] = u[j] cos(p w[j mod s/2]) + r[j] sin(p w[j mod s/2])`` with ``r[2i] = -u[2i+1]``,
``r[2i+1] = u[2i]`` and ``w[m] = 10000 ** (-m / (s/2))``.  That is a known upstream bug kept for checkpoint
compatibility; ``tiled=False`` selects the textbook interleaved variant (``[w0, w0, w1, w1, ...]``).

Everything here builds per-token ``cos``/``sin`` tables of the full head size (identity on the unrotated
dims), so applying RoPE is one fused multiply-add on ``q`` and ``k`` with no loop over heads or tokens.

Fast path (used by the AC predictor): ``RopeTables`` keeps one token layout's tables, built once, and their forms
per dtype; ``deinterleave_permutation`` reorders each head's dims to ``[0, 2, 4, ..., 1, 3, 5, ...]`` (applied
to the q and k rows of the qkv weight, so attention scores are unchanged: q and k get the same permutation), and
``apply_rope_fast`` rotates in that order without the pair swap of ``rotate_pairs`` (a strided copy), skipping the
half-dims whose sine is exactly 0. Same values as ``apply_rope`` up to float rounding.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

ROPE_THETA = 10000.0


def rope_segment_dim(head_dim: int) -> int:
    """Dims per rotated axis: ``2 * floor(floor(head_dim / 3) / 2)`` (20 for 64, 26 for 80, 10 for 32)."""
    return 2 * ((head_dim // 3) // 2)


def _segment_angles(pos: torch.Tensor, seg: int, tiled: bool) -> torch.Tensor:
    """Angles ``(..., N, seg)`` for positions ``pos (..., N)`` on one segment."""
    half = seg // 2
    omega = torch.arange(half, dtype=torch.float32, device=pos.device) / (seg / 2.0)
    omega = 1.0 / ROPE_THETA**omega  # (seg/2,)
    freq = pos.to(torch.float32).unsqueeze(-1) * omega  # (..., N, seg/2)
    if tiled:
        return torch.cat([freq, freq], dim=-1)  # (..., N, seg): [w0..w_{h-1}, w0..w_{h-1}]
    return freq.repeat_interleave(2, dim=-1)  # (..., N, seg): [w0, w0, w1, w1, ...]


def rope_tables(
    positions: tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None],
    head_dim: int,
    tiled: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-head ``(cos, sin)`` tables, each ``(..., N, head_dim)``, fp32.

    ``positions`` holds the temporal, row and column positions ``(..., N)`` (all with the same shape).
    An axis given as ``None`` is left unrotated (cos 1, sin 0); the AC predictor uses that for its
    action/state tokens, which are rotated on the temporal segment only.
    """
    seg = rope_segment_dim(head_dim)
    ref = next(p for p in positions if p is not None)
    shape = tuple(ref.shape)
    cos_parts: list[torch.Tensor] = []
    sin_parts: list[torch.Tensor] = []
    for pos in positions:
        if pos is None:
            cos_parts.append(torch.ones(*shape, seg, device=ref.device))
            sin_parts.append(torch.zeros(*shape, seg, device=ref.device))
        else:
            ang = _segment_angles(pos, seg, tiled)
            cos_parts.append(ang.cos())
            sin_parts.append(ang.sin())
    rest = head_dim - 3 * seg
    if rest:
        cos_parts.append(torch.ones(*shape, rest, device=ref.device))
        sin_parts.append(torch.zeros(*shape, rest, device=ref.device))
    return torch.cat(cos_parts, dim=-1), torch.cat(sin_parts, dim=-1)


def grid_positions(
    frames: int, rows: int, cols: int, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer (t, row, col) of every token of a ``frames x rows x cols`` grid in token order, each ``(N,)``."""
    ids = torch.arange(frames * rows * cols, device=device)
    per_frame = rows * cols
    t = ids // per_frame
    r = (ids % per_frame) // cols
    c = ids % cols
    return t, r, c


def positions_from_ids(
    ids: torch.Tensor, rows: int, cols: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split flat token ids (any shape) of a ``rows x cols`` grid into (t, row, col)."""
    per_frame = rows * cols
    return ids // per_frame, (ids % per_frame) // cols, ids % cols


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """``r`` with ``r[2i] = -x[2i+1]`` and ``r[2i+1] = x[2i]`` along the last dim."""
    pairs = x.unflatten(-1, (-1, 2))  # (..., hd/2, 2)
    x_even, x_odd = pairs.unbind(-1)
    return torch.stack((-x_odd, x_even), dim=-1).flatten(-2)  # (..., hd)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x (..., N, hd)`` with broadcastable tables ``(..., N, hd)``."""
    cos = cos.to(x.dtype)
    sin = sin.to(x.dtype)
    return x * cos + rotate_pairs(x) * sin


def deinterleave_permutation(head_dim: int, heads: int = 1, device: torch.device | str | None = None) -> torch.Tensor:
    """Indices that reorder ``heads`` consecutive heads of ``head_dim`` dims each to ``[even dims, odd dims]``."""
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head size, got {head_dim}")
    one = torch.cat((torch.arange(0, head_dim, 2, device=device), torch.arange(1, head_dim, 2, device=device)))
    return (one + head_dim * torch.arange(heads, device=device).unsqueeze(1)).flatten()  # (heads * head_dim,)


class FastRope(NamedTuple):
    """``RopeTables.fast``'s tables for ``apply_rope_fast``, for ``N`` tokens of ``G`` groups (q and k heads).

    ``cos (N, G, hd)``: the cosines in de-interleaved order, expanded over the groups (so the multiply runs over
    whole contiguous rows); ``sin_even (N, 1, w)`` (negated) and ``sin_odd (N, 1, w)``: the sines of half-dims
    ``lo .. hi - 1``, the only ones not exactly 0 (at T = 1 the temporal segment is not rotated at all).
    """

    cos: torch.Tensor
    sin_even: torch.Tensor
    sin_odd: torch.Tensor
    lo: int
    hi: int

    def rows(self, index: Any) -> FastRope:
        """The tables of some tokens: ``index`` applies to the leading (token) dim, e.g. a slice."""
        return FastRope(self.cos[index], self.sin_even[index], self.sin_odd[index], self.lo, self.hi)

    def view(self, *shape: int) -> FastRope:
        """The tables with the token dim viewed as ``shape`` (e.g. ``(T, 2 + n)``, to slice per step)."""
        return FastRope(*(t.view(*shape, *t.shape[1:]) for t in self[:3]), self.lo, self.hi)


def apply_rope_fast(x: torch.Tensor, rope: FastRope, rotated_bias: torch.Tensor | None = None) -> torch.Tensor:
    """``apply_rope`` of ``x (..., N, G, hd)`` whose head dims are in ``deinterleave_permutation`` order, plus
    ``rotated_bias`` (``(N, G, hd)``: ``apply_rope_fast`` of a bias, added so the bias can stay out of ``x``).

    With ``x = [e | o]`` per group (``e[i] = u[2i]``, ``o[i] = u[2i+1]``) the result is
    ``[e cos[2i] - o sin[2i] | o cos[2i+1] + e sin[2i+1]]``, i.e. ``apply_rope(u)`` in the same order: one
    multiply over whole rows, then the sine terms on the ``lo .. hi - 1`` half-dims only. Returns a new tensor;
    differentiable (the in-place updates are on that new tensor).
    """
    half = x.shape[-1] // 2
    out = torch.mul(x, rope.cos) if rotated_bias is None else torch.addcmul(rotated_bias, x, rope.cos)
    lo, hi = rope.lo, rope.hi
    if hi > lo:
        out[..., lo:hi].addcmul_(x[..., half + lo : half + hi], rope.sin_even)
        out[..., half + lo : half + hi].addcmul_(x[..., lo:hi], rope.sin_odd)
    return out


class RopeTables:
    """The RoPE tables of one token layout, ``cos``/``sin`` ``(N, hd)`` fp32 (from ``rope_tables``), built once.

    ``full(dtype)`` gives them as ``apply_rope`` takes them and ``fast(dtype, groups)`` as ``apply_rope_fast``
    does; both are converted on first use per (dtype, groups) and then reused (the same tensors every call).
    Everything is made outside inference mode, so it can be saved for backward.
    """

    def __init__(self, cos: torch.Tensor, sin: torch.Tensor) -> None:
        if cos.shape != sin.shape or cos.ndim != 2 or cos.shape[-1] % 2:
            raise ValueError(f"cos {tuple(cos.shape)} and sin {tuple(sin.shape)} must both be (N, even hd)")
        self.cos, self.sin = cos, sin
        self._converted: dict[tuple[Any, ...], Any] = {}

    def full(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos, sin)``, each ``(N, hd)`` in ``dtype``."""
        key = ("full", dtype)
        hit = self._converted.get(key)
        if hit is None:
            with torch.inference_mode(False), torch.no_grad():
                hit = self._converted[key] = (self.cos.to(dtype), self.sin.to(dtype))
        return hit

    def fast(self, dtype: torch.dtype = torch.float32, groups: int = 1) -> FastRope:
        """``FastRope`` tables in ``dtype`` for ``groups`` heads per token."""
        key = ("fast", dtype, groups)
        hit = self._converted.get(key)
        if hit is None:
            with torch.inference_mode(False), torch.no_grad():
                n = self.cos.shape[0]
                cos, sin = (t.to(dtype) for t in (self.cos, self.sin))
                sin_even, sin_odd = sin[:, 0::2], sin[:, 1::2]  # (N, hd/2)
                active = ((sin_even != 0) | (sin_odd != 0)).any(0).nonzero().flatten().tolist()
                lo, hi = (active[0], active[-1] + 1) if active else (0, 0)
                cos = torch.cat((cos[:, 0::2], cos[:, 1::2]), dim=-1)  # (N, hd), de-interleaved
                hit = self._converted[key] = FastRope(
                    cos.unsqueeze(1).expand(n, groups, -1).contiguous(),  # (N, G, hd)
                    (-sin_even[:, lo:hi]).unsqueeze(1).contiguous(),  # (N, 1, w)
                    sin_odd[:, lo:hi].unsqueeze(1).contiguous(),  # (N, 1, w)
                    lo,
                    hi,
                )
        return hit
