"""Frozen-encoder features of a split, cached in one HDF5 file so that probe heads train from one pass.

Each sample becomes ``float16 (views, segments * tokens, D)``: the tokens of all segments of one view concatenated
along the token axis, as the probe reads them. With :class:`LayerSpec` layers, the tokens of one clip are the
listed encoder blocks' outputs (each through the final LayerNorm) concatenated along the token axis, as the V-JEPA 2
multi-level probe input is, or averaged. Rows are written as they are computed and a ``done`` flag per row
makes an interrupted run resume; a video that cannot be decoded is flagged ``broken`` and counted, never fatal.
"""

from __future__ import annotations

import logging
import zlib
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
    ``fps`` is used by anticipation samples (those with an observation end time); ``random_position`` places each
    segment's clip at random (seeded by the sample id, so a resumed cache agrees) instead of in the middle."""

    frames_per_clip: int = 16
    frame_step: int = 4
    segments: int = 1
    views: int = 1
    crop: int = 256
    fps: float = 8.0
    random_position: bool = False


LAYER_MERGES = ("concat", "mean")


@dataclass(frozen=True)
class LayerSpec:
    """Which encoder outputs are cached: the final one (``layers`` null), or the listed blocks (0-based, negative
    counts from the last) merged by ``concat`` (along the token axis) or ``mean``."""

    layers: tuple[int, ...] | None = None
    merge: str = "concat"

    def __post_init__(self) -> None:
        if self.layers is not None:  # a config gives a list; the cache key needs one spelling
            object.__setattr__(self, "layers", tuple(int(i) for i in self.layers))
        if self.merge not in LAYER_MERGES:
            raise UsageError(f"features.merge must be one of {LAYER_MERGES}, got {self.merge!r}")

    def validate(self, depth: int) -> None:
        """The listed blocks exist in an encoder of ``depth`` blocks."""
        if self.layers is not None and (not self.layers or any(not -depth <= i < depth for i in self.layers)):
            raise UsageError(f"features.layers={list(self.layers)}: list block indices in [-{depth}, {depth}) "
                             f"(the encoder has {depth} blocks), or null for the final output")


def sample_views(sample: Sample, spec: ClipSpec) -> torch.Tensor:
    """Decoded, sampled and transformed clips ``(views, segments, 3, T, crop, crop)``; raises BrokenVideo."""
    if sample.end_time_s is not None:
        start = max(sample.end_time_s - spec.frames_per_clip / spec.fps - 1.0, 0.0)
        video = decode_window(sample.path, start, sample.end_time_s)
        idx = anticipation_indices(video.fps, spec.frames_per_clip, spec.fps, len(video.frames))
    else:
        video = decode_all(sample.path)
        rng = np.random.default_rng(zlib.crc32(sample.id.encode())) if spec.random_position else None
        idx = segment_clip_indices(len(video.frames), spec.frames_per_clip, spec.frame_step, spec.segments, rng,
                                   start=sample.start_frame or 0, stop=sample.end_frame)
    clips = [eval_views(video.frames[row], spec.crop, spec.views) for row in idx]  # each (V, 3, T, H, W)
    return torch.stack(clips, dim=1)


@torch.no_grad()
def encode_views(encoder: VisionTransformer, views: torch.Tensor, layers: LayerSpec = LayerSpec()) -> torch.Tensor:
    """``(V, S, 3, T, H, W)`` -> tokens ``(V, S * N, D)`` (``N`` counts every concatenated layer's tokens)."""
    v, s = views.shape[:2]
    out = encoder(views.flatten(0, 1), out_layers=layers.layers)  # (V*S, N, D), or one such tensor per layer
    if isinstance(out, list):
        out = torch.cat(out, dim=1) if layers.merge == "concat" else torch.stack(out).mean(0)
    return out.reshape(v, s * out.shape[1], out.shape[2])


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
                   num_workers: int = 0, layers: LayerSpec = LayerSpec()) -> Path:
    """Encode every sample of ``split`` into ``path`` (resuming a partial file); returns the path.

    ``num_workers > 0`` decodes in spawned processes: a script that calls this directly needs the usual
    ``if __name__ == "__main__":`` guard (the ``vjepa-bench`` command has it)."""
    layers.validate(len(encoder.blocks))
    settings = f"{spec!r} {layers!r}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(split.samples)
    ids = [s.id for s in split.samples]
    with h5py.File(path, "a") as f:
        if "ids" in f:
            stored = [x.decode() for x in f["ids"][:]]
            if stored != ids or dict(f.attrs).get("spec") != settings:
                raise UsageError(f"{path}: cached for other samples, clip or layer settings; delete it or pick "
                                 "another output_dir")
        else:
            f["ids"] = np.array(ids, dtype="S")
            f["labels"] = np.array([s.labels for s in split.samples], dtype=np.int64).reshape(n, -1)
            f.create_dataset("done", data=np.zeros(n, bool))
            f.create_dataset("broken", data=np.zeros(n, bool))
            f.attrs["spec"] = settings
        todo = [i for i in range(n) if not f["done"][i]]
        # Spawned, not forked: a fork copies whatever locks the parent's threads (torch, PyAV, a robot watchdog)
        # hold at that instant, and a worker that needs one waits for ever.
        loader = torch.utils.data.DataLoader(_Decoded(split.samples, spec, todo), batch_size=None,
                                             num_workers=num_workers,
                                             multiprocessing_context="spawn" if num_workers else None)
        for i, views, error in loader:
            if views is None:
                log.warning("skipped broken video: %s", error)
                f["broken"][i] = True
            else:
                tokens = encode_views(encoder, views, layers).to(torch.float16).numpy()
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
