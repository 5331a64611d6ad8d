"""Trajectory store: HDF5 shards written as collection goes, resumable, read back lazily and checked.

Layout of one shard ``<root>/shard_<k:05d>.h5`` (trajectory ``index`` lives in shard ``index // shard_size``)::

    /                      attrs: format="vjepa_bench.trajectories", format_version=1, shard_size
    /trajectories/<index:07d>/
        images    uint8   (T, H, W, 3)  chunked one frame per chunk, gzip (or lzf)
        states    float32 (T, 7)        layout.py state
        actions   float32 (T-1, 7)      layout.py action; action t moves state t to state t+1
        camera    float64 (8,)          CAMERA_FIELDS, absent when the pose is unknown
        images_crc32, states_crc32, actions_crc32
                  uint32  (T,) / (T-1,) CRC-32 of each frame / row of the dataset of that name
        attrs: index, task, seed (absent if None), success (absent if None), attrs_json (free-form, JSON)

Every dataset carries a Fletcher-32 checksum per chunk and the shards use HDF5 1.8 object formats, whose headers
(attributes, links, text stored fixed-length) are checksummed too. The chunk-index B-trees are not: a damaged index
can hand back another chunk or skip a filter, so every frame and row also carries its own CRC-32 (``*_crc32``),
checked on every read. Damaged bytes are a :class:`StoreError` naming the file, the trajectory and the dataset
rather than a wrong value (older shards without checksums still read); the reader also refuses NaN or infinite
states and actions.

A trajectory is written in one go once finished: the shard is opened, the group is written under a temporary name,
renamed to its final name (the commit point) and the file closed. A new shard is written as
``.shard_<k>.h5.<pid>.tmp`` and renamed into place once its first trajectory is committed and the file closed, so a
kill while a shard is created never leaves a ``shard_*.h5`` that does not open; the next writer deletes the
temporary. A run killed between trajectories loses only the one in progress; a group left half-written by a kill is
removed at the next write to that shard. Appending to an existing shard rewrites HDF5 metadata in place, so a kill at
that moment can still (rarely) leave the shard unreadable: the next writer moves it aside as described below.

Repairs happen only under the store's :class:`~vjepa_bench.fileio.FolderLock` (``collect`` holds it for its whole
run; a writer without it takes it for the repair): a shard whose format is damaged is moved aside to ``*.corrupt``
with a warning and its trajectories are collected again. A shard HDF5 cannot open because another process has it
open (its file lock) is never touched: that is a one-line :class:`ShardInUseError`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vjepa_bench import layout
from vjepa_bench.fileio import FolderLock

__all__ = [
    "CAMERA_FIELDS",
    "H5_ERRORS",
    "ShardInUseError",
    "StoreError",
    "Trajectory",
    "TrajectoryInfo",
    "TrajectoryWriter",
    "TrajectoryReader",
    "camera_to_array",
    "camera_from_array",
]

FORMAT = "vjepa_bench.trajectories"
FORMAT_VERSION = 1
CHECKED_FIELDS = ("images", "states", "actions")
"""Datasets whose every frame / row carries a CRC-32 in ``<name>_crc32``."""
CAMERA_FIELDS = ("azimuth_deg", "elevation_deg", "distance", "lookat_x", "lookat_y", "lookat_z", "roll_deg", "fovy_deg")
"""Order of the stored camera pose vector; as a dict the look-at point is one key ``lookat`` with (x, y, z)."""
_CAMERA_KEYS = ("azimuth_deg", "elevation_deg", "distance", "lookat", "roll_deg", "fovy_deg")
_SHARD_PATTERN = re.compile(r"shard_(\d{5,})\.h5$")
_TEMPORARY_PATTERN = re.compile(r"\.shard_\d{5,}\.h5\.\d+\.tmp$")
_PARTIAL_PREFIX = "_partial_"
_LIBVER = ("v108", "v108")
"""HDF5 1.8 object formats (readable by any HDF5 >= 1.8): their headers, attributes and links carry checksums."""
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, UnicodeDecodeError)
"""What h5py raises on a damaged file (beyond OSError, a damaged header can surface as any of these)."""


class StoreError(ValueError):
    """A shard or trajectory that is not what the store expects; the message names the file and the field."""


class ShardInUseError(StoreError):
    """HDF5 could not lock a shard: another process has it open. The shard itself is fine."""


def row_crc32(values: np.ndarray) -> np.ndarray:
    """CRC-32 of each row (first-axis slice) of ``values``, as uint32 (T,)."""
    rows = np.ascontiguousarray(values).reshape(len(values), int(np.prod(values.shape[1:])))
    return np.array([zlib.crc32(row.tobytes()) for row in rows], np.uint32)


def one_line(error: BaseException) -> str:
    """An exception's message on one line (h5py and ffmpeg messages may span several)."""
    return " ".join(str(error).split())


def camera_to_array(camera: Mapping[str, Any]) -> np.ndarray:
    """A camera pose dict (``azimuth_deg, elevation_deg, distance, lookat (x, y, z), roll_deg, fovy_deg``) as (8,)."""
    missing = [key for key in _CAMERA_KEYS if key not in camera]
    if missing:
        raise KeyError(f"camera pose lacks {missing}; expected keys {list(_CAMERA_KEYS)}")
    lookat = np.asarray(camera["lookat"], np.float64).reshape(-1)
    if lookat.shape != (3,):
        raise ValueError(f"camera 'lookat' must have 3 values, got {lookat.shape}")
    return np.array(
        [camera["azimuth_deg"], camera["elevation_deg"], camera["distance"], *lookat]
        + [camera["roll_deg"], camera["fovy_deg"]],
        np.float64,
    )


def camera_from_array(values: np.ndarray) -> dict[str, Any]:
    """Inverse of :func:`camera_to_array`."""
    v = [float(x) for x in np.asarray(values, np.float64).reshape(-1)]
    if len(v) != len(CAMERA_FIELDS):
        raise ValueError(f"camera vector must have {len(CAMERA_FIELDS)} values, got {len(v)}")
    return {
        "azimuth_deg": v[0], "elevation_deg": v[1], "distance": v[2], "lookat": (v[3], v[4], v[5]),
        "roll_deg": v[6], "fovy_deg": v[7],
    }  # fmt: skip


@dataclass
class Trajectory:
    """One episode: ``T`` frames and states, ``T - 1`` actions (docs/conventions.md#state)."""

    images: np.ndarray
    """uint8 (T, H, W, 3)"""
    states: np.ndarray
    """float32 (T, 7)"""
    actions: np.ndarray
    """float32 (T - 1, 7)"""
    task: str = ""
    seed: int | None = None
    success: bool | None = None
    camera: dict[str, Any] | None = None
    index: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.states)

    def validate(self, where: str = "trajectory") -> None:
        """Raise :class:`StoreError` naming ``where`` and the field if a shape, dtype or value breaks the contract."""
        _check_arrays(where, self.images, self.states, self.actions)
        if self.camera is not None:
            try:
                camera_to_array(self.camera)
            except (KeyError, ValueError, TypeError) as error:
                raise StoreError(f"{where}: field 'camera': {error}") from error
        if int(self.index) < 0:
            raise StoreError(f"{where}: field 'index' must be >= 0, got {self.index}")
        try:
            json.dumps(self.attrs)
        except TypeError as error:
            raise StoreError(f"{where}: field 'attrs' must be JSON-serialisable: {error}") from error


@dataclass(frozen=True)
class TrajectoryInfo:
    """Everything about a stored trajectory except its arrays (cheap to list)."""

    path: Path
    group: str
    index: int
    length: int
    image_shape: tuple[int, int, int]
    task: str
    seed: int | None
    success: bool | None
    camera: dict[str, Any] | None
    attrs: dict[str, Any]


def _check_arrays(where: str, images: np.ndarray, states: np.ndarray, actions: np.ndarray) -> None:
    images, states, actions = np.asarray(images), np.asarray(states), np.asarray(actions)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise StoreError(f"{where}: field 'images' must be uint8 (T, H, W, 3), got {images.dtype} {images.shape}")
    if states.ndim != 2 or states.shape[1] != layout.STATE_DIM:
        raise StoreError(f"{where}: field 'states' must be (T, {layout.STATE_DIM}), got {states.shape}")
    if len(states) < 1 or len(images) != len(states):
        raise StoreError(
            f"{where}: fields 'images' and 'states' must have the same T >= 1, got {len(images)} and {len(states)}"
        )
    if actions.shape != (len(states) - 1, layout.ACTION_DIM):
        expected = (len(states) - 1, layout.ACTION_DIM)
        raise StoreError(f"{where}: field 'actions' must be {expected}, got {actions.shape}")
    for name, values in (("states", states), ("actions", actions)):
        if not np.issubdtype(values.dtype, np.floating):
            raise StoreError(f"{where}: field {name!r} must be floating point, got {values.dtype}")
        if not np.all(np.isfinite(values)):
            raise StoreError(f"{where}: field {name!r} holds NaN or infinite values")


def shard_paths(root: str | os.PathLike) -> list[Path]:
    """The shard files of a store directory, in shard order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"trajectory store directory not found: {root}")
    found = [(int(m[1]), p) for p in root.iterdir() if (m := _SHARD_PATTERN.match(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def _is_in_use(error: OSError) -> bool:
    """Whether h5py failed to open a file only because it is open elsewhere (another process's HDF5 file lock, or
    this process holding it in another mode)."""
    message = str(error)
    return error.errno in (errno.EAGAIN, errno.EWOULDBLOCK) or "unable to lock file" in message or (
        "already open" in message
    )


def _open_shard(path: Path, mode: str = "r") -> h5py.File:
    """Open and check a shard; ShardInUseError when another process holds it, StoreError when it is damaged."""
    try:
        handle = h5py.File(path, mode, libver=_LIBVER if mode != "r" else None)
    except OSError as error:
        if _is_in_use(error):
            doing = "cannot open the shard for writing" if mode != "r" else "cannot open the shard"
            raise ShardInUseError(
                f"{path}: {doing}: it is open elsewhere (in a reader or another writer?); close that first"
            ) from error
        raise StoreError(f"{path}: not a readable HDF5 trajectory shard ({one_line(error)})") from error
    try:
        _check_format(path, handle)
    except BaseException:
        handle.close()
        raise
    return handle


def _check_format(path: Path, handle: h5py.File) -> None:
    try:
        fmt = handle.attrs.get("format")
        version = int(handle.attrs.get("format_version", -1))
        has_group = "trajectories" in handle
    except H5_ERRORS as error:
        raise StoreError(f"{path}: damaged shard, cannot read its attributes ({one_line(error)})") from error
    if fmt != FORMAT:
        raise StoreError(
            f"{path}: attribute 'format' is {fmt!r}, expected {FORMAT!r}: not a vjepa_bench trajectory shard"
        )
    if version != FORMAT_VERSION:
        raise StoreError(f"{path}: attribute 'format_version' is {version}, this reader knows {FORMAT_VERSION}")
    if not has_group:
        raise StoreError(f"{path}: group 'trajectories' is missing")


def _fixed_text(text: str) -> np.bytes_:
    """Text as a fixed-length UTF-8 attribute: kept in the (checksummed) object header, not the global heap."""
    return np.bytes_(text.encode("utf-8"))


def _text(value: Any) -> str:
    """A text attribute as str, whether stored fixed-length (bytes) or variable-length (str, older shards)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_info(path: Path, name: str, group: h5py.Group) -> TrajectoryInfo:
    where = f"{path}:/trajectories/{name}"
    for key in ("images", "states", "actions"):
        if key not in group:
            raise StoreError(f"{where}: field {key!r} is missing")
    images, states, actions = group["images"], group["states"], group["actions"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise StoreError(f"{where}: field 'images' must be uint8 (T, H, W, 3), got {images.dtype} {images.shape}")
    if states.ndim != 2 or states.shape[1] != layout.STATE_DIM or states.shape[0] != images.shape[0]:
        expected = (images.shape[0], layout.STATE_DIM)
        raise StoreError(f"{where}: field 'states' has shape {states.shape}, expected {expected}")
    if actions.shape != (states.shape[0] - 1, layout.ACTION_DIM):
        expected = (states.shape[0] - 1, layout.ACTION_DIM)
        raise StoreError(f"{where}: field 'actions' has shape {actions.shape}, expected {expected}")
    attrs = group.attrs
    try:
        free = json.loads(_text(attrs.get("attrs_json", "{}")))
    except json.JSONDecodeError as error:
        raise StoreError(f"{where}: attribute 'attrs_json' is not valid JSON ({error})") from error
    camera = _read_camera(where, group)
    if "index" not in attrs:
        raise StoreError(f"{where}: attribute 'index' is missing")
    index = int(attrs["index"])
    if f"{index:07d}" != name:
        raise StoreError(f"{where}: attribute 'index' is {index}, but the group is named {name!r}")
    return TrajectoryInfo(
        path=path,
        group=name,
        index=index,
        length=int(states.shape[0]),
        image_shape=tuple(int(s) for s in images.shape[1:]),
        task=_text(attrs.get("task", "")),
        seed=int(attrs["seed"]) if "seed" in attrs else None,
        success=bool(attrs["success"]) if "success" in attrs else None,
        camera=camera,
        attrs=free,
    )


def _read_camera(where: str, group: h5py.Group) -> dict[str, Any] | None:
    if "camera" not in group:
        return None
    try:
        values = group["camera"][()]
    except H5_ERRORS as error:
        raise StoreError(f"{where}: cannot read dataset 'camera' ({one_line(error)})") from error
    if np.shape(values) != (len(CAMERA_FIELDS),):
        raise StoreError(f"{where}: field 'camera' has shape {np.shape(values)}, expected ({len(CAMERA_FIELDS)},)")
    if not np.all(np.isfinite(values)):
        raise StoreError(f"{where}: dataset 'camera' holds NaN or infinite values")
    return camera_from_array(values)


def _scan_shard(path: Path) -> tuple[int, list[TrajectoryInfo]]:
    """A shard's ``shard_size`` attribute and the infos of its committed trajectories."""
    with _open_shard(path) as handle:
        try:
            stored_size = int(handle.attrs.get("shard_size", -1))
            group = handle["trajectories"]
            names = sorted(name for name in group if not name.startswith(_PARTIAL_PREFIX))
            return stored_size, [_read_info(path, name, group[name]) for name in names]
        except StoreError:
            raise
        except H5_ERRORS as error:
            raise StoreError(f"{path}: damaged shard, cannot list trajectories ({one_line(error)})") from error


def _list_shard(path: Path) -> list[TrajectoryInfo]:
    return _scan_shard(path)[1]


def _aside_name(path: Path) -> Path:
    """``<shard>.corrupt``, or ``<shard>.corrupt<k>`` when earlier damaged copies are there already."""
    candidate, k = path.with_name(path.name + ".corrupt"), 1
    while candidate.exists():
        candidate, k = path.with_name(f"{path.name}.corrupt{k}"), k + 1
    return candidate


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TrajectoryWriter:
    """Writes finished trajectories into shards of ``shard_size`` indices; reopening a directory resumes it.

    Args:
        root: the store directory (created if missing).
        shard_size: trajectories per shard; fixed for a directory (checked against its existing shards).
        compression: ``"gzip"`` (portable, default) or ``"lzf"`` (faster, h5py only) for the images.
        compression_level: gzip level 0-9 (ignored by lzf).
        locked: the caller holds the store's :class:`~vjepa_bench.fileio.FolderLock` for the writer's life (as
            ``collect`` does); otherwise the writer takes it only while it repairs the store.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        shard_size: int = 100,
        compression: str = "gzip",
        compression_level: int = 4,
        *,
        locked: bool = False,
    ) -> None:
        if shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {shard_size}")
        if compression not in ("gzip", "lzf"):
            raise ValueError(f"compression must be 'gzip' or 'lzf', got {compression!r}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.shard_size = int(shard_size)
        self.compression = compression
        self.compression_opts = int(compression_level) if compression == "gzip" else None
        self.locked = locked
        self._done: dict[int, int | None] = {}
        self._remove_temporaries()
        for path in shard_paths(self.root):
            self._resume_shard(path)

    def _repairing(self) -> contextlib.AbstractContextManager[Any]:
        """The folder lock for a repair: already held by the caller, or taken now (one-line error if busy)."""
        if self.locked:
            return contextlib.nullcontext()
        return FolderLock(self.root, f"trajectory store repair of {self.root}")

    def _remove_temporaries(self) -> None:
        """Delete shards a killed writer left half-created (their trajectory was never committed)."""
        leftovers = [p for p in self.root.iterdir() if _TEMPORARY_PATTERN.match(p.name)]
        if leftovers:
            with self._repairing():
                for path in leftovers:
                    path.unlink(missing_ok=True)

    def _resume_shard(self, path: Path) -> None:
        """Record the trajectories of an existing shard; move it aside if its format is damaged."""
        try:
            stored_size, infos = _scan_shard(path)
        except ShardInUseError:
            raise
        except StoreError as error:
            self._move_aside(path, error)
            return
        if stored_size != self.shard_size:
            raise StoreError(f"{path}: attribute 'shard_size' is {stored_size}, but this writer uses {self.shard_size}")
        self._done.update({info.index: info.seed for info in infos})

    def _move_aside(self, path: Path, error: StoreError) -> None:
        with self._repairing():
            moved = _aside_name(path)
            os.replace(path, moved)
        warnings.warn(f"{error}; moved it to {moved} and will collect its trajectories again", stacklevel=4)

    @property
    def done_indices(self) -> set[int]:
        """Indices of the trajectories already stored."""
        return set(self._done)

    def seed_of(self, index: int) -> int | None:
        """The seed stored with trajectory ``index`` (``KeyError`` if it is not stored)."""
        return self._done[index]

    def shard_path(self, index: int) -> Path:
        return self.root / f"shard_{index // self.shard_size:05d}.h5"

    def write(self, trajectory: Trajectory) -> Path:
        """Validate, write and commit one trajectory; returns the shard it went to."""
        index = int(trajectory.index)
        trajectory.validate(where=f"trajectory {index}")
        if index in self._done:
            raise StoreError(f"{self.shard_path(index)}: trajectory {index} is already stored")
        path = self.shard_path(index)
        if path.exists():
            with _open_shard(path, "a") as handle:
                self._commit(handle, trajectory)
        else:
            self._create_shard(path, trajectory)
        self._done[index] = None if trajectory.seed is None else int(trajectory.seed)
        return path

    def _create_shard(self, path: Path, trajectory: Trajectory) -> None:
        """Write a new shard holding ``trajectory`` under a temporary name, then rename it into place."""
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with h5py.File(temporary, "w", libver=_LIBVER) as handle:
                handle.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, "shard_size": self.shard_size})
                self._commit(handle, trajectory)
            _fsync(temporary)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _commit(self, handle: h5py.File, trajectory: Trajectory) -> None:
        """Write the group under a temporary name, then rename it (the commit point)."""
        name = f"{int(trajectory.index):07d}"
        trajectories = handle.require_group("trajectories")
        for stale in [key for key in trajectories if key.startswith(_PARTIAL_PREFIX)]:
            del trajectories[stale]
        group = trajectories.create_group(_PARTIAL_PREFIX + name)
        self._fill(group, trajectory)
        trajectories.move(_PARTIAL_PREFIX + name, name)

    def _fill(self, group: h5py.Group, trajectory: Trajectory) -> None:
        images = np.ascontiguousarray(trajectory.images)
        group.create_dataset(
            "images",
            data=images,
            chunks=(1, *images.shape[1:]),
            compression=self.compression,
            compression_opts=self.compression_opts,
            shuffle=False,
            fletcher32=True,
        )
        states = np.asarray(trajectory.states, np.float32)
        actions = np.asarray(trajectory.actions, np.float32).reshape(-1, layout.ACTION_DIM)
        group.create_dataset("states", data=states, fletcher32=True)
        group.create_dataset("actions", data=actions, fletcher32=True)
        for name, values in zip(CHECKED_FIELDS, (images, states, actions)):
            group.create_dataset(f"{name}_crc32", data=row_crc32(values), fletcher32=True)
        if trajectory.camera is not None:
            camera = group.create_dataset("camera", data=camera_to_array(trajectory.camera), fletcher32=True)
            camera.attrs["fields"] = json.dumps(CAMERA_FIELDS)
        group.attrs["index"] = int(trajectory.index)
        group.attrs["task"] = _fixed_text(str(trajectory.task))
        if trajectory.seed is not None:
            group.attrs["seed"] = int(trajectory.seed)
        if trajectory.success is not None:
            group.attrs["success"] = bool(trajectory.success)
        group.attrs["attrs_json"] = _fixed_text(json.dumps(trajectory.attrs))


class TrajectoryReader(Sequence[Trajectory]):
    """All trajectories of one or more store directories (or shard files), listed at once and loaded on demand.

    ``reader[i]`` loads trajectory ``i`` in full; :meth:`window` reads a range of frames only. ``infos`` holds the
    metadata of every trajectory, ordered by (source, index). File handles are opened lazily per process, so a
    reader can be handed to DataLoader workers.
    """

    def __init__(self, sources: str | os.PathLike | Sequence[str | os.PathLike]) -> None:
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        paths: list[Path] = []
        for source in sources:
            source = Path(source)
            paths.extend(shard_paths(source) if source.is_dir() else [source])
        infos: list[TrajectoryInfo] = []
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"trajectory shard not found: {path}")
            infos.extend(_list_shard(path))
        self.infos: list[TrajectoryInfo] = infos
        self._handles: dict[Path, h5py.File] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.infos)

    def lengths(self) -> list[int]:
        """Number of frames of each trajectory."""
        return [info.length for info in self.infos]

    def _group(self, i: int) -> tuple[TrajectoryInfo, h5py.Group]:
        if self._pid != os.getpid():  # forked into a DataLoader worker: never share HDF5 handles across processes
            self._handles, self._pid = {}, os.getpid()
        info = self.infos[i]
        handle = self._handles.get(info.path)
        if handle is None:
            handle = self._handles[info.path] = _open_shard(info.path)
        return info, handle["trajectories"][info.group]

    def _read(self, i: int, field_name: str, selection: Any) -> np.ndarray:
        """``selection`` of one dataset; a damaged chunk (checksum, filter or HDF5 error) is a one-line StoreError."""
        where = f"{self.infos[i].path}:/trajectories/{self.infos[i].group}"
        try:
            _, group = self._group(i)
            values = group[field_name][selection]
        except StoreError:
            raise
        except H5_ERRORS as error:
            raise StoreError(f"{where}: cannot read dataset {field_name!r} ({one_line(error)})") from error
        if field_name != "images" and not np.all(np.isfinite(values)):
            raise StoreError(
                f"{where}: dataset {field_name!r} holds NaN or infinite values; re-collect that trajectory"
            )
        if field_name in CHECKED_FIELDS:
            self._check_crc(i, field_name, selection, values, where)
        return values

    def _check_crc(self, i: int, field_name: str, selection: Any, values: np.ndarray, where: str) -> None:
        """Compare the rows read with their stored CRC-32 (shards written before the CRCs are not checked)."""
        name = f"{field_name}_crc32"
        _, group = self._group(i)
        if name not in group:
            return
        try:
            stored = group[name][selection]
        except H5_ERRORS as error:
            raise StoreError(f"{where}: cannot read dataset {name!r} ({one_line(error)})") from error
        bad = np.flatnonzero(stored != row_crc32(values))
        if bad.size:
            raise StoreError(f"{where}: dataset {field_name!r} fails its CRC-32 check at row {int(bad[0])} of the "
                             "rows read; re-collect that trajectory")

    def window(self, i: int, start: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frames ``start .. start + count - 1`` of trajectory ``i``: images, states, and the ``count - 1`` actions."""
        length = self.infos[i].length
        if start < 0 or count < 1 or start + count > length:
            raise IndexError(f"window [{start}, {start + count}) outside trajectory {i} of length {length}")
        images = self._read(i, "images", slice(start, start + count))
        states = self._read(i, "states", slice(start, start + count))
        actions = self._read(i, "actions", slice(start, start + count - 1))
        return images, states.astype(np.float32), actions.astype(np.float32)

    def __getitem__(self, i: int) -> Trajectory:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(f"trajectory {i} out of range for a store of {len(self)}")
        i %= len(self)
        info = self.infos[i]
        images, states, actions = self.window(i, 0, info.length)
        return Trajectory(
            images=images, states=states, actions=actions, task=info.task, seed=info.seed, success=info.success,
            camera=info.camera, index=info.index, attrs=dict(info.attrs),
        )  # fmt: skip

    def __iter__(self) -> Iterator[Trajectory]:
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles = {}

    def __enter__(self) -> TrajectoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state
