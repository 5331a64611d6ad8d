"""Planning energy of V-JEPA 2-AC: L1 distance in feature space after an autoregressive predictor rollout.

``E(a_{1:H}) = mean | LN(P^H(a_{1:H}; z_0, s_0)) - z_goal |`` over the P tokens and D features of the final
imagined frame (docs/conventions.md#energy: the paper's L1 norm, scaled by 1/(P D) as in the repo; same ranking). ``LN`` is the
parameter-free layer norm of docs/conventions.md#layer-norm, applied to every predicted frame before it is fed back.
"""

from __future__ import annotations

import torch
from torch import nn

from vjepa_bench.layout import ACTION_DIM, STATE_DIM
from vjepa_bench.models import inference_autocast, layer_norm_features
from vjepa_bench.planning.state_update import apply_action


def _usable_with_autograd(tensor: torch.Tensor) -> torch.Tensor:
    # Features encoded under torch.inference_mode cannot be saved for backward; a copy made outside it can.
    if tensor.is_inference() and torch.is_grad_enabled() and not torch.is_inference_mode_enabled():
        return tensor.clone()
    return tensor


class LatentRolloutEnergy:
    """Energy of action sequences ``(S, H, 7) -> (S,)`` for one decision (one context frame, one goal).

    Args:
        predictor: AC predictor, ``forward(z (B, T*P, D), actions (B, T, 7), states (B, T, 7)) -> (B, T*P, D)``
            where output block t predicts frame t+1; must have ``tokens_per_frame`` (P). Put it in eval mode.
        context_features: ``(P, D)`` current-frame features, already passed through ``layer_norm_features``.
        context_state: ``(7,)`` current end-effector state (layout.py).
        goal_features: ``(P, D)`` goal-frame features, already normalised.

    The caller encodes the frame and the goal once per decision; every call here only runs the predictor.
    Rollout: keep the imagined frames ``(S, t, P, D)`` and states ``(S, t, 7)``; at step t run the predictor on
    the whole history, layer-norm the last frame's P output tokens and append them; the next imagined state is
    ``apply_action`` (docs/conventions.md#state-update). The predictor runs under bf16 autocast on CUDA; the state update and the
    energy in float32. Differentiable with respect to the actions when called with grad enabled.
    """

    def __init__(
        self,
        predictor: nn.Module,
        context_features: torch.Tensor,
        context_state: torch.Tensor,
        goal_features: torch.Tensor,
    ) -> None:
        tokens = int(predictor.tokens_per_frame)
        if context_features.ndim != 2 or context_features.shape[0] != tokens:
            raise ValueError(f"context_features must be (P={tokens}, D), got {tuple(context_features.shape)}")
        if goal_features.shape != context_features.shape:
            raise ValueError(
                f"goal_features {tuple(goal_features.shape)} must match context_features "
                f"{tuple(context_features.shape)}"
            )
        if context_state.shape != (STATE_DIM,):
            raise ValueError(f"context_state must be ({STATE_DIM},), got {tuple(context_state.shape)}")
        self.predictor = predictor
        self.context = context_features
        self.state = context_state.to(context_features.device, torch.float32)
        self.goal = goal_features.to(context_features.device)
        self.device = context_features.device

    def rollout(self, actions: torch.Tensor) -> torch.Tensor:
        """Imagined normalised frames after each action: ``(S, H, 7) -> (S, H, P, D)``."""
        if actions.ndim != 3 or actions.shape[-1] != ACTION_DIM:
            raise ValueError(f"actions must be (S, H, {ACTION_DIM}), got {tuple(actions.shape)}")
        actions = actions.to(self.device, torch.float32)
        samples, horizon, _ = actions.shape
        context = _usable_with_autograd(self.context)
        tokens, dim = context.shape
        frames = context.expand(samples, 1, tokens, dim)  # (S, 1, P, D)
        states = _usable_with_autograd(self.state).expand(samples, 1, STATE_DIM)  # (S, 1, 7)
        for t in range(horizon):
            with inference_autocast(self.device):
                out = self.predictor(
                    frames.reshape(samples, (t + 1) * tokens, dim),  # (S, (t+1) P, D)
                    actions[:, : t + 1],  # (S, t+1, 7)
                    states,  # (S, t+1, 7)
                )  # (S, (t+1) P, D): block t predicts frame t+1
            predicted = layer_norm_features(out[:, -tokens:].float()).to(frames.dtype)  # (S, P, D)
            frames = torch.cat((frames, predicted[:, None]), 1)  # (S, t+2, P, D)
            if t + 1 < horizon:
                next_state = apply_action(states[:, -1], actions[:, t])  # (S, 7)
                states = torch.cat((states, next_state[:, None]), 1)  # (S, t+2, 7)
        return frames[:, 1:]  # (S, H, P, D)

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        """Energies ``(S,)`` (float32) of action sequences ``(S, H, 7)``."""
        final = self.rollout(actions)[:, -1].float()  # (S, P, D)
        goal = _usable_with_autograd(self.goal).float()  # (P, D)
        return (final - goal).abs().mean((-2, -1))  # (S,)
