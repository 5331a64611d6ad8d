"""Scoring a probe file without training: the released V-JEPA 2 classification probes (``classifiers``: a list of
state dicts) or any probe file ``load_checkpoint`` reads, on the cached evaluation features.

Released inference configs use classifier 0, so it is the headline (``head_selection``:
``classifier_0_of_probe_checkpoint``); the best classifier on the evaluation split is reported too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vjepa_bench.errors import UsageError
from vjepa_bench.models import AttentiveProbe, CheckpointError, load_checkpoint
from vjepa_bench.video.metrics import topk_accuracy
from vjepa_bench.video.probe_grid import view_averaged_probs

RELEASED_SELECTION = "classifier_0_of_probe_checkpoint"


def load_probes(path: str, num_classes: int, embed_dim: int) -> list[AttentiveProbe]:
    """Every classifier of the probe file, checked against the benchmark's class count and the encoder width."""
    try:
        probes = load_checkpoint(path, kind="probes").probes
    except CheckpointError as err:
        raise UsageError(f"probe_checkpoint={path}: {err}") from None
    if not probes:
        raise UsageError(f"probe_checkpoint={path}: no probe (classifiers) in the file")
    for i, probe in enumerate(probes):
        heads = probe.config.heads
        if len(heads) != 1 or heads[0][1] != num_classes or probe.config.embed_dim != embed_dim:
            raise UsageError(f"probe_checkpoint={path}: classifier {i} maps width {probe.config.embed_dim} to "
                             f"{[n for _, n in heads]} classes; this benchmark and encoder need {embed_dim} -> "
                             f"[{num_classes}] (a probe of another benchmark or encoder?)")
    return [p.eval() for p in probes]


def evaluate_released(probes: list[AttentiveProbe], tokens: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Top-1 / top-5 of every classifier on ``tokens (M, V, N, D)``; classifier 0 is the headline."""
    per_head = []
    for probe in probes:
        probs = view_averaged_probs(probe, tokens)
        per_head.append({"top1": topk_accuracy(probs, labels, 1), "top5": topk_accuracy(probs, labels, 5)})
    best = max(range(len(per_head)), key=lambda i: per_head[i]["top1"])
    return {"top1": per_head[0]["top1"], "top5": per_head[0]["top5"], "heads": per_head,
            "max_over_heads_on_eval": {"head": best, **per_head[best]}}
