"""EPIC-KITCHENS-100 action anticipation scores of a probe grid: class-mean recall@5 of verb, noun and action.

Each head of the grid has a verb, a noun and an action classifier (label columns in that order, as the ``ek100``
reader writes them). Every head is scored on the evaluation split overall and on the unseen-participant and tail
groups (when the split names them), with the recall ``mode`` of :mod:`~vjepa_bench.video.metrics` (``official``
or ``vjepa2_compat``). The heads are ranked by action recall@5: on the evaluation split (max over heads, as papers
report) and on the held-out part of the training split (an honest selection).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from vjepa_bench.models import AttentiveProbe
from vjepa_bench.video.metrics import EK100Mode, class_mean_recall, ek100_groups
from vjepa_bench.video.probe_grid import GridConfig, grid_points, view_averaged_head_probs

EK100_LABELS = ("verb", "noun", "action")
K = 5


def evaluate_anticipation_heads(heads: list[AttentiveProbe], grid: GridConfig, train_tokens: np.ndarray,
                                train_labels: np.ndarray, held: np.ndarray, eval_tokens: np.ndarray,
                                eval_labels: np.ndarray, participants: list[str], unseen: Iterable[str] = (),
                                tail: dict[str, Iterable[int]] | None = None, mode: EK100Mode = "official"
                                ) -> dict[str, Any]:
    """Recall@5 of every head (``labels (M, 3)``: verb, noun, action) and the two head selections."""
    truth = {name: eval_labels[:, i] for i, name in enumerate(EK100_LABELS)}
    unseen = list(unseen)
    per_head = []
    for head, (lr, wd) in zip(heads, grid_points(grid)):
        probs = dict(zip(EK100_LABELS, view_averaged_head_probs(head, eval_tokens)))
        groups = ek100_groups(probs, truth, np.asarray(participants), unseen, tail, K, mode)
        held_recall = float("nan")
        if len(held):
            held_action = view_averaged_head_probs(head, train_tokens[held])[2]
            held_recall = float(class_mean_recall(held_action, train_labels[held, 2], K, mode)["recall"])
        per_head.append({"lr": lr, "wd": wd, **{f"{n}_recall5": groups["overall"][n]["recall"] for n in EK100_LABELS},
                         "heldout_action_recall5": held_recall, "groups": groups})
    best_eval = max(range(len(per_head)), key=lambda i: np.nan_to_num(per_head[i]["action_recall5"], nan=-1.0))
    best_held = max(range(len(per_head)), key=lambda i: np.nan_to_num(per_head[i]["heldout_action_recall5"], nan=-1.0))
    return {
        "heads": per_head,
        "max_over_heads_on_eval": {"head": best_eval, **per_head[best_eval]},
        "selected_on_heldout_train": {"head": best_held, **per_head[best_held]},
    }
