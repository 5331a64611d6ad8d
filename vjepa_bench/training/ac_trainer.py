"""AC predictor post-training (docs/conventions.md#training): frozen encoder, teacher-forcing + rollout L1, AdamW with the
warmup-constant-decay LR, gradient clipping, bf16 autocast on CUDA, DDP under ``torchrun``.

Outputs in ``output_dir``: ``checkpoint.pt`` (our model format: encoder + AC predictor + their configs,
what ``agent=vjepa_ac`` loads), ``train_state.pt`` (predictor, optimiser and step, to resume after a kill),
``metrics.csv`` (train and validation losses), ``features.pt`` (the frozen-encoder feature cache) and
``summary.json``. A run started again with the same ``output_dir`` resumes from ``train_state.pt``.

Data order is a function of (seed, epoch, rank) only: epoch ``e`` shuffles the training trajectories with a
``DistributedSampler`` and draws one random window per trajectory, so a resumed run skips the batches already
seen in its epoch and continues exactly where the killed one stopped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from vjepa_bench.data.clips import ClipDataset
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.errors import UsageError
from vjepa_bench.models.ac_predictor import build_ac_predictor
from vjepa_bench.models.encoder import build_encoder
from vjepa_bench.training import checkpoints
from vjepa_bench.training.config import EncoderSource, TrainACConfig
from vjepa_bench.training.data import SubsetSource, check_finite_store, split_indices
from vjepa_bench.training.features import FeatureClipDataset, load_or_build_cache
from vjepa_bench.training.losses import ac_losses
from vjepa_bench.training.runtime import (
    DistInfo,
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


def load_frozen_encoder(source: EncoderSource, image_size: int, seed: int) -> tuple[nn.Module, dict[str, Any]]:
    """The encoder named by ``source`` in eval mode with gradients off, and where it came from."""
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
    encoder.eval().requires_grad_(False)
    return encoder, origin


def build_predictor_for(cfg: TrainACConfig, encoder: nn.Module) -> nn.Module:
    """The AC predictor preset, sized to read and write the encoder's features at ``data.image_size``."""
    overrides = {
        "embed_dim": encoder.config.embed_dim,
        "img_size": cfg.data.image_size,
        "patch_size": encoder.config.patch_size,
        "tubelet_size": encoder.config.tubelet_size,
        **cfg.predictor_overrides,
    }
    try:
        return build_ac_predictor(cfg.predictor, **overrides)
    except (KeyError, TypeError) as err:
        raise UsageError(f"predictor / predictor_overrides: {err}") from err


class EpochBatches:
    """Batches of epoch ``e`` for this rank: DistributedSampler order cut into ``batch_size`` chunks."""

    def __init__(self, dataset: Any, batch_size: int, info: DistInfo, seed: int) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.sampler = DistributedSampler(
            dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed, drop_last=True
        )
        self.per_epoch = len(self.sampler) // batch_size
        if self.per_epoch < 1:
            raise UsageError(
                f"batch_size={batch_size} x {info.world_size} process(es) is larger than the "
                f"{len(dataset)} training trajectories; lower batch_size or collect more data"
            )

    def epoch(self, epoch: int, skip: int) -> list[list[int]]:
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)
        order = list(self.sampler)
        return [order[b * self.batch_size : (b + 1) * self.batch_size] for b in range(skip, self.per_epoch)]


def _param_checksum(module: nn.Module) -> list[float]:
    with torch.no_grad():
        flat = torch.cat([p.detach().double().flatten().cpu() for p in module.parameters()])
        return [float(flat.sum()), float((flat * flat).sum()), float(flat.abs().max())]


class ACTrainer:
    """One ``train-ac`` run; :meth:`run` trains to the end of the schedule and returns ``checkpoint.pt``."""

    def __init__(self, cfg: TrainACConfig) -> None:
        self.cfg = cfg
        self.info, self.device = init_distributed(cfg.device, cfg.cpu_threads)
        self.out = Path(cfg.output_dir)
        self.encoder, self.encoder_origin = load_frozen_encoder(cfg.encoder, cfg.data.image_size, cfg.seed)
        self.encoder.to(self.device)
        torch.manual_seed(cfg.seed)
        self.predictor = build_predictor_for(cfg, self.encoder).to(self.device)
        # kept for checkpoint compatibility but never used (use_extrinsics is off, docs/conventions.md#ac-predictor): no gradient, so
        # DDP does not wait for one and the optimiser does not decay it
        if hasattr(self.predictor, "extrinsics_encoder"):
            self.predictor.extrinsics_encoder.requires_grad_(False)
        self.tokens_per_frame = int(self.predictor.tokens_per_frame)
        o = cfg.optim
        self.schedule = Schedule(o.start_lr, o.peak_lr, o.final_lr, o.warmup_steps, o.constant_steps, o.decay_steps)
        self.optimizer = build_optimizer(self.predictor, o.weight_decay, tuple(o.betas), o.eps)
        self.model: nn.Module = self.predictor
        if self.info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.predictor, device_ids=ids)
        self.autocast = cfg.bf16 and self.device.type == "cuda"
        self._build_data()

    # ---- data -------------------------------------------------------------------------------------------
    def _build_data(self) -> None:
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
        if cfg.cache_features:
            cache_path = self.out / "features.pt"
            if self.info.is_main:
                cache = load_or_build_cache(cache_path, self.encoder, reader, d.stores, d.image_size, self.device,
                                            progress=cfg.progress)
            barrier(self.info)
            if not self.info.is_main:
                cache = torch.load(cache_path, map_location="cpu", weights_only=True)
            self.train_set = FeatureClipDataset(cache, train_idx, d.frames_per_clip, d.actions, cfg.seed)
            self.val_set = FeatureClipDataset(cache, val_idx, d.frames_per_clip, d.actions, fixed=True) if val_idx else None
        else:
            self.train_set = ClipDataset(SubsetSource(reader, train_idx), d.frames_per_clip, d.image_size,
                                         actions=d.actions, seed=cfg.seed)  # fmt: skip
            self.val_set = ClipDataset(SubsetSource(reader, val_idx), d.frames_per_clip, d.image_size,
                                       actions=d.actions, fixed=True) if val_idx else None  # fmt: skip
        self.batches = EpochBatches(self.train_set, cfg.batch_size, self.info, cfg.seed)

    def _loader(self, dataset: Any, batches: list[list[int]]) -> DataLoader:
        return DataLoader(dataset, batch_sampler=batches, num_workers=self.cfg.data.num_workers)

    def _features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T*P, D) frozen features of a batch (cached, or encoded now frame by frame)."""
        if "features" in batch:
            return batch["features"].to(self.device, non_blocking=True)
        images = batch["images"].to(self.device, non_blocking=True)  # (B, T, 3, S, S)
        b, t = images.shape[:2]
        with torch.no_grad(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            z = self.encoder.encode_image(images.flatten(0, 1))  # (B*T, P, D)
        return z.float().reshape(b, t * z.shape[1], z.shape[2])

    def _losses(self, model: nn.Module, batch: dict[str, torch.Tensor]):
        feats = self._features(batch)
        actions = batch["actions"].to(self.device)
        states = batch["states"].to(self.device)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
            return ac_losses(model, feats, actions, states, self.tokens_per_frame, self.cfg.rollout_steps)

    # ---- checkpoints ------------------------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.out / "train_state.pt"

    def _resume(self) -> tuple[int, dict[str, float]]:
        """Restore a saved run: its step and its last logged losses (``0, {}`` for a fresh run)."""
        path = self._state_path()
        if not (self.cfg.resume and path.is_file()):
            return 0, {}
        state = load_state(path, self.device)
        if state["predictor_config"] != self.predictor.config.to_dict():
            raise UsageError(
                f"{path} was trained with another predictor config; use a new output_dir or resume=false"
            )
        saved_order = state.get("data_order")
        if saved_order != self._data_order():
            raise UsageError(
                f"{path} was trained on another data order ({saved_order} vs now {self._data_order()}): resuming "
                "would skip or repeat batches; keep data, encoder, seed and batch settings, or use a new output_dir"
            )
        self.predictor.load_state_dict(state["predictor"])
        self.optimizer.load_state_dict(state["optimizer"])
        return int(state["step"]), dict(state.get("last", {}))

    def _data_order(self) -> dict[str, Any]:
        """What fixes the sequence of training batches; it must not change when a run resumes (the LR may)."""
        d = self.cfg.data
        return {
            "stores": [str(Path(p).resolve()) for p in d.stores],
            "frames_per_clip": d.frames_per_clip,
            "image_size": d.image_size,
            "val_fraction": d.val_fraction,
            "split_seed": d.split_seed,
            "actions": d.actions,
            "encoder": dataclasses.asdict(self.cfg.encoder),
            "seed": self.cfg.seed,
            "global_batch": self.cfg.batch_size * self.info.world_size,
        }

    def _save(self, step: int, last_losses: dict[str, float]) -> None:
        require_finite(torch.cat([p.detach().flatten() for p in self.predictor.parameters()]), step,
                       "predictor's weights", self.info)
        if not self.info.is_main:
            return
        save_state(
            {
                "step": step,
                "predictor": self.predictor.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "predictor_config": self.predictor.config.to_dict(),
                "data_order": self._data_order(),
                "last": last_losses,
                "config": dataclasses.asdict(self.cfg),
            },
            self._state_path(),
        )
        meta = {
            "kind": "vjepa2_ac",
            "produced_by": "vjepa-bench train-ac",
            "step": step,
            "image_size": self.cfg.data.image_size,
            "frames_per_clip": self.cfg.data.frames_per_clip,
            "encoder_origin": self.encoder_origin,
            "losses": last_losses,
            "train_config": dataclasses.asdict(self.cfg),
        }
        checkpoints.save_world_model(self.out / "checkpoint.pt", self.encoder, self.predictor, meta)

    # ---- validation -------------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean losses over one fixed clip of each held-out trajectory (same on every rank)."""
        if self.val_set is None:
            return {}
        self.predictor.eval()
        totals = torch.zeros(3)
        count = 0
        order = list(range(len(self.val_set)))
        batches = [order[i : i + self.cfg.batch_size] for i in range(0, len(order), self.cfg.batch_size)]
        for batch in self._loader(self.val_set, batches):
            losses = self._losses(self.predictor, batch)
            n = batch["states"].shape[0]
            totals += torch.stack([losses.total, losses.teacher_forcing, losses.rollout]).float().cpu() * n
            count += n
        self.predictor.train()
        loss, tf, ar = (totals / count).tolist()
        return {"loss": loss, "loss_tf": tf, "loss_rollout": ar}

    # ---- loop -------------------------------------------------------------------------------------------
    def run(self) -> Path:
        cfg, info = self.cfg, self.info
        total = self.schedule.total_steps
        step, last = self._resume()
        log = MetricsLog(self.out, step, cfg.tensorboard, active=info.is_main)
        if info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
        self.predictor.train()
        bar = tqdm(total=total, initial=step, desc="train-ac", disable=not (cfg.progress and info.is_main))
        start_time = time.time()
        params = [p for p in self.predictor.parameters() if p.requires_grad]
        while step < total:
            epoch, skip = divmod(step, self.batches.per_epoch)
            for batch in self._loader(self.train_set, self.batches.epoch(epoch, skip)):
                lr = self.schedule.lr(step)
                set_lr(self.optimizer, lr)
                losses = self._losses(self.model, batch)
                require_finite(losses.total, step + 1, "training loss", self.info)
                grad_norm = optimizer_step(self.optimizer, losses.total, params, cfg.optim.grad_clip)
                step += 1
                bar.update(1)
                values = torch.stack([losses.total, losses.teacher_forcing, losses.rollout]).detach().float()
                if step % cfg.log_every == 0 or step == total:
                    loss, tf, ar = all_reduce_mean(values, info).tolist()
                    last = {"loss": loss, "loss_tf": tf, "loss_rollout": ar}
                    log.log(step, "train", lr=lr, grad_norm=float(grad_norm), seconds=time.time() - start_time, **last)
                    bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
                if step % cfg.val_every == 0 or step == total:
                    val = self.validate()
                    if val:
                        log.log(step, "val", seconds=time.time() - start_time, **val)
                        last = {**last, **{f"val_{k}": v for k, v in val.items()}}
                if step % cfg.checkpoint_every == 0 or step == total:
                    self._save(step, last)
                    barrier(info)
                if step >= total:
                    break
        bar.close()
        log.close()
        self._finish(step, last, time.time() - start_time)
        return self.out / "checkpoint.pt"

    def _finish(self, step: int, last: dict[str, float], seconds: float) -> None:
        checksum = torch.tensor(_param_checksum(self.predictor), dtype=torch.float64)
        sums = [checksum.tolist()]
        if self.info.enabled:
            gathered = [torch.zeros_like(checksum) for _ in range(self.info.world_size)]
            dist.all_gather(gathered, checksum)
            sums = [g.tolist() for g in gathered]
        if self.info.is_main:
            summary = {
                "steps": step, "world_size": self.info.world_size, "device": str(self.device),
                "seconds_this_run": seconds, "split": self.split, "last": last,
                "predictor_checksums_per_rank": sums, "ranks_in_sync": all(s == sums[0] for s in sums),
            }  # fmt: skip
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
        shutdown(self.info)


def train_ac(cfg: TrainACConfig) -> Path:
    """Train (or resume) and return the model checkpoint path."""
    return ACTrainer(cfg).run()
