"""V-JEPA 2-AC training losses (docs/conventions.md#training, normalisation docs/conventions.md#layer-norm).

Shapes: ``features`` (B, T*P, D) are frozen-encoder features of T frames (frame-major, P tokens each);
``actions`` (B, T-1, 7) with action t moving frame t to frame t+1; ``states`` (B, T, 7).
Targets, every predictor output used in a loss and every predicted frame fed back are passed through the
parameter-free layer norm (eps 1e-5). Both losses are the mean absolute error over all elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vjepa_bench.models import layer_norm_features


@dataclass
class ACLosses:
    teacher_forcing: torch.Tensor
    rollout: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        """Unweighted sum, as upstream."""
        return self.teacher_forcing + self.rollout


def ac_losses(
    predictor: nn.Module,
    features: torch.Tensor,
    actions: torch.Tensor,
    states: torch.Tensor,
    tokens_per_frame: int,
    rollout_steps: int = 2,
    targets: torch.Tensor | None = None,
) -> ACLosses:
    """Teacher-forcing L1 over all T-1 transitions plus the ``rollout_steps``-step autoregressive L1.

    Teacher forcing: predict frames 1..T-1 from true frames 0..T-2 with actions 0..T-2 and states 0..T-2.
    Rollout: start from [true frame 0, teacher-forced frame 1]; for n = 1 .. rollout_steps-1 run the predictor
    on the frames so far with actions 0..n and ground-truth states 0..n and append its last frame; compare the
    predicted frames 1..rollout_steps with the true ones. Gradients flow through the fed-back predictions.
    ``targets`` (same shape as ``features``), when given, are what the predictions are scored against while
    ``features`` feed the predictor: the fine-tuned encoder passes its own features with gradients stopped.
    """
    P = tokens_per_frame
    B, N, D = features.shape
    T = N // P
    if N != T * P:
        raise ValueError(f"features have {N} tokens, not a multiple of tokens_per_frame={P}")
    if T < 2:
        raise ValueError(f"need at least 2 frames per clip, got {T}")
    if actions.shape[:2] != (B, T - 1) or states.shape[:2] != (B, T):
        raise ValueError(
            f"expected actions (B={B}, {T - 1}, 7) and states ({B}, {T}, 7); got {tuple(actions.shape)} "
            f"and {tuple(states.shape)}"
        )
    if not 1 <= rollout_steps <= T - 1:
        raise ValueError(f"rollout_steps must be in [1, T-1={T - 1}], got {rollout_steps}")
    context = layer_norm_features(features.float())  # (B, T*P, D)
    target = context if targets is None else layer_norm_features(targets.float())

    # teacher forcing: (B, (T-1)*P, D) -> predictions of frames 1..T-1
    pred_tf = layer_norm_features(predictor(context[:, : (T - 1) * P], actions, states[:, : T - 1]).float())
    loss_tf = (pred_tf - target[:, P:]).abs().mean()

    # rollout: history [frame 0 (true), frame 1 (predicted)], each step appends the last predicted frame
    history = torch.cat([context[:, :P], pred_tf[:, :P]], dim=1)  # (B, 2P, D)
    for n in range(1, rollout_steps):
        out = predictor(history, actions[:, : n + 1], states[:, : n + 1])  # (B, (n+1)P, D)
        history = torch.cat([history, layer_norm_features(out[:, -P:].float())], dim=1)
    pred_ar = history[:, P:]  # (B, rollout_steps*P, D): frames 1..rollout_steps
    loss_ar = (pred_ar - target[:, P : (rollout_steps + 1) * P]).abs().mean()
    return ACLosses(loss_tf, loss_ar)
