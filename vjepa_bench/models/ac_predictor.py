"""V-JEPA 2-AC action-conditioned predictor (docs/conventions.md#ac-predictor).

Per time step the sequence is ``[action_t, state_t, patch tokens of frame t]``; attention is block-causal
over time steps (a step sees itself and all earlier steps).  Patch tokens get full 3D RoPE (t, row, col);
action and state tokens are rotated on the temporal segment only.

Two implementations of the same function: ``forward_reference`` (op for op as the official model) and
``forward_fast`` (the default, ``ACPredictor.fast``): equal up to float rounding (max abs difference about
1e-6 in fp32; the golden tests run the default). ``vjepa-bench bench planner`` times them side by side.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .blocks import Block, init_transformer_weights, linear
from .presets import ACPredictorConfig, ac_predictor_config
from .rope import RopeTables, rope_tables

NUM_COND_TOKENS = 2  # action and state token per step
# The fast path on a CPU, without autograd, runs a large batch in chunks of about this many tokens, whose
# activations stay in the caches (docs/conventions.md#ac-predictor: 1.4x faster at the paper's 800 samples, 1.05x
# at 100). Under autograd every chunk's activations are kept for the backward anyway.
CPU_CHUNK_TOKENS = 2560


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
        self.fast = True  # forward runs forward_fast; False: forward_reference
        if init_weights:
            init_transformer_weights(self, self.predictor_blocks)

    @property
    def tokens_per_frame(self) -> int:
        """Patch tokens per frame, from ``img_size / patch_size`` (256 for the released model)."""
        return self.config.tokens_per_frame

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def _step_tables(self, steps: int, device: torch.device) -> tuple[RopeTables, torch.Tensor | None]:
        """RoPE tables of the ``T*(2+n)`` tokens in sequence order and the block-causal mask, built once per
        (T, device) and reused (the same objects) until the cache holds more than 16 entries."""
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
        self._cache[key] = hit = (RopeTables(cos, sin), mask)
        return hit

    def _check(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> int:
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
        return steps

    def forward(
        self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, fast: bool | None = None
    ) -> torch.Tensor:
        """``fast`` (default ``self.fast``, True) runs ``forward_fast``, else ``forward_reference``: the same
        values up to float rounding (a max abs difference of about 1e-6 in fp32). Tensors on the ``meta`` device
        (shape checks without memory) take the reference path: the fast RoPE tables depend on the values."""
        if (self.fast if fast is None else fast) and z.device.type != "meta":
            return self.forward_fast(z, actions, states)
        return self.forward_reference(z, actions, states)

    def forward_reference(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """The plain implementation, op for op as the official model (kept to check and time the fast one)."""
        steps = self._check(z, actions, states)
        b, n = z.shape[0], self.tokens_per_frame
        tables, mask = self._step_tables(steps, z.device)
        rope = tables.full(torch.float32)  # apply_rope casts to the activations' dtype itself
        x = self.predictor_embed(z).view(b, steps, n, -1)  # (B, T, n, P)
        a = self.action_encoder(actions).unsqueeze(2)  # (B, T, 1, P)
        s = self.state_encoder(states).unsqueeze(2)  # (B, T, 1, P)
        x = torch.cat([a, s, x], dim=2).flatten(1, 2)  # (B, T*(2+n), P), per step [action, state, patches]
        for blk in self.predictor_blocks:
            x = blk(x, rope=rope, attn_mask=mask)
        x = x.view(b, steps, n + NUM_COND_TOKENS, -1)[:, :, NUM_COND_TOKENS:].flatten(1, 2)  # (B, T*n, P)
        return self.predictor_proj(self.predictor_norm(x))

    def forward_fast(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """``forward_reference`` with cached per-dtype RoPE tables, a RoPE without the pair-swap copy
        (``SelfAttention.forward_fast``), oneDNN matmuls on the CPU (``blocks.linear``) and, when ``z`` is one
        context shared by the batch (an ``expand``ed tensor, batch stride 0, as ``LatentRolloutEnergy`` passes
        it), the context embedded once: the patch tokens' ``predictor_embed`` and, in the first block (where they
        are still identical across the batch), their ``norm1``, ``qkv`` and RoPE run at batch 1 and are broadcast;
        at one step without autograd their attention too (``shared_context_attention``). On a CPU without autograd a
        batch of more than ``CPU_CHUNK_TOKENS`` tokens runs in balanced chunks of samples (each sample's output is
        its own)."""
        steps = self._check(z, actions, states)
        b = z.shape[0]
        chunks = math.ceil(b * steps * (self.tokens_per_frame + NUM_COND_TOKENS) / CPU_CHUNK_TOKENS)
        if z.device.type != "cpu" or torch.is_grad_enabled() or chunks < 2:
            return self._forward_fast(z, actions, states, steps)
        size = math.ceil(b / chunks)
        return torch.cat(
            [self._forward_fast(z[i : i + size], actions[i : i + size], states[i : i + size], steps)
             for i in range(0, b, size)]
        )

    def _forward_fast(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, steps: int) -> torch.Tensor:
        """``forward_fast`` of one chunk."""
        b, n = z.shape[0], self.tokens_per_frame
        tables, mask = self._step_tables(steps, z.device)
        shared = b > 1 and z.stride(0) == 0
        patches = self.predictor_embed(z[:1] if shared else z).view(-1, steps, n, self.config.predictor_embed_dim)
        cond = torch.stack((self.action_encoder(actions), self.state_encoder(states)), dim=2)  # (B, T, 2, P)
        x = torch.cat((cond, patches.expand(b, -1, -1, -1)), dim=2).flatten(1, 2)  # (B, T*(2+n), P)
        blocks = list(self.predictor_blocks)
        if shared and blocks:
            x = self._first_block_shared(blocks.pop(0), x, cond, patches, tables, mask)
        for blk in blocks:
            x = blk.forward_fast(x, rope=tables, attn_mask=mask)
        x = x.view(b, steps, n + NUM_COND_TOKENS, -1)[:, :, NUM_COND_TOKENS:].flatten(1, 2)  # (B, T*n, P)
        return linear(
            self.predictor_norm(x), self.predictor_proj.weight, self.predictor_proj.bias, owner=self.predictor_proj
        )

    @staticmethod
    def _first_block_shared(
        blk: Block,
        x: torch.Tensor,
        cond: torch.Tensor,
        patches: torch.Tensor,
        tables: RopeTables,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """``blk.forward_fast(x)`` for ``x (B, T*(2+n), P)`` = per step ``[cond (B, T, 2, P), patches (1, T, n, P)]``:
        the patch tokens' ``norm1``, ``qkv`` and RoPE at batch 1, broadcast into the attention's inputs (at one
        step in inference, merged into each sample's attention without the broadcast copies)."""
        b, steps = cond.shape[:2]
        n = patches.shape[2]
        attn = blk.attn
        heads, hd = attn.num_heads, attn.head_dim
        rope = tables.fast(cond.dtype, 2 * heads).view(steps, NUM_COND_TOKENS + n)  # (T, 2+n, 2H, hd), ...
        qk_c, v_c = attn.qkv_fast(blk.norm1(cond), rope.rows((slice(None), slice(None, NUM_COND_TOKENS))))
        qk_p, v_p = attn.qkv_fast(blk.norm1(patches), rope.rows((slice(None), slice(NUM_COND_TOKENS, None))))
        if steps == 1 and blk.in_place_ok(x):
            qk_c, qk_p = qk_c[:, 0].unflatten(2, (2, heads)), qk_p[0, 0].unflatten(1, (2, heads))
            out = shared_context_attention(qk_c[:, :, 0], qk_c[:, :, 1], v_c[:, 0], qk_p[:, 0], qk_p[:, 1], v_p[0, 0])
            attn.project(out, residual=x)
            return blk.add_mlp(x)
        tokens = steps * (NUM_COND_TOKENS + n)
        qk = torch.cat((qk_c, qk_p.expand(b, -1, -1, -1, -1)), dim=2).view(b, tokens, 2, heads, hd)
        v = torch.cat((v_c, v_p.expand(b, -1, -1, -1, -1)), dim=2).view(b, tokens, heads, hd)
        if blk.in_place_ok(x):
            attn.attend(qk[:, :, 0], qk[:, :, 1], v, mask, residual=x)
        else:
            x = x + attn.attend(qk[:, :, 0], qk[:, :, 1], v, mask)
        return blk.add_mlp(x)


def shared_context_attention(
    q_c: torch.Tensor,
    k_c: torch.Tensor,
    v_c: torch.Tensor,
    q_p: torch.Tensor,
    k_p: torch.Tensor,
    v_p: torch.Tensor,
) -> torch.Tensor:
    """Attention of one time step, ``[c conditioning tokens (B, c, H, hd) per sample, n patch tokens (n, H, hd)
    shared by the batch]``, every token over all ``c + n`` (no mask) -> token-major ``(B, c + n, H, hd)``.

    The batch's copies of the patches are never made: the patch queries' scores against the patch keys, their
    softmax normaliser and weighted values are computed once, then merged with each sample's ``c`` keys by the
    log-sum-exp rule (``docs/conventions.md#ac-predictor``). Inference only (in-place updates).
    """
    b, c = q_c.shape[:2]
    n = q_p.shape[0]
    scale = q_p.shape[-1] ** -0.5
    # patch queries x patch keys, once
    scores = torch.einsum("ihd,jhd->ihj", q_p, k_p).mul_(scale)  # (n, H, n)
    top = scores.amax(-1)  # (n, H)
    weights = scores.sub_(top.unsqueeze(-1)).exp_()  # (n, H, n)
    total = weights.sum(-1)  # (n, H)
    weighted = torch.einsum("ihj,jhd->ihd", weights, v_p)  # (n, H, hd)
    # patch queries x each sample's conditioning keys, merged in
    cond_scores = torch.einsum("ihd,bkhd->bihk", q_p, k_c).mul_(scale)  # (B, n, H, c)
    new_top = torch.maximum(cond_scores.amax(-1), top)  # (B, n, H)
    rescale = (top - new_top).exp_()  # (B, n, H): exp(old max - new max)
    cond_weights = cond_scores.sub_(new_top.unsqueeze(-1)).exp_()  # (B, n, H, c)
    denominator = torch.addcmul(cond_weights.sum(-1), rescale, total)  # (B, n, H)
    out = q_c.new_empty(b, c + n, *q_p.shape[1:])
    patches = out[:, c:]
    torch.mul(rescale.unsqueeze(-1), weighted, out=patches)
    for k in range(c):
        patches.addcmul_(cond_weights[..., k : k + 1], v_c[:, k : k + 1])
    patches.div_(denominator.unsqueeze(-1))
    # the conditioning queries over all keys (c per sample: small)
    scores_c = torch.cat((torch.einsum("bkhd,blhd->bkhl", q_c, k_c), torch.einsum("bkhd,jhd->bkhj", q_c, k_p)), -1)
    probs = scores_c.mul_(scale).softmax(-1)  # (B, c, H, c + n)
    out[:, :c] = torch.einsum("bkhl,blhd->bkhd", probs[..., :c], v_c) + torch.einsum(
        "bkhj,jhd->bkhd", probs[..., c:], v_p
    )
    return out


def build_ac_predictor(name: str = "vjepa2_ac_vitg", **overrides: Any) -> ACPredictor:
    """Build an AC predictor from a preset (``vjepa2_ac_vitg``, ``ac_tiny``, ``ac_small``) with overrides,
    e.g. ``build_ac_predictor("ac_tiny", embed_dim=encoder.embed_dim)``."""
    return ACPredictor(ac_predictor_config(name, **overrides))
