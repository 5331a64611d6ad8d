"""Video decoding and encoding through imageio's ffmpeg backend (``imageio-ffmpeg``).

Frames are selected inside ffmpeg (its ``select`` filter), so only the frames asked for are converted to RGB and
piped back; decoding stops after the last one.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

__all__ = ["VideoInfo", "video_info", "read_video", "write_video"]


class _DropResizeNotice(logging.Filter):
    """imageio-ffmpeg warns whenever the output size differs from the stored one; with ``size=`` that is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_DropResizeNotice())


@dataclass(frozen=True)
class VideoInfo:
    """What the container reports about its video stream (``n_frames`` is counted by decoding)."""

    fps: float
    width: int
    height: int
    n_frames: int


@functools.cache
def _passthrough_args() -> tuple[str, ...]:
    """Output frames one-to-one with the selected input frames (``-fps_mode`` since ffmpeg 5.1, ``-vsync`` before)."""
    version = imageio_ffmpeg.get_ffmpeg_version()
    match = re.search(r"(\d+)\.(\d+)", version)
    if match is None or (int(match[1]), int(match[2])) >= (5, 1):
        return ("-fps_mode", "passthrough")
    return ("-vsync", "0")


def _check_exists(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video file not found: {path}")
    return path


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, size and number of frames of a video file."""
    path = _check_exists(path)
    reader = imageio_ffmpeg.read_frames(path)
    try:
        meta = next(reader)
    finally:
        reader.close()
    n_frames, _ = imageio_ffmpeg.count_frames_and_secs(path)
    width, height = meta["size"]
    return VideoInfo(fps=float(meta["fps"]), width=int(width), height=int(height), n_frames=int(n_frames))


def read_video(
    path: str | os.PathLike,
    indices: Sequence[int] | None = None,
    *,
    stride: int = 1,
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, float]:
    """Decode frames of a video file to ``uint8 (N, H, W, 3)`` RGB and return them with the file's frame rate.

    Args:
        path: video file (anything ffmpeg reads; MP4 in DROID).
        indices: frame numbers to return, in the order given (repeats allowed). Every index must exist in the
            file, else ``IndexError``. ``None``: every ``stride``-th frame from frame 0 to the end.
        stride: step between returned frames when ``indices`` is ``None``.
        size: ``(height, width)`` to resize to inside ffmpeg (bilinear); ``None`` keeps the stored size.
    """
    path = _check_exists(path)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    filters = []
    wanted: list[int] | None = None
    if indices is not None:
        wanted = [int(i) for i in indices]
        if any(i < 0 for i in wanted):
            raise IndexError(f"negative frame index in {wanted} for {path}")
        unique = sorted(set(wanted))
        if unique:
            filters.append("select=" + "+".join(f"eq(n\\,{i})" for i in unique))
    elif stride > 1:
        filters.append(f"select=not(mod(n\\,{stride}))")
    if size is not None:
        filters.append(f"scale={int(size[1])}:{int(size[0])}:flags=bilinear")
    output_params = list(_passthrough_args())
    if filters:
        output_params = ["-vf", ",".join(filters)] + output_params

    if wanted is not None and not wanted:
        info = video_info(path)
        height, width = size if size is not None else (info.height, info.width)
        return np.zeros((0, height, width, 3), np.uint8), info.fps

    reader = imageio_ffmpeg.read_frames(path, output_params=output_params)
    try:
        meta = next(reader)
        width, height = meta["size"]
        n_limit = len(set(wanted)) if wanted is not None else None
        frames = _collect(reader, height, width, n_limit)
    except (OSError, RuntimeError) as error:
        raise OSError(f"cannot decode video {path}: {error}") from error
    finally:
        reader.close()

    if wanted is not None:
        unique = sorted(set(wanted))
        if len(frames) < len(unique):
            missing = unique[len(frames)]
            raise IndexError(
                f"frame {missing} requested but {path} has fewer frames "
                f"(decoded {len(frames)} of the {len(unique)} wanted)"
            )
        position = {frame: k for k, frame in enumerate(unique)}
        frames = frames[[position[i] for i in wanted]]
    return frames, float(meta["fps"])


def _collect(reader: Iterable[bytes], height: int, width: int, limit: int | None) -> np.ndarray:
    frames = []
    for raw in reader:
        frames.append(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
        if limit is not None and len(frames) >= limit:
            break
    if not frames:
        return np.zeros((0, height, width, 3), np.uint8)
    return np.stack(frames)


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray] | np.ndarray, fps: float, quality: float = 8.0) -> Path:
    """Encode ``uint8 (N, H, W, 3)`` RGB frames to an H.264 MP4; odd sizes are padded by one edge pixel."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be uint8 (N, H, W, 3) with N > 0, got {frames.dtype} {frames.shape}")
    pad = ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0))
    if any(p[1] for p in pad):
        frames = np.pad(frames, pad, mode="edge")
    height, width = frames.shape[1:3]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(os.fspath(path), (width, height), fps=fps, quality=quality, macro_block_size=1)
    writer.send(None)
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()
    return path
