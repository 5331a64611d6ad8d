"""Sweep outputs: ``sweep.json`` and ``sweep.csv`` (every figure per angle), the plots and ``summary.md``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from vjepa_bench.fileio import write_json_atomic
from vjepa_bench.evaluation.sweep import angle_dir
from vjepa_bench.evaluation.sweep_plots import plot_frames, plot_rotation, plot_success

AXIS_COLUMNS = ("rotation_deg", "condition_number", "error_before_cm", "error_after_cm", "correlation",
                "mean_true_move_cm")


def flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: the angle, the axis figures, the scale and each protocol-2 success summary."""
    out: dict[str, Any] = {"angle_deg": row["angle_deg"]}
    if "axis" in row:
        axis = row["axis"]
        out.update({k: axis[k] for k in AXIS_COLUMNS})
        out["scale_max"], out["scale_min"] = axis["singular_values"]
        out.update({f"w_{i}{j}": axis["matrix"][i][j] for i in range(2) for j in range(2)})
    for key in ("uncalibrated", "calibrated"):
        if key in row:
            s = row[key]
            out.update({f"{key}_n": s["n"], f"{key}_successes": s["successes"], f"{key}_rate": s["success_rate"],
                        f"{key}_low": s["wilson95"][0], f"{key}_high": s["wilson95"][1]})
    return out


def _success_text(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "-"
    low, high = summary["wilson95"]
    return f"{summary['successes']}/{summary['n']} [{100 * low:.0f}, {100 * high:.0f}]"


def summary_markdown(rows: list[dict[str, Any]], context: dict[str, Any]) -> str:
    """A short markdown table of the sweep."""
    lines = [
        "# Camera sweep",
        "",
        f"agent `{context['agent']}`, task `{context['env_id']}`, {context['settings']}",
        "",
        "| azimuth (deg) | axis rotation (deg) | scale | cond. | error (cm) inferred -> W* | corr. | success | "
        "calibrated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        axis = row.get("axis")
        figures = ("- | - | - | - | -" if axis is None else
                   f"{axis['rotation_deg']:+.1f} | {axis['singular_values'][0]:.2f}/{axis['singular_values'][1]:.2f}"
                   f" | {_number(axis['condition_number'])} | {axis['error_before_cm']:.2f} -> {axis['error_after_cm']:.2f}"
                   f" | {axis['correlation']:.2f}")
        lines.append(f"| {row['angle_deg']:g} | {figures} | {_success_text(row.get('uncalibrated'))} | "
                     f"{_success_text(row.get('calibrated'))} |")
    return "\n".join(lines) + "\n"


def _number(value: float | None) -> str:
    return "singular" if value is None else f"{value:.2f}"


def write_report(rows: list[dict[str, Any]], output_dir: Path, context: dict[str, Any]) -> None:
    """Write every sweep output of ``rows`` into ``output_dir`` (replacing earlier ones)."""
    write_json_atomic(output_dir / "sweep.json", {**context, "angles": rows})
    flat = [flat_row(r) for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    with (output_dir / "sweep.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flat)
    (output_dir / "summary.md").write_text(summary_markdown(rows, context))
    if any("axis" in r for r in rows):
        plot_rotation(rows, output_dir / "rotation.png")
    if any("uncalibrated" in r for r in rows):
        plot_success(rows, output_dir / "success.png")
    frames = [(r["angle_deg"], angle_dir(output_dir, r["angle_deg"]) / "frame.png") for r in rows]
    frames = [(a, p) for a, p in frames if p.exists()]
    if frames:
        plot_frames(frames, output_dir / "frames.png")
