"""Is a frozen encoder usable for planning by feature distance? For frame pairs of the same held-out
trajectory, the planning energy (mean |LN z_a - LN z_b|, docs/conventions.md#energy) should grow with the true end-effector
distance. ``python -m vjepa_bench.training.diagnostics <checkpoint> <store> [--image-size S]`` prints the
Spearman correlation and the mean energy per distance bin on the trajectories ``train-ac`` holds out."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from vjepa_bench import layout
from vjepa_bench.data.clips import TrajectorySource
from vjepa_bench.data.store import TrajectoryReader
from vjepa_bench.data.transforms import preprocess_frames
from vjepa_bench.models import layer_norm_features
from vjepa_bench.training.checkpoints import load_encoder
from vjepa_bench.training.data import split_indices

BINS = (0.0, 0.02, 0.04, 0.08, 0.15, 0.25, 0.4, np.inf)


@torch.no_grad()
def energy_vs_distance(encoder: nn.Module, source: TrajectorySource, indices: list[int], image_size: int) -> dict[str, Any]:
    """Spearman correlation of feature energy with end-effector distance over all frame pairs of each trajectory."""
    encoder.eval()
    energies, distances = [], []
    lengths = source.lengths()
    for i in indices:
        images, states, _ = source.window(i, 0, lengths[i])
        z = layer_norm_features(encoder.encode_image(preprocess_frames(images, image_size)).float())  # (L, P, D)
        pos = np.asarray(states)[:, layout.POSITION]
        a, b = np.triu_indices(len(pos), k=1)
        energies.append((z[a] - z[b]).abs().mean(dim=(1, 2)).numpy())
        distances.append(np.linalg.norm(pos[a] - pos[b], axis=1))
    e, d = np.concatenate(energies), np.concatenate(distances)
    bins = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        m = (d >= lo) & (d < hi)
        bins.append({"distance_m": [lo, None if np.isinf(hi) else hi], "pairs": int(m.sum()),
                     "mean_energy": float(e[m].mean()) if m.any() else None})  # fmt: skip
    near = d < 0.2
    return {
        "pairs": int(len(d)),
        "spearman": float(spearmanr(e, d)[0]),
        "spearman_below_20cm": float(spearmanr(e[near], d[near])[0]),
        "bins": bins,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("stores", nargs="+")
    parser.add_argument("--image-size", type=int, default=None, help="default: the encoder's nominal img_size")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--split-seed", type=int, default=0)
    args = parser.parse_args(argv)
    encoder = load_encoder(args.checkpoint)
    reader = TrajectoryReader(args.stores)
    _, val = split_indices(len(reader), args.val_fraction, args.split_seed)
    size = args.image_size or encoder.config.img_size[0]
    print(json.dumps({"held_out_trajectories": len(val), **energy_vs_distance(encoder, reader, val, size)}, indent=2))


if __name__ == "__main__":
    main()
