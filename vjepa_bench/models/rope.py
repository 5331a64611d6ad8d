"""3D rotary position embedding (RoPE) as used by V-JEPA 2 (docs/conventions.md#rope).

Each attention head of size ``hd`` is split into three segments of ``s = 2 * ((hd // 3) // 2)`` dims,
rotated with the temporal, row and column index in that order; the remaining ``hd - 3 s`` dims pass through.

Within a segment of length ``s`` and position ``p`` the released checkpoints use *tiled* frequencies:
``out[j] = u[j] cos(p w[j mod s/2]) + r[j] sin(p w[j mod s/2])`` with ``r[2i] = -u[2i+1]``,
``r[2i+1] = u[2i]`` and ``w[m] = 10000 ** (-m / (s/2))``.  That is a known upstream bug kept for checkpoint
compatibility; ``tiled=False`` selects the textbook interleaved variant (``[w0, w0, w1, w1, ...]``).

Everything here builds per-token ``cos``/``sin`` tables of the full head size (identity on the unrotated
dims), so applying RoPE is one fused multiply-add on ``q`` and ``k`` with no loop over heads or tokens.
"""

from __future__ import annotations

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
