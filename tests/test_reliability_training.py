"""Training files are safe to read and hard to damage: no code runs from a train state, a kill during the metrics
rewrite keeps the history, the feature cache follows the store's content, non-finite data and losses stop a run."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from vjepa_bench import layout
from vjepa_bench.data.store import Trajectory, TrajectoryReader, TrajectoryWriter
from vjepa_bench.errors import UsageError
from vjepa_bench.fileio import FolderLock
from vjepa_bench.models.checkpoints import load_checkpoint
from vjepa_bench.models.encoder import build_encoder
from vjepa_bench.schema import from_values
from vjepa_bench.training.ac_trainer import train_ac
from vjepa_bench.training.config import PretrainConfig, TrainACConfig
from vjepa_bench.training.features import load_or_build_cache
from vjepa_bench.training.pretrain import pretrain
from vjepa_bench.training.runtime import NonFiniteLoss

SIZE = 16
TINY_ENCODER = {"embed_dim": 16, "depth": 1, "num_heads": 2, "mlp_hidden_dim": 32, "patch_size": 8, "img_size": SIZE}
TINY_AC = {"predictor_embed_dim": 16, "depth": 1, "num_heads": 2, "mlp_hidden_dim": 32}
TINY_PRED = {"predictor_embed_dim": 16, "depth": 1, "num_heads": 2, "mlp_hidden_dim": 32}


def _write_store(root: Path, brightness: int = 40, count: int = 4, frames: int = 6) -> Path:
    writer = TrajectoryWriter(root, shard_size=8)
    rng = np.random.default_rng(0)
    for index in range(count):
        states = np.zeros((frames, 7), np.float32)
        states[:, :2] = np.cumsum(rng.uniform(-0.05, 0.05, (frames, 2)), 0)
        images = np.full((frames, SIZE, SIZE, 3), brightness + 10 * index, np.uint8)
        actions = layout.action_between(states[:-1], states[1:])
        writer.write(Trajectory(images=images, states=states, actions=actions, task="t", seed=index, index=index))
    return root


def _ac_config(store: Path, out: Path, steps: int = 2, **optim: float) -> TrainACConfig:
    return from_values(TrainACConfig, {
        "output_dir": str(out), "encoder": {"preset": "vit_tiny", "overrides": TINY_ENCODER},
        "predictor": "ac_tiny", "predictor_overrides": TINY_AC,
        "data": {"stores": [str(store)], "frames_per_clip": 3, "image_size": SIZE, "val_fraction": 0.25},
        "optim": {"start_lr": 1e-3, "peak_lr": 1e-3, "warmup_steps": 0, "constant_steps": steps, "decay_steps": 0,
                  **optim},
        "batch_size": 2, "cpu_threads": 1, "device": "cpu", "log_every": 1, "val_every": 100, "checkpoint_every": 1,
        "progress": False,
    })  # fmt: skip


def _pretrain_config(store: Path, out: Path) -> PretrainConfig:
    return from_values(PretrainConfig, {
        "output_dir": str(out), "encoder": "vit_tiny", "encoder_overrides": TINY_ENCODER,
        "predictor": "predictor_tiny", "predictor_overrides": TINY_PRED,
        "data": {"stores": [str(store)], "frames_per_clip": 2, "image_size": SIZE, "val_fraction": 0.0},
        "optim": {"start_lr": 1e-3, "peak_lr": 1e-3, "warmup_steps": 0, "constant_steps": 2, "decay_steps": 0},
        "batch_size": 2, "device": "cpu", "cpu_threads": 1, "log_every": 1, "checkpoint_every": 1, "progress": False,
    })  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_store(tmp_path_factory.mktemp("store"))


class PlantedCode:
    """Unpickling this would create ``marker``: what a malicious train_state.pt could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("trainer", ["train-ac", "pretrain"])
def test_a_train_state_that_would_run_code_is_refused(store: Path, tmp_path: Path, trainer: str):
    out, marker = tmp_path / "run", tmp_path / "marker"
    out.mkdir()
    torch.save({"step": 1, "payload": PlantedCode(marker)}, out / "train_state.pt")
    with pytest.raises(UsageError) as err:
        if trainer == "train-ac":
            train_ac(_ac_config(store, out))
        else:
            pretrain(_pretrain_config(store, out))
    message = str(err.value)
    assert str(out / "train_state.pt") in message and "refused" in message and "\n" not in message
    assert not marker.exists()


def test_train_state_round_trips_with_weights_only(store: Path, tmp_path: Path):
    train_ac(_ac_config(store, tmp_path / "ac", steps=2))
    pretrain(_pretrain_config(store, tmp_path / "pt"))
    for run in ("ac", "pt"):
        state = torch.load(tmp_path / run / "train_state.pt", weights_only=True)
        assert state["step"] == 2
    assert sorted(p.name for p in (tmp_path / "ac").iterdir() if p.name.endswith(".tmp")) == []


def test_a_pretrain_resume_on_another_data_order_is_refused(store: Path, tmp_path: Path):
    out = tmp_path / "pt"
    cfg = _pretrain_config(store, out)
    pretrain(cfg)
    other_store = _write_store(tmp_path / "other")
    changes = {
        "seed": dataclasses.replace(cfg, seed=1),
        "split_seed": dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, split_seed=5)),
        "stores": dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, stores=[str(other_store)])),
    }
    for name, changed in changes.items():
        with pytest.raises(UsageError, match="another data order") as err:
            pretrain(changed)
        message = str(err.value)
        assert f"({name} " in message and message.count(" -> now ") == 1 and "\n" not in message
    assert torch.load(out / "train_state.pt", weights_only=True)["step"] == 2
    pretrain(cfg)  # the saved settings still resume (finished: nothing to do)


def test_a_pretrain_resume_with_another_model_is_refused(store: Path, tmp_path: Path):
    out = tmp_path / "pt"
    cfg = _pretrain_config(store, out)
    pretrain(cfg)
    saved = (out / "train_state.pt").read_bytes()
    heads = dataclasses.replace(cfg, encoder_overrides={**TINY_ENCODER, "num_heads": 4})  # same shapes
    wider = dataclasses.replace(cfg, predictor_overrides={**TINY_PRED, "predictor_embed_dim": 32})
    for changed in (heads, wider):
        with pytest.raises(UsageError, match="another encoder or predictor config") as err:
            pretrain(changed)
        assert str(out / "train_state.pt") in str(err.value) and "\n" not in str(err.value)
    assert (out / "train_state.pt").read_bytes() == saved


def test_a_kill_while_metrics_history_is_rewritten_keeps_it(tmp_path: Path):
    history = "step,split,lr,loss,loss_tf,loss_rollout,grad_norm,ema,seconds\n" + "".join(
        f"{s},train,0.001,{1 / s:.4f},,,,,{s}\n" for s in range(1, 6)
    )
    (tmp_path / "metrics.csv").write_text(history)
    script = textwrap.dedent(f"""
        import csv, os
        from pathlib import Path
        from vjepa_bench.training.runtime import MetricsLog
        csv.DictWriter.writerows = lambda self, rows: os._exit(9)   # killed in the middle of the rewrite
        MetricsLog(Path({str(tmp_path)!r}), resume_step=3, tensorboard=False)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr[-2000:]
    assert (tmp_path / "metrics.csv").read_text() == history
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_feature_cache_follows_the_store_content(tmp_path: Path):
    torch.manual_seed(0)
    encoder = build_encoder("vit_tiny", **TINY_ENCODER).eval()
    root = _write_store(tmp_path / "store")
    first = load_or_build_cache(tmp_path / "features.pt", encoder, TrajectoryReader(root), [str(root)], SIZE,
                                torch.device("cpu"), progress=False)  # fmt: skip
    for shard in root.iterdir():
        shard.unlink()
    _write_store(root, brightness=120)  # same paths, same lengths, other images
    reader = TrajectoryReader(root)
    second = load_or_build_cache(tmp_path / "features.pt", encoder, reader, [str(root)], SIZE, torch.device("cpu"),
                                 progress=False)  # fmt: skip
    assert second["key"] != first["key"]
    assert not torch.equal(second["features"][0], first["features"][0])
    again = load_or_build_cache(tmp_path / "features.pt", encoder, reader, [str(root)], SIZE, torch.device("cpu"),
                                progress=False)  # fmt: skip
    assert again["key"] == second["key"] and torch.equal(again["features"][0], second["features"][0])


@pytest.mark.parametrize("field", ["states", "actions"])
def test_non_finite_store_data_is_refused_before_training(tmp_path: Path, field: str):
    root = _write_store(tmp_path / "store")
    shard = next(root.glob("shard_*.h5"))
    with h5py.File(shard, "r+") as f:
        f[f"trajectories/0000002/{field}"][1, 0] = np.nan
    out = tmp_path / "run"
    with pytest.raises(UsageError) as err:
        train_ac(_ac_config(root, out))
    assert str(err.value) == (
        f"{shard}:/trajectories/0000002/{field} holds NaN or infinite values; fix or re-collect that trajectory, "
        "or leave its store out of data.stores"
    )
    assert not (out / "checkpoint.pt").exists() and not (out / "metrics.csv").exists()


def test_a_diverging_run_stops_without_writing_non_finite_weights(store: Path, tmp_path: Path):
    out = tmp_path / "run"
    cfg = _ac_config(store, out, steps=20, start_lr=1e30, peak_lr=1e30)
    with pytest.raises(NonFiniteLoss, match=r"^step \d+: the (training loss|predictor's weights) is not finite"):
        train_ac(dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, grad_clip=0.0)))
    if (out / "checkpoint.pt").exists():  # written at an earlier, still finite step
        loaded = load_checkpoint(out / "checkpoint.pt")
        assert all(torch.isfinite(v).all() for v in loaded.ac_predictor.state_dict().values())


@pytest.mark.parametrize("trainer", ["train-ac", "pretrain"])
def test_a_second_training_run_on_a_folder_in_use_is_refused_at_once(store: Path, tmp_path: Path, trainer: str):
    out = tmp_path / "run"
    with FolderLock(out, "the first run"):
        with pytest.raises(UsageError) as err:
            if trainer == "train-ac":
                train_ac(_ac_config(store, out))
            else:
                pretrain(_pretrain_config(store, out))
    assert "in use by" in str(err.value) and "the first run" in str(err.value) and "\n" not in str(err.value)
    assert not (out / "train_state.pt").exists() and not (out / "metrics.csv").exists()
