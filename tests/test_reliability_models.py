"""Model files are read safely and checked: no code runs, weights are finite floats matching their recorded hash,
released files match their published size, HF configs are validated per key, a world model's parts fit, and the
planner refuses a non-finite energy."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vjepa_bench.errors import UsageError
from vjepa_bench.models import registry
from vjepa_bench.models.ac_predictor import build_ac_predictor
from vjepa_bench.models.checkpoints import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from vjepa_bench.models.encoder import build_encoder
from vjepa_bench.models.hf import configs_from_hf
from vjepa_bench.models.world_model import check_world_model
from vjepa_bench.planning import NonFiniteEnergy, Planner, PlannerConfig, refine

TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_hidden_dim": 64, "patch_size": 8, "img_size": 16}


def _encoder() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_encoder("vit_tiny", **TINY)


class PlantedCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path):
    marker = tmp_path / "marker"
    torch.save({"encoder": _encoder().state_dict(), "extra": PlantedCode(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refused") as err:
        load_checkpoint(tmp_path / "evil.pt")
    assert str(tmp_path / "evil.pt") in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()
    assert "trusted" not in load_checkpoint.__code__.co_varnames


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_checkpoints_are_written_0644_less_the_umask(tmp_path: Path, umask: int):
    old = os.umask(umask)
    try:
        out = save_checkpoint(tmp_path / "ckpt.pt", encoder=_encoder())
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644 & ~umask


def test_a_failed_checkpoint_write_leaves_nothing_behind(tmp_path: Path):
    with pytest.raises(Exception):
        save_checkpoint(tmp_path / "ckpt.pt", encoder=_encoder(), meta={"not_picklable": lambda: 0})
    assert list(tmp_path.iterdir()) == []
    save_checkpoint(tmp_path / "ckpt.pt", encoder=_encoder())
    before = (tmp_path / "ckpt.pt").read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(tmp_path / "ckpt.pt", encoder=_encoder(), meta={"not_picklable": lambda: 0})
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"] and (tmp_path / "ckpt.pt").read_bytes() == before


def test_flipped_bytes_in_our_checkpoint_are_an_error_not_wrong_weights(tmp_path: Path):
    encoder = _encoder()
    path = save_checkpoint(tmp_path / "ckpt.pt", encoder=encoder)
    weights = encoder.state_dict()["blocks.0.mlp.fc1.weight"]
    data = bytearray(path.read_bytes())
    at = data.find(weights.numpy().tobytes())
    assert at > 0
    for i in range(at + 128, at + 192):  # 64 bytes inside one tensor
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    for load in (lambda: load_checkpoint(path), lambda: load_weights(_encoder(), path)):
        with pytest.raises(CheckpointError, match="do not match the sha256 recorded") as err:
            load()
        assert str(path) in str(err.value)


def test_non_finite_or_integer_weights_are_refused(tmp_path: Path):
    encoder = _encoder()
    with torch.no_grad():
        encoder.blocks[0].mlp.fc1.weight[0, 0] = float("nan")
    save_checkpoint(tmp_path / "nan.pt", encoder=encoder)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "nan.pt")
    assert "'blocks.0.mlp.fc1.weight' holds NaN or infinite values" in str(err.value)
    assert str(tmp_path / "nan.pt") in str(err.value)

    sd = _encoder().state_dict()
    sd["norm.weight"] = sd["norm.weight"].to(torch.int64)
    torch.save({"encoder": sd}, tmp_path / "int.pt")
    with pytest.raises(CheckpointError, match="'norm.weight' has dtype torch.int64, expected a floating dtype"):
        load_checkpoint(tmp_path / "int.pt")


def test_a_released_file_of_the_wrong_size_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    torch.save({"encoder": _encoder().state_dict()}, tmp_path / "vitl.pt")
    size = (tmp_path / "vitl.pt").stat().st_size
    entry = registry.OFFICIAL_CHECKPOINTS["vitl"]
    monkeypatch.setitem(registry.OFFICIAL_CHECKPOINTS, "vitl", dataclasses.replace(entry, size_bytes=size + 1))
    with pytest.raises(CheckpointError, match=f"{size} bytes, but the released vitl.pt has {size + 1}"):
        load_checkpoint("vitl", checkpoint_dir=tmp_path, kind="encoder")
    monkeypatch.setitem(registry.OFFICIAL_CHECKPOINTS, "vitl", dataclasses.replace(entry, size_bytes=size))
    assert load_checkpoint("vitl", checkpoint_dir=tmp_path, kind="encoder").encoder is not None


@pytest.mark.parametrize(
    "key, value, expected",
    [("hidden_size", "1024", "a positive integer"), ("num_hidden_layers", 2.5, "a positive integer"),
     ("layer_norm_eps", float("nan"), "a positive finite number"), ("qkv_bias", "false", "true or false"),
     ("pred_hidden_size", -384, "a positive integer")],
)  # fmt: skip
def test_malformed_hf_config_values_name_their_key(key: str, value: object, expected: str):
    with pytest.raises(CheckpointError) as err:
        configs_from_hf({key: value}, "snap/config.json")
    assert str(err.value).startswith(f"snap/config.json: key {key!r} is {value!r}, expected {expected}")


def test_a_malformed_hf_snapshot_is_refused_at_load(tmp_path: Path):
    save_file({"x": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": None}))
    with pytest.raises(CheckpointError, match=f"{tmp_path}/config.json: key 'hidden_size' is None"):
        load_checkpoint(tmp_path)


def test_an_encoder_and_predictor_of_other_widths_do_not_form_a_world_model():
    encoder = _encoder()
    fits = build_ac_predictor("ac_tiny", embed_dim=32, img_size=16, patch_size=8, predictor_embed_dim=32, depth=1,
                              num_heads=2, mlp_hidden_dim=64)  # fmt: skip
    check_world_model(encoder, fits, "model.pt")
    wider = build_ac_predictor("ac_tiny", embed_dim=48, img_size=16, patch_size=8, predictor_embed_dim=32, depth=1,
                               num_heads=2, mlp_hidden_dim=64)  # fmt: skip
    with pytest.raises(UsageError) as err:
        check_world_model(encoder, wider, "model.pt")
    assert str(err.value).startswith("model.pt: the encoder and the AC predictor do not fit (embed_dim 32 vs 48")


@pytest.mark.parametrize("method", ["cem", "cem_grad"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_energy_is_an_error_not_a_plan(method: str, bad: float):
    config = PlannerConfig(method=method, horizon=2, samples=8, topk=2, iterations=2, grad_steps=2, grad_candidates=2)

    def some_bad(actions: torch.Tensor) -> torch.Tensor:
        """Finite for most sequences, ``bad`` for those whose first x-step is positive."""
        return (actions**2).sum((1, 2)) + torch.where(actions[:, 0, 0] > 0, bad, 0.0)

    def all_bad(actions: torch.Tensor) -> torch.Tensor:
        return (actions**2).sum((1, 2)) + bad

    for energy in (some_bad, all_bad):
        with pytest.raises(NonFiniteEnergy, match="^world model produced non-finite energy"):
            Planner(config).plan(energy)
    with pytest.raises(NonFiniteEnergy, match="^world model produced non-finite energy .* gradient refinement"):
        refine(all_bad, config, torch.zeros(2, 2, 7))
