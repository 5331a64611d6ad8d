"""Clip sampling, the eval views and the feature cache against hand-computed cases: the EK100 clip ends on the last
frame before the observation end, the views crop where the protocol says, and an interrupted cache resumes."""

import h5py
import numpy as np
import pytest
import torch

from vjepa_bench.data.video import write_video
from vjepa_bench.errors import UsageError
from vjepa_bench.models import build_encoder
from vjepa_bench.video.annotations import Sample, Split
from vjepa_bench.video.clips import IMAGENET_MEAN, IMAGENET_STD, anticipation_indices, eval_views
from vjepa_bench.video.features import ClipSpec, cache_features, load_features, sample_views

STEP = 5  # frame i of the test videos is uniform grey 5 * i


def _pixels(views: torch.Tensor) -> torch.Tensor:
    """Normalised views back to 0..255."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
    return (views * std + mean) * 255


def test_anticipation_indices_step_back_from_the_last_frame():
    assert anticipation_indices(8.0, 4, 4.0, 16).tolist() == [[9, 11, 13, 15]]
    assert anticipation_indices(30.0, 3, 8.0, 100).tolist() == [[91, 95, 99]]  # back 3.75 and 7.5 frames: 4 and 8
    assert anticipation_indices(8.0, 4, 4.0, 3).tolist() == [[0, 0, 0, 2]]  # too little video: the first repeats


def test_ek100_clip_ends_on_the_last_frame_before_the_observation_end(tmp_path):
    frames = np.repeat((STEP * np.arange(48, dtype=np.uint8))[:, None, None, None], 32, 1).repeat(32, 2).repeat(3, 3)
    write_video(tmp_path / "v.MP4", frames, fps=8)
    spec = ClipSpec(frames_per_clip=4, frame_step=1, views=1, crop=32, fps=4.0)
    clip = sample_views(Sample("n", str(tmp_path / "v.MP4"), (0, 0, 0), end_time_s=4.0), spec)  # (1, 1, 3, T, H, W)
    shown = _pixels(clip[0, 0]).mean(dim=(0, 2, 3)) / STEP
    assert torch.round(shown).tolist() == [25, 27, 29, 31]  # 3.125 ... 3.875 s: frame 32 (4.0 s) is not seen


def test_three_views_are_equally_spaced_along_the_long_side():
    frames = np.zeros((2, 20, 40, 3), np.uint8)
    frames[..., 0] = 6 * np.arange(40)[None, None, :]  # red encodes the column
    views = eval_views(frames, crop=20, views=3)  # short side already 20: no resize
    assert views.shape == (3, 3, 2, 20, 20)
    first_column = _pixels(views)[:, 0, 0, 0, 0] / 6
    torch.testing.assert_close(first_column, torch.tensor([0.0, 10.0, 20.0]), atol=0.05, rtol=0)


def test_one_view_is_the_centre_crop_after_resizing_the_short_side():
    frames = np.full((2, 20, 40, 3), 128, np.uint8)
    views = eval_views(frames, crop=14, views=1)  # short side -> int(14 * 256 / 224) = 16, then the centre 14
    assert views.shape == (1, 3, 2, 14, 14)
    want = (128 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(views[0, :, 0, 0, 0], want, atol=1e-4, rtol=0)


def test_an_interrupted_feature_cache_resumes_and_refuses_other_settings(tmp_path):
    rng = np.random.default_rng(0)
    samples = []
    for i in range(3):
        write_video(tmp_path / f"{i}.mp4", rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8), fps=8)
        samples.append(Sample(str(i), str(tmp_path / f"{i}.mp4"), (i % 2,)))
    split = Split("t", samples, {"label": ["a", "b"]})
    torch.manual_seed(0)
    encoder = build_encoder("vit_tiny", depth=1, embed_dim=48, num_heads=3, mlp_hidden_dim=96).eval()
    spec = ClipSpec(frames_per_clip=4, frame_step=1, views=1, crop=32)
    path = cache_features(split, encoder, spec, tmp_path / "f.h5")
    whole = load_features(path).tokens
    with h5py.File(path, "a") as f:  # as if the run stopped before row 1 was written
        f["done"][1] = False
        f["tokens"][1] = 0
    with pytest.raises(UsageError, match="cache incomplete"):
        load_features(path)
    cache_features(split, encoder, spec, path)
    np.testing.assert_array_equal(load_features(path).tokens, whole)
    with pytest.raises(UsageError, match="cached for other samples, clip or layer settings"):
        cache_features(split, encoder, ClipSpec(frames_per_clip=2, frame_step=1, views=1, crop=32), path)
