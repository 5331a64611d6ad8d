"""Figures of a camera sweep (matplotlib, headless): rotation error, success with Wilson bands, example frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


def plot_rotation(rows: list[dict[str, Any]], path: Path) -> None:
    """Rotation of the inferred axes (deg) and action error before/after the fitted map, against azimuth."""
    rows = [r for r in rows if "axis" in r]
    angles = [r["angle_deg"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.plot(angles, [r["axis"]["rotation_deg"] for r in rows], "o-")
    left.axhline(0, color="grey", lw=0.5)
    left.set(xlabel="camera azimuth (deg)", ylabel="rotation of inferred axes (deg)", title="axis rotation")
    right.plot(angles, [r["axis"]["error_before_cm"] for r in rows], "o-", label="inferred")
    right.plot(angles, [r["axis"]["error_after_cm"] for r in rows], "s--", label="after W*")
    right.set(xlabel="camera azimuth (deg)", ylabel="mean abs error (cm)", title="action error")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_success(rows: list[dict[str, Any]], path: Path) -> None:
    """Success rate against azimuth with Wilson 95% bands, uncalibrated and (when run) calibrated."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for key, style in (("uncalibrated", "o-"), ("calibrated", "s--")):
        points = [(r["angle_deg"], r[key]) for r in rows if key in r]
        if not points:
            continue
        angles = [a for a, _ in points]
        line, = ax.plot(angles, [100 * s["success_rate"] for _, s in points], style, label=key)
        ax.fill_between(angles, [100 * s["wilson95"][0] for _, s in points],
                        [100 * s["wilson95"][1] for _, s in points], color=line.get_color(), alpha=0.2)
    ax.set(xlabel="camera azimuth (deg)", ylabel="success (%)", ylim=(-2, 102), title="task success")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_frames(frames: list[tuple[float, Path]], path: Path) -> None:
    """One panel per azimuth: the first frame of the axis-test trajectory."""
    fig, axes = plt.subplots(1, len(frames), figsize=(2 * len(frames), 2.2), squeeze=False)
    for ax, (angle, frame) in zip(axes[0], frames):
        ax.imshow(matplotlib.image.imread(frame))
        ax.set_title(f"{angle:g} deg", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
