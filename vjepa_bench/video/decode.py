"""Reading frames from videos, frame folders and still images with PyAV.

A source that cannot be read (missing, truncated, not a video, no frames) raises :class:`BrokenVideo`; the dataset
turns that into a skipped sample that is counted in the results, never the end of a run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class BrokenVideo(Exception):
    """A video that cannot be decoded; the message names the file and the reason."""


@dataclass(frozen=True)
class VideoFrames:
    """Decoded frames ``uint8 (T, H, W, 3)`` and the stream's frame rate."""

    frames: np.ndarray
    fps: float


def is_image(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().endswith(IMAGE_SUFFIXES)


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as err:
        raise BrokenVideo(f"{path}: unreadable image ({err})") from None


def _frame_folder(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if is_image(p))
    if not files:
        raise BrokenVideo(f"{path}: a folder with no .jpg/.png frames")
    return files


def decode_all(path: str | os.PathLike[str]) -> VideoFrames:
    """Every frame of a video file, a folder of frame images (Jester) or a single image (one frame, fps 0)."""
    path = Path(path)
    if not path.exists():
        raise BrokenVideo(f"{path}: file not found")
    if path.is_dir():
        return VideoFrames(np.stack([_read_image(p) for p in _frame_folder(path)]), 12.0)
    if is_image(path):
        return VideoFrames(_read_image(path)[None], 0.0)
    frames, fps = _decode_stream(path)
    if not frames:
        raise BrokenVideo(f"{path}: no decodable frames")
    return VideoFrames(np.stack(frames), fps)


def _decode_stream(path: Path, start_s: float = -math.inf, stop_s: float = math.inf) -> tuple[list[np.ndarray], float]:
    """RGB frames of the first video stream with presentation time in ``[start_s, stop_s)`` (all of them by
    default; a positive ``start_s`` seeks first), and the stream's frame rate; decoder failures are ``BrokenVideo``."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise BrokenVideo(f"{path}: no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            if start_s > 0 and stream.time_base is not None:
                container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
            frames = []
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                if t >= stop_s:
                    break
                if t >= start_s:
                    frames.append(frame.to_ndarray(format="rgb24"))
    except BrokenVideo:
        raise
    except (av.FFmpegError, OSError, ValueError) as err:
        raise BrokenVideo(f"{path}: cannot decode ({err})") from None
    return frames, fps


def decode_window(path: str | os.PathLike[str], start_s: float, stop_s: float) -> VideoFrames:
    """Frames with presentation time in ``[start_s, stop_s)``, seeking first: for long videos (EK100)."""
    path = Path(path)
    if not path.exists():
        raise BrokenVideo(f"{path}: file not found")
    frames, fps = _decode_stream(path, start_s, stop_s)
    if not frames:
        raise BrokenVideo(f"{path}: no frames between {start_s:.2f} s and {stop_s:.2f} s")
    return VideoFrames(np.stack(frames), fps)
