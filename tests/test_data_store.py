"""HDF5 trajectory store: round trip across shards, resume, crash safety, clear errors on bad files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from vjepa_bench.data.store import (
    StoreError,
    Trajectory,
    TrajectoryReader,
    TrajectoryWriter,
    camera_from_array,
    camera_to_array,
)

CAMERA = {
    "azimuth_deg": 60.0, "elevation_deg": 30.0, "distance": 1.4, "lookat": (0.5, 0.0, 0.1), "roll_deg": 0.0,
    "fovy_deg": 45.0,
}  # fmt: skip


def make_trajectory(index: int, length: int = 5, seed: int | None = None, size: int = 32) -> Trajectory:
    rng = np.random.default_rng(index)
    return Trajectory(
        images=rng.integers(0, 256, (length, size, size, 3), dtype=np.uint8),
        states=rng.normal(size=(length, 7)).astype(np.float32),
        actions=rng.normal(size=(length - 1, 7)).astype(np.float32),
        task="vjepa_bench/FrankaReach-v1",
        seed=100 + index if seed is None else seed,
        success=index % 2 == 0,
        camera=dict(CAMERA, azimuth_deg=40.0 + index),
        index=index,
        attrs={"policy": "random", "steps": length - 1},
    )


def assert_same(a: Trajectory, b: Trajectory) -> None:
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert (a.task, a.seed, a.success, a.index, a.attrs) == (b.task, b.seed, b.success, b.index, b.attrs)
    np.testing.assert_allclose(camera_to_array(a.camera), camera_to_array(b.camera))


def test_round_trip_across_shards(tmp_path):
    written = [make_trajectory(i, length=4 + i) for i in range(3)]
    writer = TrajectoryWriter(tmp_path, shard_size=2, compression="lzf")
    assert [writer.write(t).name for t in written] == ["shard_00000.h5", "shard_00000.h5", "shard_00001.h5"]
    reader = TrajectoryReader(tmp_path)
    assert len(reader) == 3 and reader.lengths() == [4, 5, 6]
    for original, loaded in zip(written, reader):
        assert_same(original, loaded)
        assert loaded.images.dtype == np.uint8
        assert loaded.states.dtype == np.float32 and loaded.actions.dtype == np.float32
    images, states, actions = reader.window(2, 1, 3)
    np.testing.assert_array_equal(images, written[2].images[1:4])
    np.testing.assert_array_equal(actions, written[2].actions[1:3])
    with h5py.File(tmp_path / "shard_00000.h5") as handle:  # layout promised in the module docstring
        images = handle["trajectories/0000001/images"]
        assert images.chunks == (1, 32, 32, 3) and images.compression == "lzf"
    reader.close()


def test_camera_dict_round_trip():
    assert camera_from_array(camera_to_array(CAMERA)) == CAMERA


def test_resume_knows_done_indices_and_seeds(tmp_path):
    writer = TrajectoryWriter(tmp_path, shard_size=2)
    for i in (0, 1, 4):
        writer.write(make_trajectory(i))
    resumed = TrajectoryWriter(tmp_path, shard_size=2)
    assert resumed.done_indices == {0, 1, 4}
    assert [resumed.seed_of(i) for i in (0, 1, 4)] == [100, 101, 104]
    with pytest.raises(StoreError, match="already stored"):
        resumed.write(make_trajectory(1))
    resumed.write(make_trajectory(2))
    assert [t.index for t in TrajectoryReader(tmp_path)] == [0, 1, 2, 4]
    with pytest.raises(StoreError, match="shard_size"):
        TrajectoryWriter(tmp_path, shard_size=3)


def test_half_written_group_is_ignored_and_cleaned(tmp_path):
    writer = TrajectoryWriter(tmp_path, shard_size=10)
    writer.write(make_trajectory(0))
    with h5py.File(tmp_path / "shard_00000.h5", "a") as handle:  # what a kill in the middle of a write leaves
        partial = handle["trajectories"].create_group("_partial_0000001")
        partial.create_dataset("images", data=np.zeros((2, 4, 4, 3), np.uint8))
    assert len(TrajectoryReader(tmp_path)) == 1
    resumed = TrajectoryWriter(tmp_path, shard_size=10)
    assert resumed.done_indices == {0}
    resumed.write(make_trajectory(1))
    with h5py.File(tmp_path / "shard_00000.h5") as handle:
        assert sorted(handle["trajectories"]) == ["0000000", "0000001"]


def test_killed_writer_keeps_finished_trajectories(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_data_store import make_trajectory
        from vjepa_bench.data.store import TrajectoryWriter
        writer = TrajectoryWriter({str(tmp_path)!r}, shard_size=10)
        writer.write(make_trajectory(0))
        writer.write(make_trajectory(1))
        in_progress = make_trajectory(2)  # never written: the kill comes first
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()
    assert TrajectoryWriter(tmp_path, shard_size=10).done_indices == {0, 1}
    assert_same(TrajectoryReader(tmp_path)[1], make_trajectory(1))


def test_garbage_and_truncated_files_name_the_file(tmp_path):
    TrajectoryWriter(tmp_path, shard_size=1).write(make_trajectory(0, length=20, size=64))
    garbage = tmp_path / "shard_00001.h5"
    garbage.write_bytes(b"not an hdf5 file at all" * 100)
    with pytest.raises(StoreError, match="shard_00001.h5"):
        TrajectoryReader(tmp_path)

    garbage.unlink()
    shard = tmp_path / "shard_00000.h5"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="shard_00000.h5"):
        reader = TrajectoryReader(tmp_path)
        reader[0]

    # the writer moves a damaged shard aside and collects its trajectories again
    with pytest.warns(UserWarning, match="shard_00000.h5"):
        writer = TrajectoryWriter(tmp_path, shard_size=1)
    assert writer.done_indices == set() and (tmp_path / "shard_00000.h5.corrupt").exists()


def test_wrong_file_and_wrong_fields_name_the_field(tmp_path):
    foreign = tmp_path / "shard_00000.h5"
    with h5py.File(foreign, "w") as handle:
        handle.create_dataset("x", data=np.zeros(3))
    with pytest.raises(StoreError, match=r"shard_00000.h5.*'format'"):
        TrajectoryReader(tmp_path)

    foreign.unlink()
    TrajectoryWriter(tmp_path, shard_size=10).write(make_trajectory(0))
    with h5py.File(foreign, "a") as handle:
        del handle["trajectories/0000000/actions"]
        handle["trajectories/0000000"].create_dataset("actions", data=np.zeros((2, 7), np.float32))
    with pytest.raises(StoreError, match=r"shard_00000.h5:/trajectories/0000000: field 'actions'"):
        TrajectoryReader(tmp_path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"images": np.zeros((5, 8, 8, 3), np.float32)}, "images"),
        ({"states": np.zeros((5, 6), np.float32)}, "states"),
        ({"actions": np.zeros((5, 7), np.float32)}, "actions"),
        ({"actions": np.full((4, 7), np.nan, np.float32)}, "actions"),
        ({"camera": {"azimuth_deg": 1.0}}, "camera"),
    ],
)
def test_invalid_trajectory_is_refused_before_writing(tmp_path, change, field):
    trajectory = make_trajectory(0)
    for key, value in change.items():
        setattr(trajectory, key, value)
    with pytest.raises(StoreError, match=f"field '{field}'"):
        TrajectoryWriter(tmp_path).write(trajectory)
    assert not (tmp_path / "shard_00000.h5").exists()


def test_writing_to_a_shard_held_by_a_reader_is_a_clear_error(tmp_path):
    TrajectoryWriter(tmp_path, shard_size=10).write(make_trajectory(0))
    with TrajectoryReader(tmp_path) as reader:
        reader[0]
        with pytest.raises(StoreError, match=r"shard_00000.h5: cannot open the shard for writing"):
            TrajectoryWriter(tmp_path, shard_size=10).write(make_trajectory(1))
    TrajectoryWriter(tmp_path, shard_size=10).write(make_trajectory(1))
