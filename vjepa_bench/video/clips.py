"""Clip sampling and the evaluation transforms of the frozen-encoder protocol.

Sampling (classification): the frame range of a video is cut into ``segments`` equal parts; in each part one clip
of ``frames_per_clip`` frames, ``frame_step`` apart, is taken (indices past the end repeat the last frame). The clip
sits in the middle of its part unless a random generator is given: the V-JEPA 2 loader draws that position at
random even when validating, which ``clips.random_position=true`` reproduces.

Anticipation (EK100): one clip of ``frames_per_clip`` frames at ``fps``; its last frame is the last one before the
observation end time.

Views: ``views=1`` resizes the short side to ``int(crop * 256 / 224)`` and takes the centre ``crop``;
``views=3`` resizes the short side to ``crop`` and takes three crops equally spaced along the long side.
Pixels are scaled to [0, 1] and normalised with the ImageNet mean and std. Images become clips of repeated frames.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def segment_clip_indices(n_frames: int, frames_per_clip: int, frame_step: int, segments: int,
                         rng: np.random.Generator | None = None, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Frame indices ``(segments, frames_per_clip)`` inside ``[start, stop)`` of a video with ``n_frames``."""
    stop = n_frames if stop is None else min(stop, n_frames)
    start = min(max(start, 0), max(stop - 1, 0))
    length = max(stop - start, 1)
    window = (frames_per_clip - 1) * frame_step + 1
    bounds = np.linspace(start, start + length, segments + 1)
    out = np.empty((segments, frames_per_clip), np.int64)
    for s in range(segments):
        lo, hi = bounds[s], bounds[s + 1]
        slack = max(hi - lo - window, 0.0)
        offset = rng.uniform(0.0, slack) if rng is not None else slack / 2
        first = int(lo + offset)
        out[s] = first + frame_step * np.arange(frames_per_clip)
    return np.clip(out, 0, max(n_frames - 1, 0))


def anticipation_indices(fps: float, frames_per_clip: int, target_fps: float, n_frames: int) -> np.ndarray:
    """Indices ``(1, frames_per_clip)`` into the ``n_frames`` frames (at ``fps``) decoded up to the observation end:
    the last one is the last frame before the end, the others go back ``1 / target_fps`` each."""
    back = np.round((frames_per_clip - 1 - np.arange(frames_per_clip)) * fps / target_fps).astype(np.int64)
    return np.clip(n_frames - 1 - back, 0, max(n_frames - 1, 0))[None]


def _resize_short(video: torch.Tensor, short: int) -> torch.Tensor:
    """``(T, C, H, W)`` float with the short side resized to ``short`` (bilinear)."""
    h, w = video.shape[-2:]
    scale = short / min(h, w)
    size = (max(short, round(h * scale)), max(short, round(w * scale)))
    return F.interpolate(video, size=size, mode="bilinear", align_corners=False, antialias=True)


def eval_views(frames: np.ndarray, crop: int, views: int) -> torch.Tensor:
    """``uint8 (T, H, W, 3)`` -> normalised views ``float (views, 3, T, crop, crop)``."""
    if views not in (1, 3):
        raise ValueError(f"views must be 1 or 3, got {views}")
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # (T, C, H, W)
    video = _resize_short(video, int(crop * 256 / 224) if views == 1 else crop)
    h, w = video.shape[-2:]
    if views == 1:
        tops, lefts = [(h - crop) // 2], [(w - crop) // 2]
    elif h >= w:
        tops, lefts = [round(x) for x in np.linspace(0, h - crop, 3)], [(w - crop) // 2] * 3
    else:
        tops, lefts = [(h - crop) // 2] * 3, [round(x) for x in np.linspace(0, w - crop, 3)]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    out = [((video[:, :, t:t + crop, l:l + crop] - mean) / std).permute(1, 0, 2, 3) for t, l in zip(tops, lefts)]
    return torch.stack(out)
