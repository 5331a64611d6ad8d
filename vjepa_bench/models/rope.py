"""3D rotary position embedding (RoPE) as used by V-JEPA 2 (docs/conventions.md#rope).

Each attention head of size ``hd`` is split into three segments of ``s = 2 * ((hd // 3) // 2)`` dims,
rotated with the temporal, row and column index in that order; the remaining ``hd - 3 s`` dims pass through.

Within a segment of length ``s`` and position ``p`` the released checkpoints use *tiled* frequencies:
``out[j] = u[j] cos(p w[j mod s/2]) + r[j] sin(p w[j mod s/2])`` with ``r[2i] = -u[2i+1]``,
``r[2i+1] = u[2i]`` and ``w[m] = 10000 ** (-m / (s/2))``.  That is a known upstream bug kept for checkpoint
compatibility; ``tiled=False`` selects the textbook interleaved variant (``[w0, w0, w1, w1, ...]``).

Everything here builds per-token ``cos``/``sin`` tables of the full head size (identity on the unrotated
dims), so applying RoPE is one fused multiply-add on ``q`` and ``k`` with no loop over heads or tokens.

Fast path (used by the AC predictor): ``RopeTables`` keeps one token layout's tables, built once, and their copies
per dtype; ``deinterleave_permutation`` reorders each head's dims to ``[0, 2, 4, ..., 1, 3, 5, ...]`` (applied
to the q and k rows of the qkv weight, so attention scores are unchanged: q and k get the same permutation), and
``apply_rope_deinterleaved`` rotates in that order with contiguous halves instead of the pair swap of
``rotate_pairs`` (which costs a strided copy). Same values as ``apply_rope`` up to float rounding.
"""

from __future__ import annotations

from typing import Any

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


def apply_rope_deinterleaved(
    x: torch.Tensor,
    cos_even: torch.Tensor,
    cos_odd: torch.Tensor,
    sin_even: torch.Tensor,
    sin_odd: torch.Tensor,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``apply_rope`` for ``x (..., hd)`` whose head dims are in ``deinterleave_permutation`` order.

    With ``x = [e | o]`` (``e[i] = u[2i]``, ``o[i] = u[2i+1]``) the result is
    ``[e cos[2i] - o sin[2i] | o cos[2i+1] + e sin[2i+1]]``, i.e. ``apply_rope(u)`` in the same order.
    Tables are ``RopeTables.deinterleaved``'s, broadcastable to ``(..., hd/2)``. With ``out`` (no autograd) the
    result is written there (it may be a strided view, e.g. a slice of a larger buffer); otherwise it is new.
    """
    half = x.shape[-1] // 2
    even, odd = x[..., :half], x[..., half:]
    if out is None:
        return torch.cat(
            (torch.addcmul(even * cos_even, odd, sin_even, value=-1), torch.addcmul(odd * cos_odd, even, sin_odd)),
            dim=-1,
        )
    out_even, out_odd = out[..., :half], out[..., half:]
    torch.mul(even, cos_even, out=out_even).addcmul_(odd, sin_even, value=-1)
    torch.mul(odd, cos_odd, out=out_odd).addcmul_(even, sin_odd)
    return out


class RopeTables:
    """The RoPE tables of one token layout, ``cos``/``sin`` ``(N, hd)`` fp32 (from ``rope_tables``), built once.

    ``full(dtype)`` gives them as ``apply_rope`` takes them and ``deinterleaved(dtype)`` the four half tables of
    ``apply_rope_deinterleaved``, each ``(N, hd/2)``; both are converted on first use per dtype and then reused
    (the same tensors every call). Everything is made outside inference mode, so it can be saved for backward.
    """

    def __init__(self, cos: torch.Tensor, sin: torch.Tensor) -> None:
        if cos.shape != sin.shape or cos.ndim != 2 or cos.shape[-1] % 2:
            raise ValueError(f"cos {tuple(cos.shape)} and sin {tuple(sin.shape)} must both be (N, even hd)")
        self.cos, self.sin = cos, sin
        self._converted: dict[tuple[str, torch.dtype], Any] = {}

    def _get(self, kind: str, dtype: torch.dtype) -> Any:
        key = (kind, dtype)
        hit = self._converted.get(key)
        if hit is None:
            with torch.inference_mode(False), torch.no_grad():
                cos, sin = self.cos.to(dtype), self.sin.to(dtype)
                if kind == "full":
                    hit = (cos, sin)
                else:
                    hit = tuple(t.contiguous() for t in (cos[:, 0::2], cos[:, 1::2], sin[:, 0::2], sin[:, 1::2]))
            self._converted[key] = hit
        return hit

    def full(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos, sin)``, each ``(N, hd)`` in ``dtype``."""
        return self._get("full", dtype)

    def deinterleaved(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
        """``(cos_even, cos_odd, sin_even, sin_odd)``, each ``(N, hd/2)`` in ``dtype``."""
        return self._get("deinterleaved", dtype)
