"""Training: losses, schedule, a tiny real AC run (loss falls, resume is exact, DDP on gloo) and pretraining."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vjepa_bench import layout
from vjepa_bench.data.store import Trajectory, TrajectoryWriter
from vjepa_bench.errors import UsageError
from vjepa_bench.models import layer_norm_features
from vjepa_bench.models.checkpoints import load_checkpoint
from vjepa_bench.schema import from_values
from vjepa_bench.training.ac_trainer import train_ac
from vjepa_bench.training.config import PretrainConfig, TrainACConfig
from vjepa_bench.training.losses import ac_losses
from vjepa_bench.training.pretrain import pretrain, sample_masks
from vjepa_bench.training.schedule import Schedule, param_groups

SIZE = 32
TINY_ENCODER = {"embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_hidden_dim": 64, "patch_size": 8, "img_size": SIZE}
TINY_AC = {"predictor_embed_dim": 32, "depth": 2, "num_heads": 2, "mlp_hidden_dim": 64}
TINY_PRED = {"predictor_embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_hidden_dim": 64}


def read_metrics(directory: Path) -> list[dict[str, str]]:
    with (directory / "metrics.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _render(position: np.ndarray) -> np.ndarray:
    """A 32x32 frame with a bright 8x8 square whose place follows the end-effector x, y."""
    image = np.full((SIZE, SIZE, 3), 40, np.uint8)
    row = int(np.clip((position[0] + 0.5) * (SIZE - 8), 0, SIZE - 8))
    col = int(np.clip((position[1] + 0.5) * (SIZE - 8), 0, SIZE - 8))
    image[row : row + 8, col : col + 8] = (230, 200, 60)
    return image


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    writer = TrajectoryWriter(root, shard_size=8)
    rng = np.random.default_rng(0)
    for index in range(10):
        states = np.zeros((10, 7), np.float32)
        states[0, :2] = rng.uniform(-0.3, 0.3, 2)
        states[0, 3] = np.pi
        for t in range(1, 10):
            states[t] = states[t - 1]
            states[t, :2] = np.clip(states[t - 1, :2] + rng.uniform(-0.075, 0.075, 2), -0.5, 0.5)
        images = np.stack([_render(s[:2]) for s in states])
        actions = layout.action_between(states[:-1], states[1:])
        writer.write(Trajectory(images=images, states=states, actions=actions, task="synthetic", seed=index, index=index))
    return root


def _ac_config(store: Path, out: Path, steps: int, **extra) -> TrainACConfig:
    cfg = {
        "output_dir": str(out),
        "encoder": {"preset": "vit_tiny", "overrides": TINY_ENCODER},
        "predictor": "ac_tiny",
        "predictor_overrides": TINY_AC,
        "data": {"stores": [str(store)], "frames_per_clip": 4, "image_size": SIZE, "val_fraction": 0.2},
        "optim": {"start_lr": 1e-3, "peak_lr": 1e-3, "warmup_steps": 0, "constant_steps": steps, "decay_steps": 0},
        "batch_size": 4, "cpu_threads": 1, "device": "cpu", "log_every": 1, "val_every": 5, "checkpoint_every": 5,
        "progress": False,
    }  # fmt: skip
    for key, value in extra.items():
        cfg[key] = value
    return from_values(TrainACConfig, cfg)


def test_schedule_warmup_constant_decay():
    s = Schedule(start_lr=1.0, peak_lr=3.0, final_lr=0.0, warmup_steps=4, constant_steps=3, decay_steps=4)
    lrs = [s.lr(i) for i in range(s.total_steps + 2)]
    assert lrs[:4] == [1.0, 1.5, 2.0, 2.5]
    assert lrs[4:7] == [3.0, 3.0, 3.0]
    assert lrs[7:11] == [3.0, 2.25, 1.5, 0.75]
    assert lrs[11:] == [0.0, 0.0]


def test_weight_decay_skips_biases_and_1d_params():
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    decay, no_decay = param_groups(module, 0.04)
    assert decay["weight_decay"] == 0.04 and no_decay["weight_decay"] == 0.0
    assert [p.shape for p in decay["params"]] == [torch.Size([4, 3])]
    assert len(no_decay["params"]) == 3


def test_losses_vanish_for_an_oracle_predictor():
    """Teacher forcing compares outputs with frames 1..T-1; rollout feeds back frame 1 and predicts frame 2."""
    B, T, P, D = 2, 4, 3, 8
    feats = torch.randn(B, T * P, D, generator=torch.Generator().manual_seed(0))
    target = layer_norm_features(feats)

    class Oracle(torch.nn.Module):
        calls: list[tuple[int, int, int]] = []

        def forward(self, z, actions, states):
            n = z.shape[1]
            self.calls.append((n // P, actions.shape[1], states.shape[1]))
            return target[:, P : P + n] * 5.0 + 1.0  # any affine map survives the layer norm

    oracle = Oracle()
    losses = ac_losses(oracle, feats, torch.zeros(B, T - 1, 7), torch.zeros(B, T, 7), P, rollout_steps=2)
    assert float(losses.total) < 1e-4  # a frame off by one would give ~1
    assert oracle.calls == [(3, 3, 3), (2, 2, 2)]  # teacher forcing on T-1 frames, then the 2-frame rollout


def test_bad_config_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="stores"):
        from_values(TrainACConfig, {"output_dir": str(tmp_path)})
    with pytest.raises(UsageError):
        from_values(TrainACConfig, {"data": {"stores": ["x"]}, "batch_szie": 3})


def test_ac_training_loss_falls_and_resume_is_exact(store: Path, tmp_path: Path):
    straight = _ac_config(store, tmp_path / "straight", steps=30)
    train_ac(straight)
    rows = [r for r in read_metrics(tmp_path / "straight") if r["split"] == "train"]
    losses = [float(r["loss"]) for r in rows]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    val = [float(r["loss"]) for r in read_metrics(tmp_path / "straight") if r["split"] == "val"]
    assert len(val) == 6 and val[-1] < val[0]

    # killed after 20 steps (its last checkpoint), then restarted with the full budget of 30
    train_ac(_ac_config(store, tmp_path / "resumed", steps=20))
    state = torch.load(tmp_path / "resumed" / "train_state.pt", weights_only=True)
    assert state["step"] == 20
    assert all(int(s["step"]) == 20 for s in state["optimizer"]["state"].values())
    train_ac(_ac_config(store, tmp_path / "resumed", steps=30))
    state = torch.load(tmp_path / "resumed" / "train_state.pt", weights_only=True)
    assert state["step"] == 30
    assert all(int(s["step"]) == 30 for s in state["optimizer"]["state"].values())
    steps = [int(r["step"]) for r in read_metrics(tmp_path / "resumed") if r["split"] == "train"]
    assert steps == list(range(1, 31))

    train_ac(_ac_config(store, tmp_path / "resumed", steps=30))  # finished: nothing to do, summary kept
    summary = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert summary["steps"] == 30 and summary["last"]["loss"] > 0
    with pytest.raises(UsageError, match="another data order"):
        train_ac(dataclasses.replace(_ac_config(store, tmp_path / "resumed", steps=40), batch_size=3))

    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert a.meta["step"] == b.meta["step"] == 30
    for (name, x), (_, y) in zip(a.ac_predictor.state_dict().items(), b.ac_predictor.state_dict().items()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)


def test_separate_targets_default_to_the_features():
    B, T, P, D = 2, 4, 3, 8
    feats = torch.randn(B, T * P, D, generator=torch.Generator().manual_seed(1))
    predictor = torch.nn.Linear(D, D).requires_grad_(False)
    call = lambda z, a, s: predictor(z)  # noqa: E731
    args = (torch.zeros(B, T - 1, 7), torch.zeros(B, T, 7), P)
    same = ac_losses(call, feats, *args, targets=feats)
    default = ac_losses(call, feats, *args)
    assert float(same.total) == float(default.total)
    other = ac_losses(call, feats, *args, targets=feats.flip(1))
    assert float(other.total) != float(default.total)


def test_lr_scales_give_a_prefix_its_own_groups():
    module = torch.nn.ModuleDict({"encoder": torch.nn.Linear(3, 4), "predictor": torch.nn.Linear(4, 2)})
    groups = param_groups(module, 0.04, {"encoder.": 0.1})
    scaled = [g for g in groups if g["lr_scale"] == 0.1]
    assert sorted(p.shape for g in scaled for p in g["params"]) == [torch.Size([4]), torch.Size([4, 3])]
    assert [g["weight_decay"] for g in groups if g["lr_scale"] == 1.0] == [0.04, 0.0]


def test_encoder_finetune_trains_encoder_and_resumes_exactly(store: Path, tmp_path: Path):
    finetune = {"preset": "vit_tiny", "overrides": TINY_ENCODER, "finetune": True, "lr_scale": 0.5}
    straight = _ac_config(store, tmp_path / "straight", steps=12, encoder=finetune)
    train_ac(straight)
    rows = [r for r in read_metrics(tmp_path / "straight") if r["split"] == "train"]
    assert len(rows) == 12 and all(float(r["feature_std"]) > 0.1 for r in rows)  # no collapse to a constant
    assert not (tmp_path / "straight" / "features.pt").exists()  # features change every step: nothing cached
    frozen = _ac_config(store, tmp_path / "frozen", steps=12)
    train_ac(frozen)
    tuned = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    fixed = load_checkpoint(tmp_path / "frozen" / "checkpoint.pt")
    assert tuned.meta["encoder_origin"]["finetuned"] is True
    moved = [float((a - b).abs().max()) for a, b in
             zip(tuned.encoder.state_dict().values(), fixed.encoder.state_dict().values())]  # fmt: skip
    assert max(moved) > 1e-4  # the same seeded start, trained

    train_ac(_ac_config(store, tmp_path / "resumed", steps=10, encoder=finetune))  # killed at its checkpoint
    train_ac(_ac_config(store, tmp_path / "resumed", steps=12, encoder=finetune))
    resumed = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    for module in ("encoder", "ac_predictor"):
        a, b = getattr(tuned, module).state_dict(), getattr(resumed, module).state_dict()
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=f"{module}.{name}")
    with pytest.raises(UsageError, match="lr_scale"):
        _ac_config(store, tmp_path / "bad", steps=1, encoder={**finetune, "lr_scale": 0})


@pytest.mark.slow
def test_ddp_two_gloo_processes_stay_in_sync(store: Path, tmp_path: Path):
    out = tmp_path / "ddp"
    overrides = [
        f"output_dir={out}", f"data.stores=[{store}]", "data.image_size=32", "data.val_fraction=0.2",
        "encoder.preset=vit_tiny", *[f"+encoder.overrides.{k}={v}" for k, v in TINY_ENCODER.items()],
        *[f"+predictor_overrides.{k}={v}" for k, v in TINY_AC.items()],
        "optim.warmup_steps=2", "optim.constant_steps=4", "optim.decay_steps=2", "batch_size=2",
        "device=cpu", "cpu_threads=1", "log_every=1", "val_every=4", "checkpoint_every=4", "progress=false",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "vjepa_bench.cli", "train-ac", *overrides]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 8
    assert summary["ranks_in_sync"], summary["predictor_checksums_per_rank"]
    assert (out / "checkpoint.pt").is_file()


def test_masks_are_tubes_and_disjoint():
    from vjepa_bench.training.config import MaskConfig

    ctx, tgt = sample_masks(3, 2, 4, 4, MaskConfig(), np.random.default_rng(0))
    for c, t in zip(ctx.tolist(), tgt.tolist()):
        assert not set(c) & set(t)
        assert c == sorted(c) and t == sorted(t)
    assert ctx.shape[0] == tgt.shape[0] == 3
    for seed in range(20):  # one sample is never thinned: its target is whole tubes, the context the rest
        ctx, tgt = sample_masks(1, 3, 4, 4, MaskConfig(), np.random.default_rng(seed))
        target = set(tgt[0].tolist())
        spatial = {i % 16 for i in target}
        assert target == {s + 16 * t for s in spatial for t in range(3)}
        assert set(ctx[0].tolist()) == set(range(48)) - target


def test_pretrain_loss_falls_and_checkpoint_loads(store: Path, tmp_path: Path):
    cfg = from_values(PretrainConfig, {
        "output_dir": str(tmp_path / "pt"), "encoder": "vit_tiny", "encoder_overrides": TINY_ENCODER,
        "predictor": "predictor_tiny", "predictor_overrides": TINY_PRED,
        "data": {"stores": [str(store)], "frames_per_clip": 4, "image_size": SIZE, "val_fraction": 0.0},
        "optim": {"start_lr": 1e-3, "peak_lr": 1e-3, "warmup_steps": 0, "constant_steps": 25, "decay_steps": 0},
        "batch_size": 4, "device": "cpu", "cpu_threads": 1, "log_every": 1, "checkpoint_every": 25, "progress": False,
    })  # fmt: skip
    pretrain(cfg)
    losses = [float(r["loss"]) for r in read_metrics(tmp_path / "pt")]
    assert len(losses) == 25
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    loaded = load_checkpoint(tmp_path / "pt" / "checkpoint.pt")
    assert loaded.encoder is not None and loaded.predictor is not None
    assert loaded.meta["step"] == 25
    pretrain(cfg)  # finished: nothing to do, summary kept
    summary = json.loads((tmp_path / "pt" / "summary.json").read_text())
    assert summary["steps"] == 25 and summary["loss"] == pytest.approx(losses[-1], rel=1e-5)


class _BrightnessEncoder(torch.nn.Module):
    """Features ``[b, 1, -1, 0]`` with ``b`` each frame's mean brightness (after the feature layer norm, their L1
    energy grows monotonically with the brightness difference, up to the norm's curvature)."""

    def encode_image(self, frames: torch.Tensor) -> torch.Tensor:
        b = frames.mean(dim=(1, 2, 3))
        one = torch.ones_like(b)
        return torch.stack([b, one, -one, 0 * one], dim=-1).unsqueeze(1).expand(-1, 2, 4)


class _LineSource:
    """One trajectory moving along x whose frames brighten with x (so energy is a monotone function of distance)."""

    def __init__(self, scale: float) -> None:
        self.x = np.linspace(0.0, 0.3, 12)
        self.scale = scale

    def lengths(self) -> list[int]:
        return [len(self.x)]

    def window(self, i: int, start: int, count: int):
        states = np.zeros((len(self.x), 7), np.float32)
        states[:, 0] = self.x
        images = np.stack([np.full((8, 8, 3), 40 + self.scale * x, np.uint8) for x in self.x])
        return images[start:start + count], states[start:start + count], None


def test_energy_vs_distance_diagnostic_ranks_pairs_by_distance():
    from vjepa_bench.training.diagnostics import energy_vs_distance

    report = energy_vs_distance(_BrightnessEncoder(), _LineSource(scale=600.0), [0], 8)
    assert report["pairs"] == 12 * 11 // 2 and sum(b["pairs"] for b in report["bins"]) == report["pairs"]
    assert report["spearman"] > 0.95  # energy follows |brightness difference|, itself proportional to distance
    flat = energy_vs_distance(_BrightnessEncoder(), _LineSource(scale=0.0), [0], 8)
    assert not flat["spearman"] > 0.5  # all frames alike: energy carries no distance (NaN or near 0)
