"""Fuzzing the loaders of checkpoints and episode logs: a damaged file gives a clear one-line error or exactly the
data that was written (never other values, never another exception type). Stores and DROID folders are fuzzed
in ``test_reliability_data.py``."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vjepa_bench.errors import UsageError
from vjepa_bench.evaluation.records import EpisodeLog
from vjepa_bench.models.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from vjepa_bench.models.encoder import build_encoder

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_hidden_dim": 64, "patch_size": 8, "img_size": 16}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[bytes, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    encoder = build_encoder("vit_tiny", **TINY)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pt", encoder=encoder)
    return path.read_bytes(), {k: v.clone() for k, v in encoder.state_dict().items()}


def _damage(data: bytes, edits: list[tuple[float, int]], cut: float | None) -> bytes:
    damaged = bytearray(data)
    for where, value in edits:
        i = int(where * (len(damaged) - 1))
        damaged[i] = value if damaged[i] != value else (value + 1) % 256
    if cut is not None:
        damaged = damaged[: int(cut * len(damaged))]
    return bytes(damaged)


EDITS = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=0, max_size=8)
CUT = st.none() | st.floats(0, 1, exclude_max=True)


@FUZZ
@given(EDITS, CUT)
def test_a_damaged_checkpoint_is_refused_or_loads_the_saved_weights(tmp_path, checkpoint, edits, cut):
    data, weights = checkpoint
    damaged = _damage(data, edits, cut)
    path = tmp_path / "damaged.pt"
    path.write_bytes(damaged)
    try:
        loaded = load_checkpoint(path, kind="encoder")
    except (CheckpointError, UsageError) as err:
        assert str(err) and "\n" not in str(err).strip(), str(err)
        return
    state = loaded.encoder.state_dict()
    assert state.keys() == weights.keys()
    for key, value in weights.items():
        assert torch.equal(state[key], value), key


def _records(n: int) -> bytes:
    return b"".join(json.dumps({"episode": i, "seed": 10 + i, "success": i % 2 == 0}).encode() + b"\n"
                    for i in range(n))


@FUZZ
@given(st.integers(1, 6), EDITS, CUT)
def test_a_damaged_episode_log_is_refused_or_gives_records_that_were_written(tmp_path, n, edits, cut):
    written = {r["episode"]: r for r in map(json.loads, _records(n).splitlines())}
    path = tmp_path / "episodes.jsonl"
    path.write_bytes(_damage(_records(n), edits, cut))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            log = EpisodeLog(path)
    except UsageError as err:
        assert "\n" not in str(err) and str(path) in str(err)
        return
    for episode, record in log.records.items():
        # a flipped byte may leave a valid record: it must still be a record (the run hash in real logs then
        # refuses it at resume), and undamaged lines must read back exactly
        assert isinstance(record["seed"], int) and isinstance(record["success"], bool)
    if not edits:  # only cut: exactly the complete lines before the cut (a partial last line is left out)
        complete = _damage(_records(n), [], cut).count(b"\n")
        assert log.records == {e: written[e] for e in range(complete)}


def test_an_intact_checkpoint_loads_bit_for_bit(tmp_path, checkpoint):
    data, weights = checkpoint
    (tmp_path / "ok.pt").write_bytes(data)
    state = load_checkpoint(tmp_path / "ok.pt", kind="encoder").encoder.state_dict()
    assert all(torch.equal(state[k], v) for k, v in weights.items())
