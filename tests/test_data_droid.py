"""DROID raw-layout reader and video decoding, on a tiny trajectory written here (real HDF5, real H.264 MP4)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from vjepa_bench import layout
from vjepa_bench.data.clips import ClipDataset
from vjepa_bench.data.droid import (
    DroidTrajectories,
    frame_stride,
    load_droid_trajectory,
    read_trajectory_list,
    video_path,
)
from vjepa_bench.data.store import StoreError
from vjepa_bench.data.video import read_video, video_info, write_video

N_RAW, FPS, HEIGHT, WIDTH = 40, 15, 64, 96
SERIAL = "22008760"


def synthetic_frames() -> np.ndarray:
    """Frame t: red level 6 t, a white square at x = 2 t, a fixed blue gradient; every frame differs."""
    frames = np.zeros((N_RAW, HEIGHT, WIDTH, 3), np.uint8)
    frames[..., 2] = np.linspace(0, 200, WIDTH, dtype=np.uint8)[None, None, :]
    for t in range(N_RAW):
        frames[t, ..., 0] = 6 * t
        frames[t, 24:40, 2 * t : 2 * t + 16, :] = 255
    return frames


def synthetic_states() -> np.ndarray:
    t = np.arange(N_RAW, dtype=np.float64)
    pose = np.stack([0.5 + 0.01 * t, 0.002 * t, 0.3 - 0.003 * t, np.pi - 0.02 * t, 0.01 * t, -1.5 + 0.03 * t], axis=1)
    return np.concatenate([pose, np.clip(t / 30, 0, 1)[:, None]], axis=1)


def write_droid_trajectory(directory, *, metadata_extra=None) -> None:
    directory.mkdir(parents=True)
    metadata = {
        "uuid": "LAB+abc123+2023-07-07-10h-00m-00s",
        "current_task": "put the marker in the cup",
        "success": True,
        "ext1_cam_serial": SERIAL,
        "ext2_cam_serial": "24400334",
        "wrist_cam_serial": "13062452",
        # as recorded on the lab machine: only the part after recordings/MP4/ is meaningful here
        "left_mp4_path": f"LAB/success/2023-07-07/Fri_Jul__7_10:00:00_2023/recordings/MP4/{SERIAL}.mp4",
        "right_mp4_path": "LAB/success/2023-07-07/Fri_Jul__7_10:00:00_2023/recordings/MP4/24400334.mp4",
        "trajectory_length": N_RAW,
        **(metadata_extra or {}),
    }
    (directory / f"metadata_{metadata['uuid']}.json").write_text(json.dumps(metadata))
    states = synthetic_states()
    with h5py.File(directory / "trajectory.h5", "w") as handle:
        handle.create_dataset("observation/robot_state/cartesian_position", data=states[:, :6])
        handle.create_dataset("observation/robot_state/gripper_position", data=states[:, 6])
        handle.create_dataset("observation/robot_state/joint_positions", data=np.zeros((N_RAW, 7)))
        handle.create_dataset(f"observation/camera_extrinsics/{SERIAL}_left", data=np.zeros((N_RAW, 6)))
        handle.create_dataset("action/cartesian_position", data=states[:, :6])
    write_video(directory / "recordings" / "MP4" / f"{SERIAL}.mp4", synthetic_frames(), FPS, quality=9)


@pytest.fixture(scope="module")
def droid_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("droid") / "traj_a"
    write_droid_trajectory(directory)
    return directory


def nearest_raw_frame(frame: np.ndarray, raw: np.ndarray) -> int:
    return int(np.argmin(np.abs(raw.astype(np.float32) - frame.astype(np.float32)).mean(axis=(1, 2, 3))))


def test_video_decoding_all_selected_and_resized(droid_dir):
    path = droid_dir / "recordings" / "MP4" / f"{SERIAL}.mp4"
    raw = synthetic_frames()
    info = video_info(path)
    assert (info.fps, info.width, info.height, info.n_frames) == (FPS, WIDTH, HEIGHT, N_RAW)

    frames, fps = read_video(path)
    assert frames.shape == (N_RAW, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8 and fps == FPS
    assert np.abs(frames.astype(np.float32) - raw).mean() < 6.0  # lossy, but close
    assert [nearest_raw_frame(f, raw) for f in frames] == list(range(N_RAW))

    picked, _ = read_video(path, [17, 3, 17])
    assert [nearest_raw_frame(f, raw) for f in picked] == [17, 3, 17]
    strided, _ = read_video(path, stride=4)
    assert [nearest_raw_frame(f, raw) for f in strided] == list(range(0, N_RAW, 4))
    small, _ = read_video(path, [5], size=(32, 48))
    assert small.shape == (1, 32, 48, 3)
    with pytest.raises(IndexError, match=f"{SERIAL}.mp4"):
        read_video(path, [3, N_RAW + 5])


def test_droid_trajectory_subsampled_to_4fps(droid_dir):
    trajectory = load_droid_trajectory(droid_dir)
    stride = frame_stride(FPS)
    assert stride == 4
    expected_raw = np.arange(0, N_RAW, stride)
    assert len(trajectory) == len(expected_raw) == 10
    assert trajectory.images.shape == (10, HEIGHT, WIDTH, 3)
    np.testing.assert_allclose(trajectory.states, synthetic_states()[expected_raw], rtol=0, atol=1e-6)
    assert trajectory.actions.shape == (9, 7) and trajectory.actions.dtype == np.float32
    np.testing.assert_allclose(
        trajectory.actions, layout.action_between(trajectory.states[:-1], trajectory.states[1:]), atol=1e-6
    )
    position_steps = np.tile([0.04, 0.008, -0.012], (9, 1))  # 4 raw steps of the synthetic motion
    np.testing.assert_allclose(trajectory.actions[:, layout.POSITION], position_steps, atol=1e-5)
    raw = synthetic_frames()
    assert [nearest_raw_frame(f, raw) for f in trajectory.images] == expected_raw.tolist()
    assert np.abs(trajectory.images.astype(np.float32) - raw[expected_raw]).mean() < 6.0
    assert trajectory.task == "put the marker in the cup" and trajectory.success is True
    assert trajectory.attrs["raw_frames"] == expected_raw.tolist()


def test_frame_stride_rule():
    assert [frame_stride(f) for f in (15, 30, 29.97, 60, 4, 16.0000001)] == [4, 8, 8, 15, 1, 4]


def test_list_file_and_lazy_windows(droid_dir, tmp_path):
    list_file = tmp_path / "droid_train.csv"
    list_file.write_text(f"{droid_dir} 0\n\n# a comment\n{droid_dir}\n")
    assert read_trajectory_list(list_file) == [droid_dir, droid_dir]
    source = DroidTrajectories(list_file, size=(32, 48))
    assert len(source) == 2 and source.lengths() == [10, 10]
    images, states, actions = source.window(1, 3, 4)
    assert images.shape == (4, 32, 48, 3) and states.shape == (4, 7) and actions.shape == (3, 7)
    np.testing.assert_allclose(states, synthetic_states()[[12, 16, 20, 24]], atol=1e-6)
    with pytest.raises(IndexError):
        source.window(0, 8, 4)

    clips = ClipDataset(source, frames_per_clip=8, size=32, seed=3)
    item = clips[0]
    assert item["images"].shape == (8, 3, 32, 32) and item["actions"].shape == (7, 7)
    raw = (item["start"] + np.arange(8)) * 4
    np.testing.assert_allclose(item["states"].numpy(), synthetic_states()[raw], atol=1e-6)
    with pytest.raises(ValueError, match="no trajectory has 11 frames"):
        ClipDataset(source, frames_per_clip=11)


def test_camera_key_fallbacks_and_errors(droid_dir, tmp_path):
    metadata = {"ext1_cam_serial": SERIAL}
    assert video_path(droid_dir, metadata) == droid_dir / "recordings" / "MP4" / f"{SERIAL}.mp4"
    with pytest.raises(KeyError, match="ext1_cam_serial"):
        video_path(droid_dir, {"ext1_cam_serial": SERIAL}, camera="wrist_mp4_path")
    with pytest.raises(FileNotFoundError, match="24400334.mp4"):
        load_droid_trajectory(droid_dir, camera="right_mp4_path")

    broken = tmp_path / "broken"
    write_droid_trajectory(broken)
    with h5py.File(broken / "trajectory.h5", "a") as handle:
        del handle["observation/robot_state/gripper_position"]
    with pytest.raises(StoreError, match=r"trajectory.h5: field .*gripper_position.* is missing"):
        load_droid_trajectory(broken)
    with pytest.raises(FileNotFoundError, match="no metadata JSON"):
        load_droid_trajectory(broken / "recordings")
