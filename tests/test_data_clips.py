"""Clip dataset (shapes, determinism, skipping, actions) and the training / deployment preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vjepa_bench import layout
from vjepa_bench.data.clips import ClipDataset
from vjepa_bench.data.store import Trajectory, TrajectoryReader, TrajectoryWriter
from vjepa_bench.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    preprocess_frames,
    preprocess_train_frames,
    square_crop_box,
    train_crop_box,
)

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    writer = TrajectoryWriter(root, shard_size=2)
    for index, length in enumerate([12, 3, 9, 20]):
        rng = np.random.default_rng(index)
        states = np.cumsum(rng.normal(scale=0.02, size=(length, 7)), axis=0).astype(np.float32)
        states[:, layout.GRIPPER] = np.clip(states[:, layout.GRIPPER], 0, 1)
        writer.write(
            Trajectory(
                images=rng.integers(0, 256, (length, 24, 40, 3), dtype=np.uint8),
                states=states,
                actions=np.full((length - 1, 7), 0.01 * (index + 1), np.float32),
                task="t", seed=index, success=True, index=index,
            )  # fmt: skip
        )
    return TrajectoryReader(root)


def test_clip_shapes_and_skipped_short_trajectories(reader):
    dataset = ClipDataset(reader, frames_per_clip=8, size=32, seed=0)
    assert len(dataset) == 3 and dataset.n_skipped == 1 and dataset.trajectories == [0, 2, 3]
    item = dataset[1]
    assert item["images"].shape == (8, 3, 32, 32) and item["images"].dtype == torch.float32
    assert item["states"].shape == (8, 7) and item["actions"].shape == (7, 7)
    start = item["start"]
    assert 0 <= start <= 9 - 8
    trajectory = reader[2]
    np.testing.assert_array_equal(item["states"].numpy(), trajectory.states[start : start + 8])
    expected = preprocess_train_frames(trajectory.images[start : start + 8], 32)
    torch.testing.assert_close(item["images"], expected)
    window = trajectory.states[start : start + 8]
    np.testing.assert_allclose(item["actions"].numpy(), layout.action_between(window[:-1], window[1:]))
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert batch["images"].shape == (3, 8, 3, 32, 32) and batch["actions"].shape == (3, 7, 7)
    with pytest.raises(ValueError, match="no trajectory"):
        ClipDataset(reader, frames_per_clip=21)


def test_clips_are_deterministic_given_seed_and_epoch(reader):
    a = ClipDataset(reader, frames_per_clip=4, size=16, seed=7)
    b = ClipDataset(reader, frames_per_clip=4, size=16, seed=7)
    starts = [a[k]["start"] for k in range(len(a))]
    assert starts == [b[k]["start"] for k in range(len(b))]
    torch.testing.assert_close(a[2]["images"], b[2]["images"], rtol=0, atol=0)
    drawn = set()
    for epoch in range(8):
        a.set_epoch(epoch)
        drawn.add(tuple(a[k]["start"] for k in range(len(a))))
    assert len(drawn) > 1
    other = ClipDataset(reader, frames_per_clip=4, size=16, seed=8)
    assert [other[k]["start"] for k in range(len(other))] != starts


def test_stored_actions_option(reader):
    dataset = ClipDataset(reader, frames_per_clip=4, size=16, actions="stored")
    torch.testing.assert_close(dataset[2]["actions"], torch.full((3, 7), 0.04))


def test_train_crop_box_matches_official_fallback():
    assert train_crop_box(720, 1280) == (0, 154, 720, 972)  # 16:9 DROID frames: 972 x 720 centre crop
    assert train_crop_box(256, 256) == (0, 0, 256, 256)
    assert train_crop_box(100, 135) == (0, 0, 100, 135)
    assert train_crop_box(400, 100) == (133, 0, 133, 100)  # too tall: height = round(width / 0.75)
    assert square_crop_box(720, 1280) == (0, 280, 720, 720)


def test_preprocessing_crops_resizes_and_normalises():
    frames = np.zeros((2, 72, 128, 3), np.uint8)
    frames[..., :] = (10, 120, 250)
    frames[:, :, :28] = 0  # left and right margins outside the square centre crop (72 px wide, from x = 28)
    frames[:, :, 100:] = 255
    deployed = preprocess_frames(frames, 36)
    assert deployed.shape == (2, 3, 36, 36) and deployed.dtype == torch.float32
    expected = (torch.tensor([10, 120, 250]).float().view(1, 3, 1, 1) / 255 - MEAN) / STD
    torch.testing.assert_close(deployed, expected.expand(2, 3, 36, 36))

    trained = preprocess_train_frames(frames, 36)  # keeps 97 of 128 columns: the margins show at the edges
    box = train_crop_box(72, 128)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    x = x[:, :, :, box[1] : box[1] + box[3]]
    reference = (F.interpolate(x, size=(36, 36), mode="bilinear", align_corners=False, antialias=False) - MEAN) / STD
    torch.testing.assert_close(trained, reference)
    assert trained[0, 0, 0, 0] < deployed[0, 0, 0, 0] < trained[0, 0, 0, -1]


def test_preprocess_identity_size_and_tensor_input():
    frames = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8)
    out = preprocess_frames(frames, 64)
    torch.testing.assert_close(out * STD + MEAN, frames.permute(0, 3, 1, 2).float() / 255)
    with pytest.raises(ValueError, match=r"uint8 \(N, H, W, 3\)"):
        preprocess_frames(frames[0], 64)
    with pytest.raises(ValueError, match="uint8"):
        preprocess_frames(frames.float(), 64)


@pytest.mark.parametrize("actions", ["from_states", "stored"])
@pytest.mark.parametrize("fixed", [False, True])
def test_cached_feature_clips_take_the_same_windows_and_actions_as_frame_clips(reader, actions, fixed):
    from vjepa_bench.training.features import FeatureClipDataset

    trajectories = [reader[i] for i in range(len(reader))]
    cache = {"features": [torch.zeros(len(t), 2, 3) for t in trajectories],
             "states": [torch.from_numpy(t.states) for t in trajectories],
             "actions": [torch.from_numpy(t.actions) for t in trajectories]}
    frames = ClipDataset(reader, frames_per_clip=4, size=16, actions=actions, seed=5, fixed=fixed)
    features = FeatureClipDataset(cache, list(range(len(reader))), 4, actions, seed=5, fixed=fixed)
    for epoch in (0, 3):
        frames.set_epoch(epoch)
        features.set_epoch(epoch)
        assert len(frames) == len(features) == 3  # the 3-frame trajectory is skipped by both
        for k in range(len(frames)):
            a, b = frames[k], features[k]
            assert torch.equal(a["states"], b["states"]) and torch.equal(a["actions"], b["actions"])
    if fixed:
        assert [frames.windows.start(k) for k in range(3)] == [(12 - 4) // 2, (9 - 4) // 2, (20 - 4) // 2]
