"""Small-scale V-JEPA pretraining (paper §2; docs/conventions.md#mask-predictor): mask denoising in feature space.

A context encoder sees the visible tokens of a clip; the mask-denoising predictor predicts, at the masked
positions, the features that an EMA copy of the encoder (the target encoder, no gradient) gives for the
full clip, after the parameter-free layer norm. Loss: mean absolute error. Masks are V-JEPA's multi-block
tube masks: a union of random rectangles of the spatial grid, repeated over every tubelet.
The output ``checkpoint.pt`` holds the target encoder (what downstream code uses, as upstream evals read
``target_encoder``) and the predictor, in our format; ``train_state.pt`` resumes a killed run (the loop, resume and
data-order rules are :mod:`vjepa_bench.training.loop`'s).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vjepa_bench.data.clips import ClipDataset
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.errors import UsageError
from vjepa_bench.models import layer_norm_features
from vjepa_bench.models.encoder import build_encoder
from vjepa_bench.models.predictor import build_predictor
from vjepa_bench.models.rope import positions_from_ids, rope_tables
from vjepa_bench.training import checkpoints
from vjepa_bench.training.config import MaskConfig, PretrainConfig
from vjepa_bench.training.data import SubsetSource, check_finite_store, split_indices
from vjepa_bench.training.loop import TrainLoop, run_locked

MASK_INDEX = 1
"""Mask token used for the targets (upstream's default ``mask_index``)."""


def sample_masks(
    batch: int, tubelets: int, rows: int, cols: int, cfg: MaskConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Context and target token ids, ``(B, N_ctx)`` and ``(B, N_tgt)``, sorted, with equal counts across the
    batch (each sample's sets are randomly thinned to the batch minimum, as upstream's collator does)."""
    per_frame = rows * cols
    ctx_sets, tgt_sets = [], []
    for _ in range(batch):
        while True:
            spatial = np.zeros((rows, cols), bool)
            for _ in range(cfg.blocks):
                area = rng.uniform(*cfg.scale) * per_frame
                aspect = math.exp(rng.uniform(math.log(cfg.aspect[0]), math.log(cfg.aspect[1])))
                h = int(min(rows, max(1, round(math.sqrt(area * aspect)))))
                w = int(min(cols, max(1, round(math.sqrt(area / aspect)))))
                top, left = rng.integers(0, rows - h + 1), rng.integers(0, cols - w + 1)
                spatial[top : top + h, left : left + w] = True
            if 0 < spatial.sum() < per_frame:
                break
        flat = np.flatnonzero(spatial.reshape(-1))  # masked spatial ids
        keep = np.flatnonzero(~spatial.reshape(-1))
        offsets = np.arange(tubelets)[:, None] * per_frame
        tgt_sets.append((offsets + flat[None]).reshape(-1))
        ctx_sets.append((offsets + keep[None]).reshape(-1))
    n_tgt = min(len(s) for s in tgt_sets)
    n_ctx = min(len(s) for s in ctx_sets)
    thin = lambda s, n: np.sort(rng.choice(s, n, replace=False)) if len(s) > n else s  # noqa: E731
    ctx = torch.from_numpy(np.stack([thin(s, n_ctx) for s in ctx_sets])).long()
    tgt = torch.from_numpy(np.stack([thin(s, n_tgt) for s in tgt_sets])).long()
    return ctx, tgt


def encode_visible(encoder: nn.Module, video: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Run ``encoder`` on the tokens ``ids (B, N_ctx)`` of ``video (B, 3, T, H, W)`` only -> ``(B, N_ctx, D)``,
    with RoPE positions of the kept tokens (the masked context encoder of V-JEPA)."""
    _, rows, cols = encoder.token_grid(video.shape[2], video.shape[3], video.shape[4])
    h = encoder.patch_embed(video)  # (B, N, D)
    h = torch.gather(h, 1, ids.unsqueeze(-1).expand(-1, -1, h.shape[-1]))  # (B, N_ctx, D)
    cos, sin = rope_tables(positions_from_ids(ids, rows, cols), encoder.config.head_dim, encoder.config.tiled_rope)
    rope = (cos.unsqueeze(1), sin.unsqueeze(1))  # (B, 1, N_ctx, hd): broadcast over heads
    for blk in encoder.blocks:
        h = blk(h, rope=rope)
    return encoder.norm(h)


class JEPA(nn.Module):
    """Context encoder + predictor: ``(video, ctx_ids, tgt_ids) -> predicted target features (B, N_tgt, D)``."""

    def __init__(self, encoder: nn.Module, predictor: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor

    def forward(self, video: torch.Tensor, ctx_ids: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        return self.predictor(encode_visible(self.encoder, video, ctx_ids), ctx_ids, tgt_ids, mask_index=MASK_INDEX)


def jepa_loss(
    jepa: nn.Module, target_encoder: nn.Module, video: torch.Tensor, ctx_ids: torch.Tensor, tgt_ids: torch.Tensor
) -> torch.Tensor:
    """L1 between predictions and layer-normed target-encoder features at the masked positions."""
    with torch.no_grad():
        h = layer_norm_features(target_encoder(video).float())  # (B, N, D)
        h = torch.gather(h, 1, tgt_ids.unsqueeze(-1).expand(-1, -1, h.shape[-1]))  # (B, N_tgt, D)
    pred = jepa(video, ctx_ids, tgt_ids).float()
    return (pred - h).abs().mean()


def build_networks(cfg: PretrainConfig) -> tuple[nn.Module, nn.Module]:
    """The encoder and the mask-denoising predictor of ``cfg``, sized to each other and to the clips; the predictor's
    unused mask tokens are frozen."""
    try:
        encoder = build_encoder(cfg.encoder, **{"img_size": cfg.data.image_size, **cfg.encoder_overrides})
        c = encoder.config
        predictor = build_predictor(
            cfg.predictor,
            **{"embed_dim": c.embed_dim, "img_size": cfg.data.image_size, "patch_size": c.patch_size,
               **cfg.predictor_overrides},
        )  # fmt: skip
    except (KeyError, TypeError) as err:
        raise UsageError(f"encoder / predictor preset or overrides: {err}") from err
    if cfg.data.image_size % c.patch_size or cfg.data.frames_per_clip % c.tubelet_size:
        raise UsageError(
            f"data.image_size={cfg.data.image_size} must be a multiple of the patch size {c.patch_size} and "
            f"data.frames_per_clip={cfg.data.frames_per_clip} of the tubelet size {c.tubelet_size}"
        )
    # only mask token MASK_INDEX is used here: freeze the others so DDP does not wait for their gradients
    for i, token in enumerate(predictor.mask_tokens):
        token.requires_grad_(i == MASK_INDEX % len(predictor.mask_tokens))
    return encoder, predictor


class Pretrainer(TrainLoop[PretrainConfig]):
    """One ``pretrain`` run; :meth:`run` trains to the end of the schedule and returns ``checkpoint.pt``."""

    name = "pretrain"
    weights_name = "model's weights"

    def _build_model(self) -> nn.Module:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        encoder, predictor = build_networks(cfg)
        self.jepa = JEPA(encoder, predictor).to(self.device)
        self.target = copy.deepcopy(encoder).to(self.device).requires_grad_(False)
        self.grid = encoder.token_grid(cfg.data.frames_per_clip, cfg.data.image_size, cfg.data.image_size)
        return self.jepa

    def _build_data(self) -> Any:
        d = self.cfg.data
        try:
            reader = TrajectoryReader(d.stores)
        except FileNotFoundError as err:
            raise UsageError(f"data.stores: {err}") from err
        check_finite_store(reader)
        train_idx, _ = split_indices(len(reader), d.val_fraction, d.split_seed)
        return ClipDataset(SubsetSource(reader, train_idx), d.frames_per_clip, d.image_size, actions=d.actions,
                           seed=self.cfg.seed)  # fmt: skip

    def _step_losses(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        video = batch["images"].to(self.device).permute(0, 2, 1, 3, 4)  # (B, T, 3, S, S) -> (B, 3, T, S, S)
        rng = np.random.default_rng([self.cfg.seed, step, self.info.rank])
        masks = sample_masks(len(video), *self.grid, self.cfg.mask, rng)
        ctx_ids, tgt_ids = (ids.to(self.device) for ids in masks)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            return {"loss": jepa_loss(self.model, self.target, video, ctx_ids, tgt_ids)}

    def momentum(self, step: int) -> float:
        lo, hi = self.cfg.ema
        return lo + (hi - lo) * min(1.0, step / max(1, self.schedule.total_steps))

    def _after_step(self, step: int) -> dict[str, float]:
        """The EMA update of the target encoder."""
        m = self.momentum(step)
        self._ema_update(m)
        return {"ema": m}

    @torch.no_grad()
    def _ema_update(self, m: float) -> None:
        for t, s in zip(self.target.parameters(), self.jepa.encoder.parameters()):
            t.mul_(m).add_(s.detach(), alpha=1.0 - m)

    def _model_configs(self) -> dict[str, Any]:
        return {"encoder": self.jepa.encoder.config.to_dict(), "predictor": self.jepa.predictor.config.to_dict()}

    def _model_state(self) -> dict[str, Any]:
        return {"jepa": self.jepa.state_dict(), "target_encoder": self.target.state_dict(),
                "model_configs": self._model_configs()}

    def _load_model_state(self, state: dict[str, Any], path: Path) -> None:
        saved = state.get("model_configs") or {}
        if not (self.jepa.encoder.config.matches(saved.get("encoder", {}))
                and self.jepa.predictor.config.matches(saved.get("predictor", {}))):
            raise UsageError(f"{path} was trained with another encoder or predictor config (encoder, "
                             "predictor or their overrides); keep the saved settings, use a new output_dir or "
                             "resume=false")
        self.jepa.load_state_dict(state["jepa"])
        self.target.load_state_dict(state["target_encoder"])

    def _save_checkpoint(self, step: int, last: dict[str, float]) -> None:
        meta = {"kind": "vjepa_pretrain", "produced_by": "vjepa-bench pretrain", "step": step,
                "loss": last.get("loss", math.nan), "image_size": self.cfg.data.image_size,
                "train_config": dataclasses.asdict(self.cfg)}  # fmt: skip
        checkpoints.save_pretrained(self.out / "checkpoint.pt", self.target, self.jepa.predictor, meta)

    def _summary(self, last: dict[str, float]) -> dict[str, Any]:
        return {"loss": last.get("loss", math.nan)}


def pretrain(cfg: PretrainConfig) -> Path:
    """Pretrain (or resume) and return the checkpoint path."""
    return run_locked(Pretrainer, cfg, f"vjepa-bench pretrain into {cfg.output_dir}")
