"""Frozen-encoder features of a split, cached in one HDF5 file so that probe heads train from one pass.

Each sample becomes ``float16 (views, segments * tokens, D)``: the tokens of all segments of one view concatenated
along the token axis, as the probe reads them. Rows are written as they are computed and a ``done`` flag per row
makes an interrupted run resume; a video that cannot be decoded is flagged ``broken`` and counted, never fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from vjepa_bench.errors import UsageError
from vjepa_bench.models import VisionTransformer
from vjepa_bench.video.annotations import Sample, Split
from vjepa_bench.video.clips import anticipation_indices, eval_views, segment_clip_indices
from vjepa_bench.video.decode import BrokenVideo, decode_all, decode_window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipSpec:
    """How clips are cut from one sample: frames per clip, frame step, segments, spatial views, crop size;
    ``fps`` is used by anticipation samples (those with an observation end time)."""

    frames_per_clip: int = 16
    frame_step: int = 4
    segments: int = 1
    views: int = 1
    crop: int = 256
    fps: float = 8.0


def sample_views(sample: Sample, spec: ClipSpec) -> torch.Tensor:
    """Decoded, sampled and transformed clips ``(views, segments, 3, T, crop, crop)``; raises BrokenVideo."""
    if sample.end_time_s is not None:
        start = max(sample.end_time_s - spec.frames_per_clip / spec.fps - 1.0, 0.0)
        video = decode_window(sample.path, start, sample.end_time_s)
        idx = anticipation_indices(video.fps, start, sample.end_time_s, spec.frames_per_clip, spec.fps,
                                   len(video.frames))
    else:
        video = decode_all(sample.path)
        idx = segment_clip_indices(len(video.frames), spec.frames_per_clip, spec.frame_step, spec.segments,
                                   start=sample.start_frame or 0, stop=sample.end_frame)
    clips = [eval_views(video.frames[row], spec.crop, spec.views) for row in idx]  # each (V, 3, T, H, W)
    return torch.stack(clips, dim=1)


@torch.no_grad()
def encode_views(encoder: VisionTransformer, views: torch.Tensor) -> torch.Tensor:
    """``(V, S, 3, T, H, W)`` -> tokens ``(V, S * N, D)``."""
    v, s = views.shape[:2]
    tokens = encoder(views.flatten(0, 1))  # (V*S, N, D)
    assert isinstance(tokens, torch.Tensor)
    return tokens.reshape(v, s * tokens.shape[1], tokens.shape[2])


class _Decoded(torch.utils.data.Dataset):
    """Decoding in DataLoader workers: item ``i`` -> (i, views or None, error message)."""

    def __init__(self, samples: list[Sample], spec: ClipSpec, todo: list[int]) -> None:
        self.samples, self.spec, self.todo = samples, spec, todo

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, j: int) -> tuple[int, torch.Tensor | None, str]:
        i = self.todo[j]
        try:
            return i, sample_views(self.samples[i], self.spec), ""
        except BrokenVideo as err:
            return i, None, str(err)


def cache_features(split: Split, encoder: VisionTransformer, spec: ClipSpec, path: str | Path,
                   num_workers: int = 0) -> Path:
    """Encode every sample of ``split`` into ``path`` (resuming a partial file); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(split.samples)
    ids = [s.id for s in split.samples]
    with h5py.File(path, "a") as f:
        if "ids" in f:
            stored = [x.decode() for x in f["ids"][:]]
            if stored != ids or dict(f.attrs).get("spec") != repr(spec):
                raise UsageError(f"{path}: cached for other samples or clip settings; delete it or pick another folder")
        else:
            f["ids"] = np.array(ids, dtype="S")
            f["labels"] = np.array([s.labels for s in split.samples], dtype=np.int64).reshape(n, -1)
            f.create_dataset("done", data=np.zeros(n, bool))
            f.create_dataset("broken", data=np.zeros(n, bool))
            f.attrs["spec"] = repr(spec)
        todo = [i for i in range(n) if not f["done"][i]]
        loader = torch.utils.data.DataLoader(_Decoded(split.samples, spec, todo), batch_size=None,
                                             num_workers=num_workers)
        for i, views, error in loader:
            if views is None:
                log.warning("skipped broken video: %s", error)
                f["broken"][i] = True
            else:
                tokens = encode_views(encoder, views).to(torch.float16).numpy()
                if "tokens" not in f:
                    f.create_dataset("tokens", shape=(n, *tokens.shape), dtype="f2", chunks=(1, *tokens.shape))
                f["tokens"][i] = tokens
            f["done"][i] = True
            f.flush()
    return path


@dataclass(frozen=True)
class CachedFeatures:
    """Tokens ``(M, V, N, D)`` and labels ``(M, heads)`` of the decodable samples, and how many were skipped."""

    tokens: np.ndarray
    labels: np.ndarray
    ids: list[str]
    skipped: int


def load_features(path: str | Path) -> CachedFeatures:
    with h5py.File(path, "r") as f:
        if not f["done"][:].all():
            raise UsageError(f"{path}: feature cache incomplete; run the extraction again to finish it")
        ok = ~f["broken"][:]
        tokens = f["tokens"][:][ok] if "tokens" in f else np.zeros((0,), np.float16)
        return CachedFeatures(tokens, f["labels"][:][ok], [x.decode() for x, k in zip(f["ids"][:], ok) if k],
                              int((~ok).sum()))
