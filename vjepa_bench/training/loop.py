"""The loop skeleton of both trainers (``train-ac`` and ``pretrain``): device and torch.distributed set-up, AdamW with
the warmup-constant-decay LR, resume from ``<output_dir>/train_state.pt``, the epoch/step loop, metrics, periodic
checkpoints, the summary of the run and shutdown.

A trainer subclasses :class:`TrainLoop` and supplies its model, its training set, one step's losses, its part of the
train state and its model checkpoint; it may add work after each optimiser step and a validation.

Data order is a function of (seed, epoch, rank) only: epoch ``e`` shuffles the training set with a
``DistributedSampler``, so a resumed run skips the batches already seen in its epoch and continues exactly where the
killed one stopped. A resume whose settings would change that order is refused, naming what changed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Generic, Protocol, TypeVar

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from vjepa_bench.errors import UsageError
from vjepa_bench.fileio import FolderLock, write_json_atomic
from vjepa_bench.training.config import DataConfig, OptimConfig
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


class LoopConfig(Protocol):
    """The settings the shared loop reads (``TrainACConfig`` and ``PretrainConfig`` both have them)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    output_dir: str
    data: DataConfig
    optim: OptimConfig
    batch_size: int
    seed: int
    device: str
    cpu_threads: int | None
    bf16: bool
    resume: bool
    log_every: int
    checkpoint_every: int
    tensorboard: bool
    progress: bool


ConfigT = TypeVar("ConfigT", bound=LoopConfig)


def due(step: int, every: int, total: int) -> bool:
    """Whether a periodic action (log, validation, checkpoint) runs after step ``step``: every ``every``, and last."""
    return step % every == 0 or step == total


def data_order_change(saved: Any, now: dict[str, Any]) -> str:
    """The settings that differ between a saved data order and the current one, as ``key saved -> now`` pairs."""
    if not isinstance(saved, dict):
        return "the saved state records none"
    keys = [*now, *(k for k in saved if k not in now)]
    return ", ".join(f"{k} {saved.get(k)!r} -> now {now.get(k)!r}" for k in keys if saved.get(k) != now.get(k))


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


@dataclasses.dataclass
class StepResult:
    """What one optimiser step gives the log: its LR, its named losses (``loss`` is the one optimised), the gradient
    norm before clipping and the trainer's extra values."""

    lr: float
    losses: dict[str, torch.Tensor]
    grad_norm: torch.Tensor
    extras: dict[str, float]


class TrainLoop(ABC, Generic[ConfigT]):
    """One training run; :meth:`run` trains to the end of the schedule and returns ``checkpoint.pt``."""

    name: ClassVar[str]
    """The command, shown on the progress bar."""
    weights_name: ClassVar[str]
    """What the trained module is called when its weights are not finite."""

    def __init__(self, cfg: ConfigT) -> None:
        self.cfg = cfg
        self.info, self.device = init_distributed(cfg.device, cfg.cpu_threads)
        self.out = Path(cfg.output_dir)
        self.autocast = cfg.bf16 and self.device.type == "cuda"
        self.module = self._build_model()
        o = cfg.optim
        self.schedule = Schedule(o.start_lr, o.peak_lr, o.final_lr, o.warmup_steps, o.constant_steps, o.decay_steps)
        self.optimizer = build_optimizer(self.module, o.weight_decay, tuple(o.betas), o.eps, self._lr_scales())
        self.model = self._distributed(self.module)
        self.train_set = self._build_data()
        self.batches = EpochBatches(self.train_set, cfg.batch_size, self.info, cfg.seed)

    # ---- what a trainer supplies ------------------------------------------------------------------------
    @abstractmethod
    def _build_model(self) -> nn.Module:
        """The module to train, on ``self.device`` (its trainable parameters are what the optimiser updates)."""

    @abstractmethod
    def _build_data(self) -> Any:
        """The training set: a map-style dataset with ``set_epoch`` whose items collate to a batch dict."""

    @abstractmethod
    def _step_losses(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """The named scalar losses of step ``step`` (0-based) through ``self.model``; ``loss`` is the optimised one."""

    @abstractmethod
    def _model_state(self) -> dict[str, Any]:
        """The trainer's entries of ``train_state.pt`` (weights and whatever else a resume needs)."""

    @abstractmethod
    def _load_model_state(self, state: dict[str, Any], path: Path) -> None:
        """Restore :meth:`_model_state`'s entries from ``state`` (read from ``path``), or refuse in a UsageError."""

    @abstractmethod
    def _save_checkpoint(self, step: int, last: dict[str, float]) -> None:
        """Write ``checkpoint.pt`` (our model format) after step ``step``; ``last`` holds the last logged losses."""

    @abstractmethod
    def _summary(self, last: dict[str, float]) -> dict[str, Any]:
        """The trainer's entries of ``summary.json`` (called on every rank)."""

    def _lr_scales(self) -> dict[str, float]:
        """Multipliers of the scheduled LR by parameter-name prefix of the trained module (none by default)."""
        return {}

    def _after_step(self, step: int) -> dict[str, float]:
        """Work after optimiser step ``step``; returns values for the train rows of the log."""
        return {}

    def _validate(self, step: int) -> dict[str, float]:
        """Validation losses after step ``step`` when one is due (none by default)."""
        return {}

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
            "seed": self.cfg.seed,
            "global_batch": self.cfg.batch_size * self.info.world_size,
        }

    # ---- set-up -----------------------------------------------------------------------------------------
    def _distributed(self, module: nn.Module) -> nn.Module:
        """``module`` wrapped in DDP under ``torchrun``, else itself."""
        if not self.info.enabled:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def _loader(self, dataset: Any, batches: list[list[int]]) -> DataLoader:
        return DataLoader(dataset, batch_sampler=batches, num_workers=self.cfg.data.num_workers)

    # ---- train state ------------------------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.out / "train_state.pt"

    def _resume(self) -> tuple[int, dict[str, float]]:
        """Restore a saved run: its step and its last logged losses (``0, {}`` for a fresh run)."""
        path = self._state_path()
        if not (self.cfg.resume and path.is_file()):
            return 0, {}
        state = load_state(path, self.device)
        self._check_data_order(state.get("data_order"), path)
        self._load_model_state(state, path)
        self.optimizer.load_state_dict(state["optimizer"])
        return int(state["step"]), dict(state.get("last", {}))

    def _check_data_order(self, saved: Any, path: Path) -> None:
        now = self._data_order()
        if saved != now:
            raise UsageError(
                f"{path} was trained on another data order ({data_order_change(saved, now)}): resuming would skip "
                "or repeat batches; keep the saved settings or use a new output_dir"
            )

    def _save(self, step: int, last: dict[str, float]) -> None:
        """``train_state.pt`` and ``checkpoint.pt`` after step ``step`` (main process), once the weights are finite."""
        weights = torch.cat([p.detach().flatten() for p in self.module.parameters()])
        require_finite(weights, step, self.weights_name, self.info)
        if not self.info.is_main:
            return
        state = {
            "step": step,
            **self._model_state(),
            "optimizer": self.optimizer.state_dict(),
            "data_order": self._data_order(),
            "last": last,
            "config": dataclasses.asdict(self.cfg),
        }
        save_state(state, self._state_path())
        self._save_checkpoint(step, last)

    # ---- loop -------------------------------------------------------------------------------------------
    def run(self) -> Path:
        """Train (or resume) to the end of the schedule, write the summary and return ``checkpoint.pt``."""
        step, last = self._resume()
        log = MetricsLog(self.out, step, self.cfg.tensorboard, active=self.info.is_main)
        self._write_config()
        start = time.time()
        step, last = self._train(step, last, log, start)
        log.close()
        self._finish(step, last, time.time() - start)
        return self.out / "checkpoint.pt"

    def _write_config(self) -> None:
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.out / "config.json", dataclasses.asdict(self.cfg))

    def _train(self, step: int, last: dict[str, float], log: MetricsLog, start: float) -> tuple[int, dict[str, float]]:
        """Steps ``step`` .. the end of the schedule; returns the final step and the last logged losses."""
        cfg, total = self.cfg, self.schedule.total_steps
        self.module.train()
        bar = tqdm(total=total, initial=step, desc=self.name, disable=not (cfg.progress and self.info.is_main))
        params = [p for p in self.module.parameters() if p.requires_grad]
        while step < total:
            epoch, skip = divmod(step, self.batches.per_epoch)
            for batch in self._loader(self.train_set, self.batches.epoch(epoch, skip)):
                result = self._step(batch, step, params)
                step += 1
                bar.update(1)
                if due(step, cfg.log_every, total):
                    last = self._log_train(log, step, result, time.time() - start)
                    bar.set_postfix(loss=f"{last['loss']:.4f}", lr=f"{result.lr:.2e}")
                val = self._validate(step)
                if val:
                    log.log(step, "val", seconds=time.time() - start, **val)
                    last = {**last, **{f"val_{k}": v for k, v in val.items()}}
                if due(step, cfg.checkpoint_every, total):
                    self._save(step, last)
                    barrier(self.info)
                if step >= total:
                    break
        bar.close()
        return step, last

    def _step(self, batch: dict[str, torch.Tensor], step: int, params: list[torch.Tensor]) -> StepResult:
        """Optimiser step ``step`` (0-based) on ``batch`` at the scheduled LR."""
        lr = self.schedule.lr(step)
        set_lr(self.optimizer, lr)
        losses = self._step_losses(batch, step)
        require_finite(losses["loss"], step + 1, "training loss", self.info)
        grad_norm = optimizer_step(self.optimizer, losses["loss"], params, self.cfg.optim.grad_clip)
        return StepResult(lr, losses, grad_norm, self._after_step(step))

    def _log_train(self, log: MetricsLog, step: int, result: StepResult, seconds: float) -> dict[str, float]:
        """Log a train row with the losses averaged over ranks; returns those losses."""
        values = torch.stack(list(result.losses.values())).detach().float()
        last = dict(zip(result.losses, all_reduce_mean(values, self.info).tolist()))
        log.log(step, "train", lr=result.lr, grad_norm=float(result.grad_norm), seconds=seconds, **last,
                **result.extras)  # fmt: skip
        return last

    def _finish(self, step: int, last: dict[str, float], seconds: float) -> None:
        summary = {"steps": step, "world_size": self.info.world_size, "seconds_this_run": seconds,
                   **self._summary(last)}  # fmt: skip
        if self.info.is_main:
            write_json_atomic(self.out / "summary.json", summary)
        shutdown(self.info)



def run_locked(trainer: Callable[[ConfigT], TrainLoop[ConfigT]], cfg: ConfigT, what: str) -> Path:
    """Build and run a trainer while holding ``output_dir``'s :class:`~vjepa_bench.fileio.FolderLock` (the main
    process of a ``torchrun`` job holds it), so a second run on the same folder is refused at once in one line."""
    if int(os.environ.get("RANK", "0")) != 0:
        return trainer(cfg).run()
    with FolderLock(cfg.output_dir, what):
        return trainer(cfg).run()
