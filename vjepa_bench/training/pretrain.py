"""Small-scale V-JEPA pretraining (paper §2; docs/conventions.md#mask-predictor): mask denoising in feature space.

A context encoder sees the visible tokens of a clip; the mask-denoising predictor predicts, at the masked
positions, the features that an EMA copy of the encoder (the target encoder, no gradient) gives for the
full clip, after the parameter-free layer norm. Loss: mean absolute error. Masks are V-JEPA's multi-block
tube masks: a union of random rectangles of the spatial grid, repeated over every tubelet.
The output ``checkpoint.pt`` holds the target encoder (what downstream code uses, as upstream evals read
``target_encoder``) and the predictor, in our format; ``train_state.pt`` resumes a killed run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from vjepa_bench.data.clips import ClipDataset
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.errors import UsageError
from vjepa_bench.models import layer_norm_features
from vjepa_bench.models.encoder import build_encoder
from vjepa_bench.models.predictor import build_predictor
from vjepa_bench.models.rope import positions_from_ids, rope_tables
from vjepa_bench.training import checkpoints
from vjepa_bench.training.ac_trainer import EpochBatches
from vjepa_bench.training.config import MaskConfig, PretrainConfig
from vjepa_bench.training.data import SubsetSource, check_finite_store, split_indices
from vjepa_bench.training.runtime import (
    MetricsLog,
    all_reduce_mean,
    barrier,
    init_distributed,
    load_state,
    optimizer_step,
    require_finite,
    save_state,
    shutdown,
)
from vjepa_bench.training.schedule import Schedule, build_optimizer, set_lr

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


class Pretrainer:
    def __init__(self, cfg: PretrainConfig) -> None:
        self.cfg = cfg
        self.info, self.device = init_distributed(cfg.device, cfg.cpu_threads)
        self.out = Path(cfg.output_dir)
        torch.manual_seed(cfg.seed)
        try:
            encoder = build_encoder(cfg.encoder, **{"img_size": cfg.data.image_size, **cfg.encoder_overrides})
            c = encoder.config
            predictor = build_predictor(
                cfg.predictor,
                **{"embed_dim": c.embed_dim, "img_size": cfg.data.image_size, "patch_size": c.patch_size,
                   "tubelet_size": c.tubelet_size, **cfg.predictor_overrides},
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
        self.jepa = JEPA(encoder, predictor).to(self.device)
        self.target = copy.deepcopy(encoder).to(self.device).requires_grad_(False)
        self.model: nn.Module = self.jepa
        if self.info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.jepa, device_ids=ids)
        o = cfg.optim
        self.schedule = Schedule(o.start_lr, o.peak_lr, o.final_lr, o.warmup_steps, o.constant_steps, o.decay_steps)
        self.optimizer = build_optimizer(self.jepa, o.weight_decay, tuple(o.betas), o.eps)
        self.autocast = cfg.bf16 and self.device.type == "cuda"
        try:
            reader = TrajectoryReader(cfg.data.stores)
        except FileNotFoundError as err:
            raise UsageError(f"data.stores: {err}") from err
        check_finite_store(reader)
        train_idx, _ = split_indices(len(reader), cfg.data.val_fraction, cfg.data.split_seed)
        self.dataset = ClipDataset(SubsetSource(reader, train_idx), cfg.data.frames_per_clip, cfg.data.image_size,
                                   actions=cfg.data.actions, seed=cfg.seed)  # fmt: skip
        self.batches = EpochBatches(self.dataset, cfg.batch_size, self.info, cfg.seed)
        self.grid = encoder.token_grid(cfg.data.frames_per_clip, cfg.data.image_size, cfg.data.image_size)

    def momentum(self, step: int) -> float:
        lo, hi = self.cfg.ema
        return lo + (hi - lo) * min(1.0, step / max(1, self.schedule.total_steps))

    @torch.no_grad()
    def _ema_update(self, m: float) -> None:
        for t, s in zip(self.target.parameters(), self.jepa.encoder.parameters()):
            t.mul_(m).add_(s.detach(), alpha=1.0 - m)

    def _resume(self) -> tuple[int, float]:
        """Restore a saved run: its step and its last logged loss (``0, nan`` for a fresh run)."""
        path = self.out / "train_state.pt"
        if not (self.cfg.resume and path.is_file()):
            return 0, float("nan")
        state = load_state(path, self.device)
        self.jepa.load_state_dict(state["jepa"])
        self.target.load_state_dict(state["target_encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        return int(state["step"]), float(state.get("loss", float("nan")))

    def _save(self, step: int, loss: float) -> None:
        require_finite(torch.cat([p.detach().flatten() for p in self.jepa.parameters()]), step, "model's weights",
                       self.info)
        if not self.info.is_main:
            return
        save_state(
            {"step": step, "loss": loss, "jepa": self.jepa.state_dict(), "target_encoder": self.target.state_dict(),
             "optimizer": self.optimizer.state_dict(), "config": dataclasses.asdict(self.cfg)},
            self.out / "train_state.pt",
        )  # fmt: skip
        meta = {"kind": "vjepa_pretrain", "produced_by": "vjepa-bench pretrain", "step": step, "loss": loss,
                "image_size": self.cfg.data.image_size, "train_config": dataclasses.asdict(self.cfg)}  # fmt: skip
        checkpoints.save_pretrained(self.out / "checkpoint.pt", self.target, self.jepa.predictor, meta)

    def run(self) -> Path:
        cfg, info = self.cfg, self.info
        total = self.schedule.total_steps
        step, loss_value = self._resume()
        log = MetricsLog(self.out, step, cfg.tensorboard, active=info.is_main)
        bar = tqdm(total=total, initial=step, desc="pretrain", disable=not (cfg.progress and info.is_main))
        start = time.time()
        params = [p for p in self.jepa.parameters() if p.requires_grad]
        tubelets, rows, cols = self.grid
        while step < total:
            epoch, skip = divmod(step, self.batches.per_epoch)
            loader = DataLoader(self.dataset, batch_sampler=self.batches.epoch(epoch, skip),
                                num_workers=cfg.data.num_workers)  # fmt: skip
            for batch in loader:
                video = batch["images"].to(self.device).permute(0, 2, 1, 3, 4)  # (B, T, 3, S, S) -> (B, 3, T, S, S)
                rng = np.random.default_rng([cfg.seed, step, info.rank])
                ctx_ids, tgt_ids = (ids.to(self.device) for ids in sample_masks(len(video), tubelets, rows, cols, cfg.mask, rng))
                lr = self.schedule.lr(step)
                set_lr(self.optimizer, lr)
                with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
                    loss = jepa_loss(self.model, self.target, video, ctx_ids, tgt_ids)
                require_finite(loss, step + 1, "training loss", info)
                grad_norm = optimizer_step(self.optimizer, loss, params, cfg.optim.grad_clip)
                m = self.momentum(step)
                self._ema_update(m)
                step += 1
                bar.update(1)
                if step % cfg.log_every == 0 or step == total:
                    loss_value = float(all_reduce_mean(loss.detach().float(), info))
                    log.log(step, "train", lr=lr, loss=loss_value, grad_norm=float(grad_norm), ema=m,
                            seconds=time.time() - start)  # fmt: skip
                    bar.set_postfix(loss=f"{loss_value:.4f}")
                if step % cfg.checkpoint_every == 0 or step == total:
                    self._save(step, loss_value)
                    barrier(info)
                if step >= total:
                    break
        bar.close()
        log.close()
        if info.is_main:
            (self.out / "summary.json").write_text(json.dumps(
                {"steps": step, "loss": loss_value, "seconds_this_run": time.time() - start,
                 "world_size": info.world_size}, indent=2))  # fmt: skip
        shutdown(info)
        return self.out / "checkpoint.pt"


def pretrain(cfg: PretrainConfig) -> Path:
    """Pretrain (or resume) and return the checkpoint path."""
    return Pretrainer(cfg).run()
