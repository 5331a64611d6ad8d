"""V-JEPA 2 ViT video encoder (docs/conventions.md#encoder): Conv3d tubelet embedding, pre-norm blocks with 3D RoPE, final LayerNorm."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .blocks import Block, init_transformer_weights
from .presets import EncoderConfig, encoder_config
from .rope import grid_positions, rope_tables


class PatchEmbed3D(nn.Module):
    """Tubelet embedding ``Conv3d(in_chans -> D, kernel = stride = (tubelet, patch, patch))``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, tubelet_size: int) -> None:
        super().__init__()
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, T, H, W) -> (B, D, T/t, H/p, W/p) -> (B, N, D), token index = t*(H/p)*(W/p) + row*(W/p) + col
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """Video ViT: ``(B, 3, T, H, W) -> (B, N, D)`` with ``N = T/tubelet * H/patch * W/patch``."""

    def __init__(self, config: EncoderConfig, init_weights: bool = True) -> None:
        super().__init__()
        self.config = config
        c = config
        self.patch_embed = PatchEmbed3D(c.in_chans, c.embed_dim, c.patch_size, c.tubelet_size)
        self.blocks = nn.ModuleList(
            [Block(c.embed_dim, c.num_heads, c.mlp_hidden_dim, c.qkv_bias, c.norm_eps) for _ in range(c.depth)]
        )
        self.norm = nn.LayerNorm(c.embed_dim, eps=c.norm_eps)
        self._rope_cache: dict[tuple[Any, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        if init_weights:
            init_transformer_weights(self, self.blocks)

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def token_grid(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        """(tubelets, rows, cols) of an input; raises ``ValueError`` on sizes that do not tile."""
        c = self.config
        if frames % c.tubelet_size or height % c.patch_size or width % c.patch_size:
            raise ValueError(
                f"input T={frames}, H={height}, W={width} must be divisible by tubelet {c.tubelet_size} "
                f"and patch {c.patch_size}"
            )
        return frames // c.tubelet_size, height // c.patch_size, width // c.patch_size

    def rope_for_grid(self, frames: int, rows: int, cols: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Cached (cos, sin) tables ``(N, head_dim)`` for a token grid."""
        key = (frames, rows, cols, str(device))
        tables = self._rope_cache.get(key)
        if tables is None:
            with torch.inference_mode(False), torch.no_grad():
                t, r, col = grid_positions(frames, rows, cols, device=device)
                tables = rope_tables((t, r, col), self.config.head_dim, tiled=self.config.tiled_rope)
            if len(self._rope_cache) > 16:
                self._rope_cache.clear()
            self._rope_cache[key] = tables
        return tables

    def forward(
        self, x: torch.Tensor, out_layers: Sequence[int] | None = None
    ) -> torch.Tensor | list[torch.Tensor]:
        """Encode a video ``(B, C, T, H, W)`` to tokens ``(B, N, D)``.

        With ``out_layers`` (or ``config.out_layers``), return a list with the final LayerNorm applied to the
        output of each listed block (0-based), as the multi-layer probes use.
        """
        layers = out_layers if out_layers is not None else self.config.out_layers
        return self._run(x, layers)

    def _run(self, x: torch.Tensor, layers: Sequence[int] | None) -> torch.Tensor | list[torch.Tensor]:
        if x.ndim != 5:
            raise ValueError(f"expected video (B, C, T, H, W), got shape {tuple(x.shape)}; use encode_image for images")
        frames, rows, cols = self.token_grid(x.shape[2], x.shape[3], x.shape[4])
        rope = self.rope_for_grid(frames, rows, cols, x.device)
        h = self.patch_embed(x)  # (B, N, D)
        if layers is None:
            for blk in self.blocks:
                h = blk(h, rope=rope)
            return self.norm(h)
        wanted = sorted({i % len(self.blocks) for i in layers})
        outs: dict[int, torch.Tensor] = {}
        for i, blk in enumerate(self.blocks[: wanted[-1] + 1] if wanted else []):
            h = blk(h, rope=rope)
            if i in wanted:
                outs[i] = self.norm(h)
        return [outs[i % len(self.blocks)] for i in layers]

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Encode images ``(B, C, H, W)`` as one duplicated tubelet each -> ``(B, (H/p)*(W/p), D)`` (docs/conventions.md#encoder)."""
        if images.ndim != 4:
            raise ValueError(f"expected images (B, C, H, W), got shape {tuple(images.shape)}")
        clip = images.unsqueeze(2).expand(-1, -1, self.config.tubelet_size, -1, -1)  # (B, C, tubelet, H, W)
        out = self._run(clip, None)
        assert isinstance(out, torch.Tensor)
        return out


def build_encoder(name: str = "vit_large", **overrides: Any) -> VisionTransformer:
    """Build an encoder from a preset (``vit_tiny``, ``vit_small``, ``vit_large``, ``vit_huge``, ``vit_giant``
    = the 22-head ``vit_giant_xformers``, ``vit_giant_384``) with optional config overrides.

    Build it under ``with torch.device("meta"):`` for free shape checks."""
    return VisionTransformer(encoder_config(name, **overrides))
