"""Read real DROID trajectories in their raw layout, as V-JEPA 2-AC trains on them (docs/conventions.md#droid).

One directory per trajectory::

    <trajectory>/metadata_<uuid>.json     camera keys: left_mp4_path / right_mp4_path / wrist_mp4_path,
                                          ext1_mp4_path / ext2_mp4_path, ext1_cam_serial / ext2_cam_serial / ...
    <trajectory>/trajectory.h5            observation/robot_state/cartesian_position (N, 6), gripper_position (N,)
    <trajectory>/recordings/MP4/<serial>.mp4

Frames are subsampled to about 4 fps (every ``ceil(video_fps / 4)``-th frame, from frame 0), states are read at
the same frames, and actions are :func:`vjepa_bench.layout.action_between` of consecutive subsampled states.
Every trajectory is checked when it is listed: the states must be present, non-empty and finite, and the MP4 must
decode and hold at least as many frames as ``trajectory.h5`` has states; anything else is a one-line
:class:`~vjepa_bench.data.store.StoreError` naming the files.
Clip windows (``DroidTrajectories.window``) start on subsampled frames, i.e. at raw frames that are multiples of the
stride; the official loader may start at any raw frame (same frame spacing, a different phase).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import imageio_ffmpeg
import numpy as np
from tqdm import tqdm

from vjepa_bench import layout
from vjepa_bench.data.store import H5_ERRORS, StoreError, Trajectory, one_line
from vjepa_bench.data.video import read_video

__all__ = [
    "DROID_CAMERA_KEY",
    "TARGET_FPS",
    "read_trajectory_list",
    "read_metadata",
    "video_path",
    "read_states",
    "frame_stride",
    "load_droid_trajectory",
    "DroidTrajectories",
]

DROID_CAMERA_KEY = "left_mp4_path"
"""Metadata key of the left exterior camera's MP4, the only view V-JEPA 2-AC trains on."""
TARGET_FPS = 4.0
STATE_FIELDS = ("observation/robot_state/cartesian_position", "observation/robot_state/gripper_position")
_MP4_DIR = "recordings/MP4"
# When a metadata file lacks the requested key: the same camera under its other DROID names.
_CAMERA_FALLBACKS = {
    "left_mp4_path": ("ext1_mp4_path", "ext1_cam_serial"),
    "right_mp4_path": ("ext2_mp4_path", "ext2_cam_serial"),
    "wrist_mp4_path": ("wrist_cam_serial",),
}


def read_trajectory_list(list_file: str | os.PathLike) -> list[Path]:
    """Trajectory directories listed in a text/CSV file, one per line (first space-separated column), as the
    official trainer reads them. Blank lines and lines starting with ``#`` are skipped; relative paths are taken
    relative to the list file's folder."""
    list_file = Path(list_file)
    if not list_file.is_file():
        raise FileNotFoundError(f"trajectory list not found: {list_file}")
    paths = []
    for line in list_file.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line.split()[0])
        paths.append(path if path.is_absolute() else list_file.parent / path)
    if not paths:
        raise ValueError(f"{list_file}: no trajectory directories listed")
    return paths


def read_metadata(trajectory_dir: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The metadata JSON of a trajectory directory (``metadata_<uuid>.json``, or any single ``*.json``)."""
    trajectory_dir = Path(trajectory_dir)
    if not trajectory_dir.is_dir():
        raise FileNotFoundError(f"DROID trajectory directory not found: {trajectory_dir}")
    candidates = sorted(trajectory_dir.glob("metadata*.json")) or sorted(trajectory_dir.glob("*.json"))
    if not candidates:
        raise FileNotFoundError(f"{trajectory_dir}: no metadata JSON (expected metadata_<uuid>.json)")
    if len(candidates) > 1:
        raise ValueError(f"{trajectory_dir}: several metadata files {[c.name for c in candidates]}, expected one")
    try:
        metadata = json.loads(candidates[0].read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{candidates[0]}: not valid JSON ({error})") from error
    if not isinstance(metadata, dict):
        raise ValueError(f"{candidates[0]}: expected a JSON object, got {type(metadata).__name__}")
    return candidates[0], metadata


def video_path(trajectory_dir: str | os.PathLike, metadata: dict[str, Any], camera: str = DROID_CAMERA_KEY) -> Path:
    """The MP4 of ``camera`` (a metadata key such as ``left_mp4_path``) inside ``trajectory_dir``.

    DROID stores the path as recorded on the lab machine (often with a longer prefix); only the part after
    ``recordings/MP4/`` is kept and looked up in this directory. A ``*_cam_serial`` key names ``<serial>.mp4``.
    """
    trajectory_dir = Path(trajectory_dir)
    for key in (camera, *_CAMERA_FALLBACKS.get(camera, ())):
        value = metadata.get(key)
        if not value:
            continue
        value = str(value)
        if key.endswith("_serial"):
            name = f"{value}.mp4"
        elif _MP4_DIR + "/" in value:
            name = value.split(_MP4_DIR + "/")[-1]
        else:
            name = Path(value).name
        path = trajectory_dir / _MP4_DIR / name
        if not path.is_file():
            raise FileNotFoundError(f"{trajectory_dir}: metadata {key!r} = {value!r}, but {path} does not exist")
        return path
    known = sorted(k for k in metadata if k.endswith("_mp4_path") or k.endswith("_cam_serial"))
    raise KeyError(f"{trajectory_dir}: metadata has no {camera!r} (camera keys present: {known})")


def read_states(h5_path: str | os.PathLike) -> np.ndarray:
    """DROID states ``float32 (N, 7)``: cartesian_position (x, y, z, Euler xyz) and gripper_position.

    A damaged file, a missing or empty field, a wrong shape or a NaN/infinite value is a one-line StoreError.
    """
    h5_path = Path(h5_path)
    if not h5_path.is_file():
        raise FileNotFoundError(f"DROID trajectory file not found: {h5_path}")
    try:
        pose, gripper = _read_state_fields(h5_path)
    except StoreError:
        raise
    except H5_ERRORS as error:
        raise StoreError(f"{h5_path}: not a readable DROID trajectory file ({one_line(error)})") from error
    if pose.ndim != 2 or pose.shape[1] != 6:
        raise StoreError(f"{h5_path}: field {STATE_FIELDS[0]!r} must be (N, 6), got {pose.shape}")
    if len(pose) == 0:
        raise StoreError(f"{h5_path}: field {STATE_FIELDS[0]!r} is empty; a trajectory needs at least one state")
    if gripper.shape not in ((len(pose),), (len(pose), 1)):
        raise StoreError(f"{h5_path}: field {STATE_FIELDS[1]!r} must be (N,) with N = {len(pose)}, got {gripper.shape}")
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused just below
        states = np.concatenate([pose, gripper.reshape(-1, 1)], axis=1).astype(np.float32)
    for name, values in zip(STATE_FIELDS, (states[:, :6], states[:, 6])):
        bad = np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))
        if bad.size:
            raise StoreError(f"{h5_path}: field {name!r} holds NaN or infinite values (first at row {bad[0]})")
    return states


def _read_state_fields(h5_path: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(h5_path, "r") as handle:
        for name in STATE_FIELDS:
            if name not in handle:
                raise StoreError(f"{h5_path}: field {name!r} is missing")
        return np.asarray(handle[STATE_FIELDS[0]][()], np.float64), np.asarray(handle[STATE_FIELDS[1]][()], np.float64)


def frame_stride(video_fps: float, target_fps: float = TARGET_FPS) -> int:
    """Raw frames between subsampled frames: ``ceil(video_fps / target_fps)`` (4 for DROID's 15 fps video)."""
    if video_fps <= 0 or target_fps <= 0:
        raise ValueError(f"frame rates must be positive, got video {video_fps}, target {target_fps}")
    return max(1, math.ceil(round(video_fps / target_fps, 6)))


def _video_fps(path: Path) -> float:
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        try:
            fps = float(next(reader)["fps"])
        finally:
            reader.close()
    except (OSError, RuntimeError, StopIteration, KeyError, ValueError) as error:
        raise StoreError(f"{path}: not a readable video ({_first_line(error)})") from error
    if fps <= 0:
        raise StoreError(f"{path}: the container reports no frame rate")
    return fps


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _count_video_frames(path: str | os.PathLike) -> int:
    """Frames of a video's first video stream, counted by ffmpeg from the container's packets (no decoding).

    A file ffmpeg cannot read (truncated, not a video) is a one-line StoreError carrying ffmpeg's last error line;
    ffmpeg's own banner and log never reach the terminal.
    """
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", os.fspath(path),
        "-map", "0:v:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
    counts = [line.split("=", 1)[1] for line in result.stdout.splitlines() if line.startswith("frame=")]
    if result.returncode != 0 or not counts:
        reason = next((line for line in reversed(result.stderr.splitlines()) if line.strip()), "no video stream")
        raise StoreError(f"{path}: not a readable video ({reason.strip()}); re-download or re-encode it")
    return int(counts[-1])


@dataclass(frozen=True)
class DroidEntry:
    """One listed DROID trajectory: where its files are and how many subsampled frames it has."""

    directory: Path
    video: Path
    stride: int
    n_raw: int
    length: int
    task: str
    success: bool | None
    uuid: str | None


def _entry(trajectory_dir: Path, camera: str, target_fps: float) -> DroidEntry:
    metadata_path, metadata = read_metadata(trajectory_dir)
    video = video_path(trajectory_dir, metadata, camera)
    h5_path = trajectory_dir / "trajectory.h5"
    n_raw = len(read_states(h5_path))
    recorded = metadata.get("trajectory_length")
    if isinstance(recorded, int) and recorded != n_raw:
        raise StoreError(
            f"{h5_path} has {n_raw} states but {metadata_path} records trajectory_length {recorded}: "
            "one of them is damaged; re-download that trajectory or leave it out of the list"
        )
    n_video = _count_video_frames(video)
    if n_video < n_raw:
        raise StoreError(
            f"{video} has {n_video} frames but {h5_path} has {n_raw} states: the video is shorter than its "
            "trajectory (truncated copy?); re-download that trajectory or leave it out of the list"
        )
    stride = frame_stride(_video_fps(video), target_fps)
    success = metadata.get("success")
    return DroidEntry(
        directory=trajectory_dir, video=video, stride=stride, n_raw=n_raw, length=math.ceil(n_raw / stride),
        task=str(metadata.get("current_task", "")), success=success if isinstance(success, bool) else None,
        uuid=metadata.get("uuid"),
    )  # fmt: skip


def load_droid_trajectory(
    trajectory_dir: str | os.PathLike,
    *,
    camera: str = DROID_CAMERA_KEY,
    target_fps: float = TARGET_FPS,
    size: tuple[int, int] | None = None,
    index: int = 0,
) -> Trajectory:
    """A whole DROID trajectory at about ``target_fps``, in our :class:`Trajectory` structure.

    ``size`` (height, width) resizes frames while decoding (DROID's 1280x720 frames are 2.7 MB each).
    The trajectory has as many frames as the state arrays; a video with fewer frames is a StoreError when the
    trajectory is opened, and frames past the last state are not used.
    """
    entry = _entry(Path(trajectory_dir), camera, target_fps)
    return _load_window(entry, 0, entry.length, size, index)


def _load_window(entry: DroidEntry, start: int, count: int, size: tuple[int, int] | None, index: int) -> Trajectory:
    h5_path = entry.directory / "trajectory.h5"
    states_all = read_states(h5_path)
    if len(states_all) != entry.n_raw:
        raise StoreError(f"{h5_path}: now holds {len(states_all)} states, {entry.n_raw} when listed; list it again")
    raw = np.arange(start, start + count) * entry.stride
    frames = _decode(entry, raw, size)
    states = states_all[raw]
    actions = layout.action_between(states[:-1], states[1:]).reshape(-1, layout.ACTION_DIM)
    return Trajectory(
        images=frames, states=states, actions=actions,
        task=entry.task, seed=None, success=entry.success, camera=None, index=index,
        attrs={"source": "droid", "directory": str(entry.directory), "uuid": entry.uuid, "stride": entry.stride,
               "raw_frames": raw.tolist()},
    )  # fmt: skip


def _decode(entry: DroidEntry, raw: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """The video frames ``raw``; a decoding failure or a missing frame is a one-line StoreError naming the MP4."""
    try:
        if len(raw) == entry.length:  # the whole trajectory: one strided pass
            frames = read_video(entry.video, stride=entry.stride, size=size)[0][: len(raw)]
        else:
            frames = read_video(entry.video, raw.tolist(), size=size)[0]
    except (OSError, IndexError, RuntimeError) as error:
        raise StoreError(f"{entry.video}: cannot decode frames {raw[0]}..{raw[-1]} ({_first_line(error)})") from error
    if len(frames) != len(raw):
        raise StoreError(
            f"{entry.video}: decoded {len(frames)} of the {len(raw)} frames wanted; the video is damaged, "
            "re-download that trajectory or leave it out of the list"
        )
    return frames


class DroidTrajectories(Sequence[Trajectory]):
    """A list of DROID trajectory directories as a lazily loaded sequence (same interface as the store reader).

    Args:
        trajectories: directories, or the path of a list file (see :func:`read_trajectory_list`).
        camera: metadata key of the view to read (default the left exterior camera).
        target_fps: subsampled frame rate (4 fps: V-JEPA 2-AC).
        size: ``(height, width)`` to resize frames to while decoding; ``None`` keeps them. Keep the video's aspect
            (e.g. ``(288, 512)`` for 720p) so that the training crop stays the official one.
        workers: threads probing the files when listing (each probe starts ffmpeg once).
        progress: show a progress bar while listing.
    """

    def __init__(
        self,
        trajectories: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        camera: str = DROID_CAMERA_KEY,
        target_fps: float = TARGET_FPS,
        size: tuple[int, int] | None = None,
        workers: int = 8,
        progress: bool = False,
    ) -> None:
        if isinstance(trajectories, (str, os.PathLike)):
            directories = read_trajectory_list(trajectories)
        else:
            directories = [Path(p) for p in trajectories]
        self.size = size
        with ThreadPoolExecutor(max(1, workers)) as pool:
            jobs = pool.map(lambda d: _entry(d, camera, target_fps), directories)
            self.entries: list[DroidEntry] = list(
                tqdm(jobs, total=len(directories), desc="listing DROID", disable=not progress)
            )

    def __len__(self) -> int:
        return len(self.entries)

    def lengths(self) -> list[int]:
        """Number of subsampled frames of each trajectory (from the state arrays)."""
        return [entry.length for entry in self.entries]

    def window(self, i: int, start: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Subsampled frames ``start .. start + count - 1`` of trajectory ``i`` with their states and actions."""
        entry = self.entries[i]
        if start < 0 or count < 1 or start + count > entry.length:
            raise IndexError(f"window [{start}, {start + count}) outside {entry.directory} of length {entry.length}")
        trajectory = _load_window(entry, start, count, self.size, i)
        return trajectory.images, trajectory.states, trajectory.actions

    def __getitem__(self, i: int) -> Trajectory:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(f"trajectory {i} out of range for {len(self)} DROID trajectories")
        i %= len(self)
        return _load_window(self.entries[i], 0, self.entries[i].length, self.size, i)
