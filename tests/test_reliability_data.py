"""Nothing lost, nothing run twice, nothing silently wrong: the trajectory store, collect and the DROID reader
under concurrent runs, kills, damaged bytes and bad values (issue 10, the data-store part)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_data_collect import FAKE_ID
from test_data_droid import N_RAW, SERIAL, synthetic_frames, synthetic_states, write_droid_trajectory
from test_data_store import assert_same, make_trajectory

from vjepa_bench.collection.collect import collect
from vjepa_bench.data.droid import DroidTrajectories, load_droid_trajectory
from vjepa_bench.data.store import ShardInUseError, StoreError, TrajectoryReader, TrajectoryWriter, shard_paths
from vjepa_bench.data.video import write_video
from vjepa_bench.errors import UsageError
from vjepa_bench.fileio import FolderLock

TESTS = Path(__file__).resolve().parent
ENV = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def holds_lock(folder: Path, pid: int) -> bool:
    lock = folder / ".lock"
    return lock.exists() and f"pid {pid} " in lock.read_text()


def collect_script(out_dir: Path, episodes: int, shard_size: int, env_id: str = FAKE_ID, **kwargs) -> str:
    """A ``python -c`` program that collects into ``out_dir`` (the fake env is registered by importing its test)."""
    return textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import test_data_collect
        from vjepa_bench.collection.collect import collect
        collect({env_id!r}, {episodes}, {str(out_dir)!r}, policy="random", seed=7, shard_size={shard_size},
                progress=False, **{kwargs!r})
        """
    )


# 1. one collect per store ------------------------------------------------------------------------------------------


def test_a_second_concurrent_collect_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "store"
    first = subprocess.Popen(
        [sys.executable, "-c", collect_script(out, 500, 10, "vjepa_bench/FrankaReach-v1", env_kwargs={"image_size": 32},
                                              max_steps=20)],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: holds_lock(out, first.pid) or first.poll() is not None, 180, "the first collect's lock")
        assert first.poll() is None, first.stderr.read().decode()
        second = subprocess.run(
            [sys.executable, "-m", "vjepa_bench.cli", "collect", "env=reach", "episodes=2", "policy=random",
             "env.kwargs.image_size=32", "max_steps=2", "progress=false", f"out_dir={out}"],
            env=ENV, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert first.poll() is None, "the first collect ended before the second one tried"
    finally:
        first.kill()
        first.wait()
    assert second.returncode != 0
    refusal = [line for line in second.stderr.splitlines() if line.startswith("vjepa-bench")]
    assert "Traceback" not in second.stderr and len(refusal) == 1, second.stderr
    assert f"{out} is in use by vjepa-bench collect vjepa_bench/FrankaReach-v1" in refusal[0]
    assert f"(pid {first.pid} on " in refusal[0] and "collected" not in second.stdout
    with TrajectoryReader(out) as reader:  # what the first run stored is intact and all its own
        assert all(t.seed == 7 + t.index and len(t.actions) <= 20 for t in reader)


# 2. a locked shard is busy, not corrupt ----------------------------------------------------------------------------


def test_a_shard_held_open_by_another_process_is_never_moved_aside(tmp_path):
    TrajectoryWriter(tmp_path, shard_size=10).write(make_trajectory(0))
    shard = tmp_path / "shard_00000.h5"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import h5py, time; f = h5py.File({str(shard)!r}, 'a'); print('open', flush=True); "
         "time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        busy = r"shard_00000.h5: cannot open the shard: it is open elsewhere"
        with pytest.raises(ShardInUseError, match=busy) as info:
            TrajectoryWriter(tmp_path, shard_size=10)
        assert "\n" not in str(info.value)
        assert shard.exists() and not list(tmp_path.glob("*.corrupt*"))
    finally:
        holder.kill()
        holder.wait()
    assert TrajectoryWriter(tmp_path, shard_size=10).done_indices == {0}


def test_a_damaged_shard_is_moved_aside_only_under_the_folder_lock(tmp_path):
    TrajectoryWriter(tmp_path, shard_size=1).write(make_trajectory(0))
    damaged = tmp_path / "shard_00001.h5"
    damaged.write_bytes(b"not an hdf5 file at all" * 100)
    with FolderLock(tmp_path, "another collect"):
        with pytest.raises(UsageError, match="in use by another collect"):
            TrajectoryWriter(tmp_path, shard_size=1)
    assert damaged.exists()
    with pytest.warns(UserWarning, match="shard_00001.h5"):
        writer = TrajectoryWriter(tmp_path, shard_size=1)
    assert writer.done_indices == {0} and not damaged.exists() and (tmp_path / "shard_00001.h5.corrupt").exists()


# 3. kills -----------------------------------------------------------------------------------------------------------


def readable_shards(folder: Path) -> tuple[int, int]:
    """(shards that exist, shards that open and read back in full)."""
    paths, good = shard_paths(folder), 0
    for path in paths:
        try:
            with TrajectoryReader(path) as reader:
                list(reader)
            good += 1
        except StoreError:
            pass
    return len(paths), good


def writing_since(folder: Path, since: float) -> bool:
    """Whether a shard (or a shard being created) in ``folder`` changed after ``since``: the run is writing."""
    if not folder.is_dir():
        return False
    for path in folder.iterdir():
        try:  # a temporary shard can be renamed between the listing and the stat
            if path.name.lstrip(".").startswith("shard_") and path.stat().st_mtime > since:
                return True
        except FileNotFoundError:
            continue
    return False


def test_killed_collects_never_leave_an_unreadable_shard_and_resume_without_duplicates(tmp_path):
    """Every write creates a shard (shard_size 1): the kills land in shard creation, the window item 3 is about."""
    episodes, shard_size, trials = 600, 1, 8
    out, rng, seen = tmp_path / "killed", random.Random(10), []
    script = collect_script(out, episodes, shard_size, env_kwargs={"image_size": 48})
    log = tmp_path / "stderr.txt"
    for _ in range(trials):
        launched = time.time()
        with log.open("w") as stderr:
            run = subprocess.Popen([sys.executable, "-c", script], env=ENV, stderr=stderr)
        wait_for(lambda: writing_since(out, launched) or run.poll() is not None, 120, "the collect to write")
        time.sleep(rng.uniform(0.0, 0.3))
        run.send_signal(signal.SIGKILL)
        if run.wait() == 0:  # a fast machine finished the store before this kill: the kills so far are the test
            break
        assert run.returncode == -signal.SIGKILL, f"the collect failed: {log.read_text()[-2000:]}"
        seen.append(readable_shards(out))
    assert len(seen) >= 3, f"only {len(seen)} kills landed before the collect finished"
    assert all(exist == good for exist, good in seen), f"(shards, readable) after each kill: {seen}"

    collect(FAKE_ID, episodes, out, policy="random", seed=7, shard_size=shard_size, progress=False,
            env_kwargs={"image_size": 48})  # fmt: skip
    reference = tmp_path / "reference"
    collect(FAKE_ID, episodes, reference, policy="random", seed=7, shard_size=shard_size, progress=False,
            env_kwargs={"image_size": 48})  # fmt: skip
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp") or ".corrupt" in p.name]
    with TrajectoryReader(out) as resumed, TrajectoryReader(reference) as fresh:
        assert [t.index for t in resumed] == list(range(episodes))
        for a, b in zip(resumed, fresh):
            assert_same(a, b)


def test_leftover_temporary_shards_are_removed_by_the_next_writer(tmp_path):
    TrajectoryWriter(tmp_path, shard_size=1).write(make_trajectory(0))
    leftover = tmp_path / ".shard_00001.h5.4242.tmp"
    leftover.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(40))  # what a kill leaves while a shard is being created
    assert len(TrajectoryReader(tmp_path)) == 1
    writer = TrajectoryWriter(tmp_path, shard_size=1)
    assert not leftover.exists() and writer.done_indices == {0}
    writer.write(make_trajectory(1))
    assert [p.name for p in sorted(tmp_path.iterdir())] == [".lock", "shard_00000.h5", "shard_00001.h5"]


# 4. checksums --------------------------------------------------------------------------------------------------------


def chunk_span(dataset: h5py.Dataset) -> tuple[int, int]:
    """Byte offset and size of a dataset's first stored chunk (or of its contiguous data)."""
    if dataset.chunks is None:
        return dataset.id.get_offset(), dataset.id.get_storage_size()
    info = dataset.id.get_chunk_info(0)
    return info.byte_offset, info.size


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("compression", "dataset"), [("gzip", "states"), ("lzf", "images"), ("gzip", "actions")])
def test_a_damaged_chunk_is_one_line_naming_file_trajectory_and_dataset(tmp_path, compression, dataset):
    TrajectoryWriter(tmp_path, shard_size=10, compression=compression).write(make_trajectory(3, length=6))
    shard = tmp_path / "shard_00000.h5"
    with h5py.File(shard) as handle:
        stored = handle[f"trajectories/0000003/{dataset}"]
        assert stored.fletcher32 and stored.chunks is not None
        offset, size = chunk_span(stored)
        if dataset == "images":
            assert stored.chunks == (1, 32, 32, 3) and stored.compression == compression
    flip_byte(shard, offset + size // 2)
    with TrajectoryReader(tmp_path) as reader:
        with pytest.raises(StoreError) as info:
            reader[0]
    message = str(info.value)
    assert "\n" not in message
    assert f"{shard}:/trajectories/0000003: cannot read dataset {dataset!r}" in message


def test_shards_written_before_checksums_still_read_and_resume(tmp_path):
    """The layout of earlier shards (no checksums, variable-length text, HDF5's earliest format) stays readable."""
    trajectory = make_trajectory(0)
    with h5py.File(tmp_path / "shard_00000.h5", "w") as handle:
        handle.attrs.update({"format": "vjepa_bench.trajectories", "format_version": 1, "shard_size": 10})
        group = handle.create_group("trajectories/0000000")
        group.create_dataset("images", data=trajectory.images, chunks=(1, 32, 32, 3), compression="gzip")
        group.create_dataset("states", data=trajectory.states)
        group.create_dataset("actions", data=trajectory.actions)
        group.create_dataset("camera", data=[40.0, 30.0, 1.4, 0.5, 0.0, 0.1, 0.0, 45.0])
        group.attrs.update({"index": 0, "task": trajectory.task, "seed": 100, "success": True,
                            "attrs_json": json.dumps(trajectory.attrs)})  # fmt: skip
    with TrajectoryReader(tmp_path) as reader:
        assert_same(reader[0], trajectory)
    writer = TrajectoryWriter(tmp_path, shard_size=10)
    writer.write(make_trajectory(1))  # appended to the old shard
    with TrajectoryReader(tmp_path) as reader:
        assert_same(reader[1], make_trajectory(1))


# 5. finite values ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("states", np.nan), ("actions", np.inf), ("states", -np.inf)])
def test_the_writer_refuses_non_finite_values_naming_the_field(tmp_path, field, value):
    trajectory = make_trajectory(0)
    getattr(trajectory, field)[1, 2] = value
    with pytest.raises(StoreError, match=f"trajectory 0: field '{field}' holds NaN or infinite values"):
        TrajectoryWriter(tmp_path).write(trajectory)


@pytest.mark.parametrize("field", ["images", "states", "actions"])
def test_a_row_changed_behind_the_checksums_fails_its_crc(tmp_path, field):
    TrajectoryWriter(tmp_path, shard_size=10).write(make_trajectory(5, length=6))
    shard = tmp_path / "shard_00000.h5"
    with h5py.File(shard, "a") as handle:  # HDF5 recomputes Fletcher-32 on this write: only the CRC-32 can tell
        dataset = handle[f"trajectories/0000005/{field}"]
        row = dataset[2]
        dataset[2] = row + 1
    with TrajectoryReader(tmp_path) as reader:
        with pytest.raises(StoreError, match=f"dataset '{field}' fails its CRC-32 check"):
            reader[0]
        reader.window(0, 3, 3)  # rows clear of the changed one read fine


@pytest.mark.parametrize(("field", "value"), [("states", np.nan), ("actions", np.inf)])
def test_the_reader_refuses_non_finite_values_it_finds(tmp_path, field, value):
    TrajectoryWriter(tmp_path, shard_size=10).write(make_trajectory(5, length=6))
    shard = tmp_path / "shard_00000.h5"
    with h5py.File(shard, "a") as handle:  # a store written by something else, or edited
        handle[f"trajectories/0000005/{field}"][2, 4] = value
    expected = f"{shard}:/trajectories/0000005: dataset '{field}' holds NaN or infinite values"
    with TrajectoryReader(tmp_path) as reader:
        with pytest.raises(StoreError, match=re.escape(expected)):
            reader[0]
        with pytest.raises(StoreError, match="NaN or infinite"):
            reader.window(0, 1, 4)
        reader.window(0, 3, 3)  # a window clear of the bad row reads fine


# 6. settings ---------------------------------------------------------------------------------------------------------


def test_collect_into_a_complete_store_with_other_settings_is_refused(tmp_path):
    collect(FAKE_ID, 2, tmp_path, policy="random", seed=0, progress=False, env_kwargs={"image_size": 4})
    recorded = json.loads((tmp_path / "collect.json").read_text())
    assert recorded["env_kwargs"] == {"image_size": 4} and recorded["policy"] == "random"
    with pytest.raises(StoreError, match=r"collected with other env_kwargs \(env_kwargs: \{'image_size': 4\} there, "
                                         r"\{'image_size': 8\} now\)"):  # fmt: skip
        collect(FAKE_ID, 2, tmp_path, policy="random", seed=0, progress=False, env_kwargs={"image_size": 8})
    with pytest.raises(StoreError, match="collected with other max_steps, policy ") as info:
        collect(FAKE_ID, 1, tmp_path, policy="noisy_scripted", seed=0, progress=False, max_steps=3,
                env_kwargs={"image_size": 4})  # fmt: skip
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError, match="collected with other env_kwargs"):  # incomplete: more episodes wanted
        collect(FAKE_ID, 4, tmp_path, policy="random", seed=0, progress=False, env_kwargs={"image_size": 8})
    assert collect(FAKE_ID, 2, tmp_path, policy="random", seed=0, progress=False, env_kwargs={"image_size": 4}) \
        .skipped == 2


def test_collect_settings_are_written_as_strict_json(tmp_path):
    with pytest.raises(ValueError, match=r"\$\.policy_kwargs\.pull is nan"):
        collect(FAKE_ID, 1, tmp_path, policy="random", progress=False, policy_kwargs={"pull": float("nan")})
    assert not (tmp_path / "collect.json").exists()  # never a file other runs cannot parse
    (tmp_path / "collect.json").write_text('{"env_id": ')  # damaged by hand
    with pytest.raises(StoreError, match=r"collect.json: unreadable collect settings"):
        collect(FAKE_ID, 1, tmp_path, policy="random", progress=False)


# 7. DROID ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def droid_dir(tmp_path):
    directory = tmp_path / "traj"
    write_droid_trajectory(directory)
    return directory


def mp4_of(directory: Path) -> Path:
    return directory / "recordings" / "MP4" / f"{SERIAL}.mp4"


def test_droid_video_shorter_than_its_states_is_refused_at_open(droid_dir):
    write_video(mp4_of(droid_dir), synthetic_frames()[:30], 15, quality=9)
    with pytest.raises(StoreError) as info:
        DroidTrajectories([droid_dir])
    message = str(info.value)
    assert "\n" not in message and f"{SERIAL}.mp4 has 30 frames" in message
    assert f"{droid_dir / 'trajectory.h5'} has {N_RAW} states" in message
    with pytest.raises(StoreError, match="shorter than its trajectory"):
        load_droid_trajectory(droid_dir)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_droid_damaged_video_is_one_line_without_ffmpeg_output(droid_dir, capfd, damage):
    video = mp4_of(droid_dir)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"garbage" * 400)
    capfd.readouterr()
    with pytest.raises(StoreError) as info:
        DroidTrajectories([droid_dir])
    message = str(info.value)
    assert "\n" not in message and f"{video}: not a readable video" in message and "ffmpeg version" not in message
    out, err = capfd.readouterr()
    assert "ffmpeg" not in err.lower() and "ffmpeg" not in out.lower()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("empty", r"cartesian_position' is empty"),
        ("nan_pose", r"cartesian_position' holds NaN or infinite values \(first at row 5\)"),
        ("inf_gripper", r"gripper_position' holds NaN or infinite values \(first at row 7\)"),
        ("shorter", r"has 39 states but .*metadata_.*json records trajectory_length 40"),
    ],
)
def test_droid_bad_state_arrays_are_one_line_errors(droid_dir, change, expected):
    h5_path = droid_dir / "trajectory.h5"
    states = synthetic_states()
    with h5py.File(h5_path, "a") as handle:
        pose, gripper = states[:, :6], states[:, 6]
        if change == "empty":
            pose, gripper = pose[:0], gripper[:0]
        elif change == "nan_pose":
            pose[5, 2] = np.nan
        elif change == "inf_gripper":
            gripper[7] = np.inf
        else:
            pose, gripper = pose[:-1], gripper[:-1]
        for name, values in (("cartesian_position", pose), ("gripper_position", gripper)):
            del handle[f"observation/robot_state/{name}"]
            handle[f"observation/robot_state/{name}"] = values
    pattern = expected if change == "shorter" else f"{re.escape(str(h5_path))}: field .*{expected}"
    with pytest.raises(StoreError, match=pattern) as info:
        DroidTrajectories([droid_dir])
    assert "\n" not in str(info.value) and str(h5_path) in str(info.value)


# 8. no dead API ------------------------------------------------------------------------------------------------------


def test_the_writer_has_no_done_seeds():
    assert not hasattr(TrajectoryWriter, "done_seeds")  # seed_of(index) is what resuming needs


# 9. fuzz -------------------------------------------------------------------------------------------------------------

DAMAGE = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                                        min_size=1, max_size=3)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
)  # fmt: skip


def damaged(data: bytes, damage: tuple) -> bytes:
    kind, how = damage
    if kind == "truncate":
        return data[: int(how * len(data))]
    out = bytearray(data)
    for where, mask in how:
        out[int(where * len(out))] ^= mask
    return bytes(out)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("small_store")
    written = [make_trajectory(i, length=3 + i, size=8) for i in range(3)]
    writer = TrajectoryWriter(root, shard_size=10)
    for trajectory in written:
        writer.write(trajectory)
    return (root / "shard_00000.h5").read_bytes(), written


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=DAMAGE)
@example(damage=("flip", [(0.4083197338814309, 1)]))  # a chunk-index bit: read back wrong before the CRC-32s
def test_fuzz_a_damaged_shard_reads_back_equal_or_is_a_one_line_store_error(small_store, damage):
    data, written = small_store
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "shard_00000.h5").write_bytes(damaged(data, damage))
        try:
            with TrajectoryReader(folder) as reader:
                loaded = list(reader)
        except StoreError as error:
            assert "\n" not in str(error) and "shard_00000.h5" in str(error)
            return
    assert len(loaded) == len(written)
    for a, b in zip(loaded, written):
        assert_same(a, b)


@pytest.fixture(scope="module")
def small_droid(tmp_path_factory):
    directory = tmp_path_factory.mktemp("small_droid") / "traj"
    write_droid_trajectory(directory)
    return directory, load_droid_trajectory(directory)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=DAMAGE)
def test_fuzz_a_damaged_droid_h5_loads_checked_values_or_is_a_one_line_store_error(small_droid, damage):
    """DROID's files carry no checksums, so a flipped byte inside a value cannot be detected: what is promised is a
    one-line StoreError, or finite states of the recorded length (equal to the original after a truncation)."""
    source, original = small_droid
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "traj"
        shutil.copytree(source, directory)
        h5_path = directory / "trajectory.h5"
        h5_path.write_bytes(damaged(h5_path.read_bytes(), damage))
        try:
            loaded = load_droid_trajectory(directory)
        except StoreError as error:
            assert "\n" not in str(error) and str(directory) in str(error)
            return
    assert loaded.states.shape == original.states.shape and loaded.states.dtype == np.float32
    assert np.isfinite(loaded.states).all() and np.isfinite(loaded.actions).all()
    if damage[0] == "truncate":
        np.testing.assert_array_equal(loaded.states, original.states)
