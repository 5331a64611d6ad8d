"""V-JEPA 2-AC action-conditioned predictor (docs/conventions.md#ac-predictor).

Per time step the sequence is ``[action_t, state_t, patch tokens of frame t]``; attention is block-causal
over time steps (a step sees itself and all earlier steps).  Patch tokens get full 3D RoPE (t, row, col);
action and state tokens are rotated on the temporal segment only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .blocks import Block, init_transformer_weights
from .presets import ACPredictorConfig, ac_predictor_config
from .rope import rope_tables

NUM_COND_TOKENS = 2  # action and state token per step


def block_causal_mask(steps: int, tokens_per_step: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(N, N)`` mask, ``N = steps * tokens_per_step``; True where the query's step >= the key's step."""
    step = torch.arange(steps * tokens_per_step, device=device) // tokens_per_step  # (N,)
    return step.unsqueeze(1) >= step.unsqueeze(0)  # (N, N)


class ACPredictor(nn.Module):
    """``(z (B, T*tokens_per_frame, D), actions (B, T, 7), states (B, T, 7)) -> (B, T*tokens_per_frame, D)``.

    Output block ``t`` predicts the encoder features of frame ``t + 1``.
    """

    def __init__(self, config: ACPredictorConfig, init_weights: bool = True) -> None:
        super().__init__()
        self.config = c = config
        p = c.predictor_embed_dim
        self.predictor_embed = nn.Linear(c.embed_dim, p)
        self.action_encoder = nn.Linear(c.action_dim, p)
        self.state_encoder = nn.Linear(c.state_dim, p)
        # present in the released weights although unused (use_extrinsics=False upstream)
        self.extrinsics_encoder = nn.Linear(c.extrinsics_dim, p)
        self.predictor_blocks = nn.ModuleList(
            [Block(p, c.num_heads, c.mlp_hidden_dim, c.qkv_bias, c.norm_eps) for _ in range(c.depth)]
        )
        self.predictor_norm = nn.LayerNorm(p, eps=c.norm_eps)
        self.predictor_proj = nn.Linear(p, c.embed_dim)
        self._cache: dict[tuple[Any, ...], Any] = {}
        if init_weights:
            init_transformer_weights(self, self.predictor_blocks)

    @property
    def tokens_per_frame(self) -> int:
        """Patch tokens per frame, from ``img_size / patch_size`` (256 for the released model)."""
        return self.config.tokens_per_frame

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def _step_tables(self, steps: int, device: torch.device) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor | None]:
        """RoPE (cos, sin) ``(T*(2+n), hd)`` in sequence order and the block-causal mask, cached per (T, device)."""
        key = (steps, str(device))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        c = self.config
        rows, cols = c.grid
        n = rows * cols
        with torch.inference_mode(False), torch.no_grad():
            t = torch.arange(steps, device=device).unsqueeze(1).expand(steps, n)  # (T, n)
            ids = torch.arange(n, device=device)
            r = (ids // cols).unsqueeze(0).expand(steps, n)  # (T, n)
            col = (ids % cols).unsqueeze(0).expand(steps, n)  # (T, n)
            cos_p, sin_p = rope_tables((t, r, col), c.head_dim, c.tiled_rope)  # (T, n, hd)
            t_cond = torch.arange(steps, device=device).unsqueeze(1).expand(steps, NUM_COND_TOKENS)  # (T, 2)
            cos_c, sin_c = rope_tables((t_cond, None, None), c.head_dim, c.tiled_rope)  # (T, 2, hd)
            cos = torch.cat([cos_c, cos_p], dim=1).flatten(0, 1)  # (T*(2+n), hd)
            sin = torch.cat([sin_c, sin_p], dim=1).flatten(0, 1)
            # One step attends to itself only: no mask, so SDPA may use its fused (flash) kernels.
            mask = block_causal_mask(steps, n + NUM_COND_TOKENS, device) if c.frame_causal and steps > 1 else None
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[key] = ((cos, sin), mask)
        return (cos, sin), mask

    def forward(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        b, n_tokens, d = z.shape
        n = self.tokens_per_frame
        if d != self.config.embed_dim:
            raise ValueError(f"z has width {d}, this predictor expects {self.config.embed_dim}")
        if n_tokens % n:
            raise ValueError(f"z has {n_tokens} tokens, not a multiple of tokens_per_frame={n}")
        steps = n_tokens // n
        if actions.shape[:2] != (b, steps) or states.shape[:2] != (b, steps):
            raise ValueError(
                f"actions {tuple(actions.shape)} and states {tuple(states.shape)} must be (B={b}, T={steps}, 7)"
            )
        rope, mask = self._step_tables(steps, z.device)
        x = self.predictor_embed(z).view(b, steps, n, -1)  # (B, T, n, P)
        a = self.action_encoder(actions).unsqueeze(2)  # (B, T, 1, P)
        s = self.state_encoder(states).unsqueeze(2)  # (B, T, 1, P)
        x = torch.cat([a, s, x], dim=2).flatten(1, 2)  # (B, T*(2+n), P), per step [action, state, patches]
        for blk in self.predictor_blocks:
            x = blk(x, rope=rope, attn_mask=mask)
        x = x.view(b, steps, n + NUM_COND_TOKENS, -1)[:, :, NUM_COND_TOKENS:].flatten(1, 2)  # (B, T*n, P)
        return self.predictor_proj(self.predictor_norm(x))


def build_ac_predictor(name: str = "vjepa2_ac_vitg", **overrides: Any) -> ACPredictor:
    """Build an AC predictor from a preset (``vjepa2_ac_vitg``, ``ac_tiny``, ``ac_small``) with overrides,
    e.g. ``build_ac_predictor("ac_tiny", embed_dim=encoder.embed_dim)``."""
    return ACPredictor(ac_predictor_config(name, **overrides))
