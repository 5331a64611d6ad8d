"""Attentive probe heads over a learning-rate x weight-decay grid, trained together on cached features.

Every head is its own :class:`~vjepa_bench.models.AttentiveProbe` with its own AdamW (cosine decay, no warmup); one
pass over a batch of cached tokens feeds all of them. A head has one linear classifier per label column (EK100:
verb, noun and action, one query each) and trains on the sum of their cross-entropies. Evaluation averages each
classifier's softmax probabilities over the spatial views (the tokens of all segments of a view are already
concatenated). Head selection is reported both ways: the max over heads on the evaluation split (what the paper's
numbers are) and the head chosen on a held-out part of the training split (an honest estimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vjepa_bench.models import AttentiveProbe, ProbeConfig
from vjepa_bench.video.metrics import topk_accuracy


@dataclass(frozen=True)
class GridConfig:
    """Probe shape and training: ``lrs`` x ``wds`` heads, ``epochs`` over the training tokens."""

    lrs: tuple[float, ...] = (5e-3, 3e-3, 1e-3, 3e-4, 1e-4)
    wds: tuple[float, ...] = (0.8, 0.4, 0.1, 0.01)
    epochs: int = 20
    batch_size: int = 256
    depth: int = 4
    num_heads: int = 16
    heldout_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:  # a config gives lists; results and comparisons need one spelling
        object.__setattr__(self, "lrs", tuple(float(x) for x in self.lrs))
        object.__setattr__(self, "wds", tuple(float(x) for x in self.wds))


def _head_names(classes: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """Classifier attributes: ``linear`` for one label (as the released classification probes), else
    ``<label>_classifier`` in label order (as the released EK100 probes' ``verb_classifier``, ...)."""
    if len(classes) == 1:
        return (("linear", next(iter(classes.values()))),)
    return tuple((f"{name}_classifier", n) for name, n in classes.items())


def build_heads(grid: GridConfig, embed_dim: int, classes: int | dict[str, int]) -> list[AttentiveProbe]:
    """One head per (lr, wd) of the grid; ``classes`` is one classifier's class count or ``{label: classes}``."""
    torch.manual_seed(grid.seed)
    classes = {"label": classes} if isinstance(classes, int) else classes
    config = ProbeConfig(embed_dim, _head_names(classes), num_heads=grid.num_heads, depth=grid.depth)
    return [AttentiveProbe(config) for _ in grid.lrs for _ in grid.wds]


def _logits(probe: AttentiveProbe, x: torch.Tensor) -> list[torch.Tensor]:
    """Logits of every classifier of a head, in label order."""
    out = probe(x)
    return [out] if isinstance(out, torch.Tensor) else list(out.values())


@torch.no_grad()
def view_averaged_head_probs(probe: AttentiveProbe, tokens: np.ndarray | torch.Tensor, batch: int = 64
                             ) -> list[np.ndarray]:
    """``tokens (M, V, N, D)`` -> per classifier, softmax probabilities averaged over the V views, ``(M, classes)``."""
    x = torch.as_tensor(np.asarray(tokens), dtype=torch.float32)
    sizes = [n for _, n in probe.config.heads]
    out: list[list[torch.Tensor]] = [[] for _ in sizes]
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        for h, logits in enumerate(_logits(probe, chunk.flatten(0, 1))):  # (m*V, classes)
            out[h].append(F.softmax(logits, -1).reshape(chunk.shape[0], chunk.shape[1], -1).mean(1))
    return [torch.cat(o).numpy() if o else np.zeros((0, n)) for o, n in zip(out, sizes)]


def view_averaged_probs(probe: AttentiveProbe, tokens: np.ndarray | torch.Tensor, batch: int = 64) -> np.ndarray:
    """The first classifier's view-averaged probabilities ``(M, classes)`` (the only one of a classification head)."""
    return view_averaged_head_probs(probe, tokens, batch)[0]


def grid_points(grid: GridConfig) -> list[tuple[float, float]]:
    """(lr, wd) of each head, in head order."""
    return [(lr, wd) for lr in grid.lrs for wd in grid.wds]


def train_heads(grid: GridConfig, tokens: np.ndarray, labels: np.ndarray, classes: int | dict[str, int]
                ) -> tuple[list[AttentiveProbe], np.ndarray]:
    """Train every head on ``tokens (M, V, N, D)`` minus a held-out part; ``labels`` is ``(M,)`` or ``(M, labels)``
    (one column per classifier). Returns the heads and the held-out indices. Training uses view 0 of each sample
    (features are cached once: no augmentation)."""
    rng = np.random.default_rng(grid.seed)
    order = rng.permutation(len(tokens))
    n_held = int(round(grid.heldout_fraction * len(tokens)))
    held, train = order[:n_held], order[n_held:]
    heads = build_heads(grid, tokens.shape[-1], classes)
    steps = max(1, grid.epochs * math.ceil(len(train) / grid.batch_size))
    optims = [torch.optim.AdamW(h.parameters(), lr=lr, weight_decay=wd)
              for h, (lr, wd) in zip(heads, grid_points(grid))]
    scheds = [torch.optim.lr_scheduler.CosineAnnealingLR(o, steps) for o in optims]
    x_all = torch.as_tensor(tokens[:, 0], dtype=torch.float32)
    y_all = torch.as_tensor(labels, dtype=torch.long).reshape(len(tokens), -1)
    for head in heads:
        head.train()
    for _ in range(grid.epochs):
        perm = rng.permutation(train)
        for i in range(0, len(perm), grid.batch_size):
            idx = torch.as_tensor(perm[i:i + grid.batch_size])
            x, y = x_all[idx], y_all[idx]
            for head, opt, sched in zip(heads, optims, scheds):
                losses = [F.cross_entropy(logits, y[:, h]) for h, logits in enumerate(_logits(head, x))]
                loss = torch.stack(losses).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    for head in heads:
        head.eval()
    return heads, held


def evaluate_heads(heads: list[AttentiveProbe], grid: GridConfig, train_tokens: np.ndarray, train_labels: np.ndarray,
                   held: np.ndarray, eval_tokens: np.ndarray, eval_labels: np.ndarray) -> dict:
    """Top-1 / top-5 of every head on the evaluation split and the two head selections. Each head also gets
    ``train_top1``, its top-1 on the training samples it was trained on (not held out): a head near chance there
    has not learned, whatever the encoder."""
    per_head = []
    fit = np.setdiff1d(np.arange(len(train_tokens)), held)
    for head, (lr, wd) in zip(heads, grid_points(grid)):
        probs = view_averaged_probs(head, eval_tokens)
        held_top1 = topk_accuracy(view_averaged_probs(head, train_tokens[held]), train_labels[held], 1) if len(held) else float("nan")
        train_top1 = topk_accuracy(view_averaged_probs(head, train_tokens[fit]), train_labels[fit], 1) if len(fit) else float("nan")
        per_head.append({"lr": lr, "wd": wd, "top1": topk_accuracy(probs, eval_labels, 1),
                         "top5": topk_accuracy(probs, eval_labels, 5), "heldout_top1": held_top1,
                         "train_top1": train_top1})
    best_eval = max(range(len(per_head)), key=lambda i: per_head[i]["top1"])
    best_held = max(range(len(per_head)), key=lambda i: np.nan_to_num(per_head[i]["heldout_top1"], nan=-1.0))
    return {
        "heads": per_head,
        "max_over_heads_on_eval": {"head": best_eval, **per_head[best_eval]},
        "selected_on_heldout_train": {"head": best_held, **per_head[best_held]},
    }
