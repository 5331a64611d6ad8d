"""AC predictor post-training (docs/conventions.md#training): frozen encoder, teacher-forcing + rollout L1, AdamW with the
warmup-constant-decay LR, gradient clipping, bf16 autocast on CUDA, DDP under ``torchrun``. With
``encoder.finetune=true`` the encoder trains too (:class:`EncoderWithPredictor`).

Outputs in ``output_dir``: ``checkpoint.pt`` (our model format: encoder + AC predictor + their configs,
what ``agent=vjepa_ac`` loads), ``train_state.pt`` (predictor, optimiser and step, to resume after a kill),
``metrics.csv`` (train and validation losses), ``features.pt`` (the frozen-encoder feature cache) and
``summary.json``. A run started again with the same ``output_dir`` resumes from ``train_state.pt``
(the loop, resume and data-order rules are :mod:`vjepa_bench.training.loop`'s); epoch ``e`` draws one random
window per training trajectory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from vjepa_bench.data.clips import ClipDataset
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.errors import UsageError
from vjepa_bench.models.ac_predictor import build_ac_predictor
from vjepa_bench.models.encoder import build_encoder
from vjepa_bench.training import checkpoints
from vjepa_bench.training.config import EncoderSource, TrainACConfig
from vjepa_bench.training.data import SubsetSource, check_finite_store, split_indices
from vjepa_bench.training.features import FeatureClipDataset, load_or_build_cache
from vjepa_bench.training.loop import TrainLoop, due, run_locked
from vjepa_bench.training.losses import ACLosses, ac_losses
from vjepa_bench.training.runtime import barrier

LOSS_NAMES = ("loss", "loss_tf", "loss_rollout")
"""Metrics names of the total (optimised), teacher-forcing and rollout losses."""


def encoder_from_source(source: EncoderSource, image_size: int, seed: int) -> tuple[nn.Module, dict[str, Any]]:
    """The encoder named by ``source`` (in eval mode with gradients off unless ``source.finetune``), and where it
    came from."""
    if source.checkpoint:
        path = Path(source.checkpoint)
        if not path.is_file():
            raise UsageError(f"encoder.checkpoint={source.checkpoint!r}: file not found")
        encoder = checkpoints.load_encoder(path)
        origin = {"checkpoint": str(path), "sha256": checkpoints.file_sha256(path)}
    else:
        torch.manual_seed(seed)
        try:
            # the nominal img_size is what a loader of the checkpoint (e.g. agent=vjepa_ac) feeds the encoder
            encoder = build_encoder(source.preset, **{"img_size": image_size, **source.overrides})
        except (KeyError, TypeError) as err:
            raise UsageError(f"encoder.preset / encoder.overrides: {err}") from err
        origin = {"preset": source.preset, "overrides": dict(source.overrides), "init_seed": seed}
    patch = encoder.config.patch_size
    if image_size % patch:
        raise UsageError(f"data.image_size={image_size} is not a multiple of the encoder patch size {patch}")
    encoder.train(source.finetune).requires_grad_(source.finetune)
    if source.finetune:
        origin["finetuned"] = True
    return encoder, origin


def clip_features(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(B, T*P, D) features of a (B, T, 3, S, S) clip batch, frame by frame, frame-major."""
    b, t = images.shape[:2]
    z = encoder.encode_image(images.flatten(0, 1))  # (B*T, P, D)
    return z.reshape(b, t * z.shape[1], z.shape[2])


class EncoderWithPredictor(nn.Module):
    """The encoder trained together with the AC predictor (``encoder.finetune=true``). The predictor reads the
    encoder's features of the clip and is scored against the same features with gradients stopped, so the encoder
    learns only through what it gives the predictor (the stop-gradient that keeps SimSiam-style training from
    collapsing); ``feature_std`` in the log shows whether the features keep their spread."""

    def __init__(self, encoder: nn.Module, predictor: nn.Module, rollout_steps: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor
        self.rollout_steps = rollout_steps

    def forward(self, images: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Teacher-forcing loss, rollout loss and feature spread of a (B, T, 3, S, S) clip batch."""
        feats = clip_features(self.encoder, images)
        losses = ac_losses(self.predictor, feats, actions, states, self.predictor.tokens_per_frame,
                           self.rollout_steps, targets=feats.detach())  # fmt: skip
        return losses.teacher_forcing, losses.rollout, feats.detach().float().std(dim=1).mean()


def build_predictor_for(cfg: TrainACConfig, encoder: nn.Module) -> nn.Module:
    """The AC predictor preset, sized to read and write the encoder's features at ``data.image_size``."""
    overrides = {
        "embed_dim": encoder.config.embed_dim,
        "img_size": cfg.data.image_size,
        "patch_size": encoder.config.patch_size,
        **cfg.predictor_overrides,
    }
    try:
        return build_ac_predictor(cfg.predictor, **overrides)
    except (KeyError, TypeError) as err:
        raise UsageError(f"predictor / predictor_overrides: {err}") from err


def _param_checksum(module: nn.Module) -> list[float]:
    with torch.no_grad():
        flat = torch.cat([p.detach().double().flatten().cpu() for p in module.parameters()])
        return [float(flat.sum()), float((flat * flat).sum()), float(flat.abs().max())]


def _named(losses: ACLosses) -> dict[str, torch.Tensor]:
    """The losses under their metrics names."""
    return dict(zip(LOSS_NAMES, (losses.total, losses.teacher_forcing, losses.rollout)))


class ACTrainer(TrainLoop[TrainACConfig]):
    """One ``train-ac`` run; :meth:`run` trains to the end of the schedule and returns ``checkpoint.pt``."""

    name = "train-ac"
    weights_name = "predictor's weights"

    # ---- model and data ---------------------------------------------------------------------------------
    def _build_model(self) -> nn.Module:
        cfg = self.cfg
        self.finetune = cfg.encoder.finetune
        self.encoder, self.encoder_origin = encoder_from_source(cfg.encoder, cfg.data.image_size, cfg.seed)
        self.encoder.to(self.device)
        torch.manual_seed(cfg.seed)
        self.predictor = build_predictor_for(cfg, self.encoder).to(self.device)
        # kept for checkpoint compatibility but never used (use_extrinsics is off, docs/conventions.md#ac-predictor): no gradient, so
        # DDP does not wait for one and the optimiser does not decay it
        if hasattr(self.predictor, "extrinsics_encoder"):
            self.predictor.extrinsics_encoder.requires_grad_(False)
        self.tokens_per_frame = int(self.predictor.tokens_per_frame)
        if self.finetune:
            return EncoderWithPredictor(self.encoder, self.predictor, cfg.rollout_steps)
        return self.predictor

    def _lr_scales(self) -> dict[str, float]:
        return {"encoder.": self.cfg.encoder.lr_scale} if self.finetune else {}

    def _build_data(self) -> Any:
        cfg, d = self.cfg, self.cfg.data
        try:
            reader = TrajectoryReader(d.stores)
        except FileNotFoundError as err:
            raise UsageError(f"data.stores: {err}") from err
        check_finite_store(reader)
        if len(reader) < 2 and d.val_fraction > 0:
            raise UsageError(f"data.stores hold {len(reader)} trajectory; need 2 or more to hold one out")
        train_idx, val_idx = split_indices(len(reader), d.val_fraction, d.split_seed)
        self.split = {"train": len(train_idx), "val": len(val_idx)}
        if cfg.cache_features and not self.finetune:
            cache_path = self.out / "features.pt"
            if self.info.is_main:
                cache = load_or_build_cache(cache_path, self.encoder, reader, d.stores, d.image_size, self.device,
                                            progress=cfg.progress)
            barrier(self.info)
            if not self.info.is_main:
                cache = torch.load(cache_path, map_location="cpu", weights_only=True)
            self.val_set = FeatureClipDataset(cache, val_idx, d.frames_per_clip, d.actions, fixed=True) if val_idx else None
            return FeatureClipDataset(cache, train_idx, d.frames_per_clip, d.actions, cfg.seed)
        self.val_set = ClipDataset(SubsetSource(reader, val_idx), d.frames_per_clip, d.image_size,
                                   actions=d.actions, fixed=True) if val_idx else None  # fmt: skip
        return ClipDataset(SubsetSource(reader, train_idx), d.frames_per_clip, d.image_size, actions=d.actions,
                           seed=cfg.seed)  # fmt: skip

    # ---- losses -----------------------------------------------------------------------------------------
    def _features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T*P, D) frozen features of a batch (cached, or encoded now frame by frame)."""
        if "features" in batch:
            return batch["features"].to(self.device, non_blocking=True)
        images = batch["images"].to(self.device, non_blocking=True)  # (B, T, 3, S, S)
        with torch.no_grad(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            return clip_features(self.encoder, images).float()

    def _losses(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The named losses of a batch through ``model`` (the predictor, or :class:`EncoderWithPredictor`)."""
        actions = batch["actions"].to(self.device)
        states = batch["states"].to(self.device)
        if self.finetune:
            images = batch["images"].to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
                tf, rollout, spread = model(images, actions, states)
            return {**_named(ACLosses(tf, rollout)), "feature_std": spread}
        feats = self._features(batch)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            return _named(ac_losses(model, feats, actions, states, self.tokens_per_frame, self.cfg.rollout_steps))

    def _step_losses(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        return self._losses(self.model, batch)

    # ---- train state and checkpoints --------------------------------------------------------------------
    def _data_order(self) -> dict[str, Any]:
        return {**super()._data_order(), "encoder": dataclasses.asdict(self.cfg.encoder)}

    def _model_state(self) -> dict[str, Any]:
        state = {"predictor": self.predictor.state_dict(), "predictor_config": self.predictor.config.to_dict()}
        if self.finetune:
            state["encoder"] = self.encoder.state_dict()
        return state

    def _load_model_state(self, state: dict[str, Any], path: Path) -> None:
        if not self.predictor.config.matches(state["predictor_config"]):
            raise UsageError(
                f"{path} was trained with another predictor config; use a new output_dir or resume=false"
            )
        self.predictor.load_state_dict(state["predictor"])
        if self.finetune:
            self.encoder.load_state_dict(state["encoder"])

    def _save_checkpoint(self, step: int, last: dict[str, float]) -> None:
        meta = {
            "kind": "vjepa2_ac",
            "produced_by": "vjepa-bench train-ac",
            "step": step,
            "image_size": self.cfg.data.image_size,
            "frames_per_clip": self.cfg.data.frames_per_clip,
            "encoder_origin": self.encoder_origin,
            "losses": last,
            "train_config": dataclasses.asdict(self.cfg),
        }
        checkpoints.save_world_model(self.out / "checkpoint.pt", self.encoder, self.predictor, meta)

    # ---- validation -------------------------------------------------------------------------------------
    def _validate(self, step: int) -> dict[str, float]:
        return self.validate() if due(step, self.cfg.val_every, self.schedule.total_steps) else {}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean losses over one fixed clip of each held-out trajectory (same on every rank)."""
        if self.val_set is None:
            return {}
        self.module.eval()
        totals = torch.zeros(3)
        count = 0
        order = list(range(len(self.val_set)))
        batches = [order[i : i + self.cfg.batch_size] for i in range(0, len(order), self.cfg.batch_size)]
        for batch in self._loader(self.val_set, batches):
            losses = self._losses(self.module, batch)
            n = batch["states"].shape[0]
            totals += torch.stack([losses[name] for name in LOSS_NAMES]).float().cpu() * n
            count += n
        self.module.train()
        return dict(zip(LOSS_NAMES, (totals / count).tolist()))

    # ---- summary ----------------------------------------------------------------------------------------
    def _summary(self, last: dict[str, float]) -> dict[str, Any]:
        checksum = torch.tensor(_param_checksum(self.predictor), dtype=torch.float64)
        sums = [checksum.tolist()]
        if self.info.enabled:
            gathered = [torch.zeros_like(checksum) for _ in range(self.info.world_size)]
            dist.all_gather(gathered, checksum)
            sums = [g.tolist() for g in gathered]
        return {"device": str(self.device), "split": self.split, "last": last, "predictor_checksums_per_rank": sums,
                "ranks_in_sync": all(s == sums[0] for s in sums)}  # fmt: skip


def train_ac(cfg: TrainACConfig) -> Path:
    """Train (or resume) and return the model checkpoint path."""
    return run_locked(ACTrainer, cfg, f"vjepa-bench train-ac into {cfg.output_dir}")
