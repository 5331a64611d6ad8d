"""``sim_motion``: a small motion-understanding dataset rendered by our MuJoCo scene, in the SSv2 file format.

Nine SSv2-like templates: the arm carries the box left / right (as seen in the image), towards / away from the
camera, lifts it, puts it down, pushes it left to right along the table; or the camera pans left / right while the
scene stands still. Clips are posed kinematically each frame (IK for the arm, the box placed in the hand) with a
random start, extent and the default camera, then written as H.264 MP4s with ``something-something-v2-labels.json``
and ``...-{train,validation}.json`` next to them, so the SSv2 reader loads them unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import mujoco
import numpy as np

from vjepa_bench.envs import CameraPose, FrankaGraspEnv
from vjepa_bench.data.video import write_video
from vjepa_bench.video.config import SimMotionSpec

TEMPLATES = (
    "Moving [something] from right to left",
    "Moving [something] from left to right",
    "Moving [something] towards the camera",
    "Moving [something] away from the camera",
    "Lifting [something] up",
    "Putting [something] down",
    "Pushing [something] from left to right",
    "Turning the camera left while filming [something]",
    "Turning the camera right while filming [something]",
)
HAND_ABOVE_OBJECT = 0.11
"""Flange height above the box centre when the box sits between the fingers (m)."""


def _image_axes(pose: CameraPose) -> tuple[np.ndarray, np.ndarray]:
    """Unit table-plane vectors pointing to the image's right and towards the camera."""
    forward = np.asarray(pose.lookat) - pose.position()
    forward[2] = 0.0
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    return right / np.linalg.norm(right), -forward


def _clip(env: FrankaGraspEnv, template: int, rng: np.random.Generator, frames: int) -> np.ndarray:
    pose = CameraPose()
    right, towards = _image_axes(pose)
    centre = np.array([0.45, 0.0]) + rng.uniform(-0.05, 0.05, 2)
    extent = rng.uniform(0.12, 0.2)
    s = np.clip((np.arange(frames) - rng.integers(0, 3)) / (frames - 4), 0.0, 1.0)  # progress per frame
    s = s * s * (3 - 2 * s)
    rest = env.object_rest_height()
    lift = 0.12
    directions = {0: -right, 1: right, 2: towards, 3: -towards, 6: right}
    images = []
    for t in range(frames):
        azimuth = pose.azimuth_deg
        xy, z, held = centre, rest + 0.06, True
        if template in directions:
            xy = centre + directions[template][:2] * extent * (s[t] - 0.5)
            z = rest if template == 6 else rest + 0.06
            held = template != 6
        elif template == 4:
            z = rest + lift * s[t]
        elif template == 5:
            z = rest + lift * (1 - s[t])
        else:
            z, held = rest, False
            azimuth += (25.0 if template == 7 else -25.0) * (s[t] - 0.5)
        env._apply_camera(CameraPose(azimuth_deg=azimuth))
        if held:
            hand, finger = np.array([xy[0], xy[1], z + HAND_ABOVE_OBJECT]), 0.025
        elif template == 6:
            hand, finger = np.array([*(xy - right[:2] * 0.07), rest + HAND_ABOVE_OBJECT - 0.02]), 0.0
        else:
            hand, finger = np.array([0.4, 0.0, 0.4]), 0.04
        env.set_robot(hand, finger=finger)
        env.place_object(xy, 0.0, z)
        mujoco.mj_forward(env.model, env.data)
        images.append(env.render_frame())
    return np.stack(images)


def make_sim_motion(out_dir: str | Path, spec: SimMotionSpec = SimMotionSpec()) -> Path:
    """Render the dataset into ``out_dir`` (existing clips are kept: a rerun finishes an interrupted one)."""
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    env = FrankaGraspEnv(image_size=spec.image_size)
    env.reset(seed=spec.seed)
    rows = []
    try:
        for i in range(spec.clips):
            template = i % len(TEMPLATES)
            clip_rng = np.random.default_rng([spec.seed, i])
            path = out / "videos" / f"{i:05d}.mp4"
            if not path.exists():
                tmp = path.with_suffix(".tmp.mp4")
                write_video(tmp, _clip(env, template, clip_rng, spec.frames), spec.fps)
                tmp.rename(path)
            rows.append({"id": f"{i:05d}", "label": TEMPLATES[template].replace("[something]", "box"),
                         "template": TEMPLATES[template], "placeholders": ["box"]})
    finally:
        env.close()
    order = rng.permutation(len(rows))
    n_val = int(round(spec.val_fraction * len(rows)))
    val = sorted(order[:n_val].tolist())
    splits = {"validation": [rows[i] for i in val], "train": [rows[i] for i in sorted(set(range(len(rows))) - set(val))]}
    labels = {t.replace("[", "").replace("]", ""): str(i) for i, t in enumerate(TEMPLATES)}
    (out / "something-something-v2-labels.json").write_text(json.dumps(labels, indent=1))
    for name, split in splits.items():
        (out / f"something-something-v2-{name}.json").write_text(json.dumps(split, indent=1))
    return out
