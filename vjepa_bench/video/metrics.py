"""Metrics: top-k accuracy and EPIC-KITCHENS-100 class-mean recall@k.

Ties: classes are ranked by score with ties broken towards the lower class index (a stable sort), so a result
never depends on the sort implementation.

EK100 class-mean recall@k (``mode="official"``, the default): for every class present among the ground truths of
the evaluated samples, the fraction of its samples whose top-k contains it; the mean over those classes. No score
masking, no sample filtering; a class the model cannot output still counts (with recall 0).

``mode="vjepa2_compat"`` reproduces the V-JEPA 2 evaluation code: samples whose label is outside the trained
vocabulary are dropped, and the scores of classes absent from the (remaining) evaluated labels are masked out
before taking the top-k, which uses label information of the evaluated split and can only raise the recall.
"""

from __future__ import annotations

from typing import Iterable, Literal

import numpy as np

EK100Mode = Literal["official", "vjepa2_compat"]
EK100_MODES = ("official", "vjepa2_compat")


def ranked(scores: np.ndarray, k: int) -> np.ndarray:
    """Top-``k`` class indices ``(N, k)`` per row, best first, ties to the lower index."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), axis=1, kind="stable")[:, :k]


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of rows whose label is among the ``k`` best-scored classes (labels past the last column never hit)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    return float(np.mean((ranked(scores, k) == labels[:, None]).any(axis=1)))


def class_mean_recall(scores: np.ndarray, labels: np.ndarray, k: int = 5, mode: EK100Mode = "official",
                      classes: Iterable[int] | None = None) -> dict[str, float | int | str]:
    """Class-mean recall@k over the classes present in ``labels`` (optionally only those in ``classes``).

    Returns ``recall`` and what it was computed on: ``num_classes_used``, ``num_samples_used``, ``mode``.
    """
    if mode not in EK100_MODES:
        raise ValueError(f"mode must be one of {EK100_MODES}, got {mode!r}")
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if mode == "vjepa2_compat":
        keep = labels < scores.shape[1]
        scores, labels = scores[keep], labels[keep]
        present = np.unique(labels)
        masked = np.full_like(scores, -np.inf)
        masked[:, present] = scores[:, present]
        scores = masked
    wanted = np.unique(labels)
    if classes is not None:
        wanted = np.intersect1d(wanted, np.fromiter(classes, dtype=np.int64))
    hits = (ranked(scores, k) == labels[:, None]).any(axis=1) if len(labels) else np.zeros(0, bool)
    recalls = [hits[labels == c].mean() for c in wanted]
    used = int(np.isin(labels, wanted).sum())
    return {"recall": float(np.mean(recalls)) if recalls else float("nan"), "num_classes_used": len(wanted),
            "num_samples_used": used, "mode": mode}


def ek100_groups(scores: dict[str, np.ndarray], labels: dict[str, np.ndarray], participants: np.ndarray,
                 unseen: Iterable[str] = (), tail: dict[str, Iterable[int]] | None = None, k: int = 5,
                 mode: EK100Mode = "official") -> dict[str, dict[str, dict[str, float | int | str]]]:
    """Recall@k for verb / noun / action in the overall, unseen-participant and tail groups.

    ``tail`` maps a head to its tail class indices; the action tail group is the samples whose verb or noun label
    is a tail class (as the verb and noun tail lists define it)."""
    unseen_mask = np.isin(np.asarray(participants), list(unseen))
    tail = tail or {}
    out: dict[str, dict[str, dict[str, float | int | str]]] = {"overall": {}, "unseen": {}, "tail": {}}
    tail_masks = {h: np.isin(labels[h], list(tail.get(h, ()))) for h in ("verb", "noun")}
    tail_masks["action"] = tail_masks["verb"] | tail_masks["noun"]
    for head in ("verb", "noun", "action"):
        s, y = scores[head], labels[head]
        out["overall"][head] = class_mean_recall(s, y, k, mode)
        if unseen_mask.any():
            out["unseen"][head] = class_mean_recall(s[unseen_mask], y[unseen_mask], k, mode)
        if tail_masks[head].any():
            out["tail"][head] = class_mean_recall(s[tail_masks[head]], y[tail_masks[head]], k, mode)
    return out


def challenge_json(narration_ids: list[str], verb: np.ndarray, noun: np.ndarray, action: np.ndarray,
                   verb_ids: list[int], noun_ids: list[int], action_ids: list[str], top_actions: int = 100,
                   supervision: tuple[int, int, int] = (0, 0, 0)) -> dict:
    """The EK100 action-anticipation submission object: every verb and noun score, the best ``top_actions``
    ``"verb,noun"`` action scores. ``supervision`` is the (sls_pt, sls_tl, sls_td) self-declaration."""
    results = {}
    for i, nid in enumerate(narration_ids):
        best = ranked(action[i:i + 1], min(top_actions, action.shape[1]))[0]
        results[str(nid)] = {
            "verb": {str(v): float(x) for v, x in zip(verb_ids, verb[i])},
            "noun": {str(n): float(x) for n, x in zip(noun_ids, noun[i])},
            "action": {action_ids[j]: float(action[i, j]) for j in best},
        }
    pt, tl, td = supervision
    return {"version": "0.2", "challenge": "action_anticipation", "sls_pt": pt, "sls_tl": tl, "sls_td": td,
            "results": results}
