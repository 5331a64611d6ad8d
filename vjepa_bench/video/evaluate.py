"""One frozen-encoder evaluation: cache train and eval features, train the probe grid, score.

Classification benchmarks score top-1 / top-5; EK100 (``format=ek100``) trains verb / noun / action classifiers on
clips that end ``anticipation_s`` before each action starts, scores class-mean recall@5 (``ek100_mode``:
``official`` by default, or ``vjepa2_compat``) and writes the challenge file of the validation split, and of the
label-free test split when ``submission.test_csv`` names its timestamps CSV. Results (``<output_dir>/results.json``)
record the scores of every head, both head selections (``head_selection`` names the primary one), the number of
skipped (broken) and missing videos, the feature layers, and the deviations of this harness from the paper's
protocol (features cached once, so training sees no augmentation).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import torch

from vjepa_bench.errors import UsageError
from vjepa_bench.models import AttentiveProbe, CheckpointError, VisionTransformer, build_encoder, load_checkpoint
from vjepa_bench.video.annotations import Split, read_split
from vjepa_bench.video.anticipation import EK100_LABELS, evaluate_anticipation_heads
from vjepa_bench.video.config import VideoEvalConfig
from vjepa_bench.video.features import CachedFeatures, cache_features, load_features
from vjepa_bench.video.metrics import EK100Mode
from vjepa_bench.video.probe_grid import evaluate_heads, train_heads
from vjepa_bench.video.released import RELEASED_SELECTION, evaluate_released, load_probes
from vjepa_bench.video.submission import SUBMISSION_FILE, TEST_SUBMISSION_FILE, read_test_split, write_submission

log = logging.getLogger(__name__)


def load_encoder(cfg: VideoEvalConfig) -> VisionTransformer:
    if cfg.checkpoint is None:
        torch.manual_seed(cfg.seed)
        return build_encoder(cfg.encoder_preset).eval()
    try:
        encoder = load_checkpoint(cfg.checkpoint, kind="encoder").encoder
    except CheckpointError as err:
        raise UsageError(f"checkpoint={cfg.checkpoint}: {err}") from None
    assert encoder is not None
    return encoder.eval()


def _classification(cfg: VideoEvalConfig, split: Split, train: CachedFeatures, held: CachedFeatures
                    ) -> dict[str, Any]:
    heads, heldout = train_heads(cfg.grid, train.tokens, train.labels[:, 0], len(split.classes["label"]))
    scores = evaluate_heads(heads, cfg.grid, train.tokens, train.labels[:, 0], heldout, held.tokens, held.labels[:, 0])
    primary = scores[cfg.head_selection]
    return {"top1": primary["top1"], "top5": primary["top5"], **scores}


def _test_submission(cfg: VideoEvalConfig, head: int, probe: AttentiveProbe, test: CachedFeatures,
                     class_ids: dict[str, list[Any]]) -> dict[str, Any]:
    """The test split's challenge file, scored by the primary head; a skipped (broken) video has no entry."""
    if test.skipped:
        log.warning("%d test video(s) could not be decoded: the challenge expects every test narration_id, so "
                    "repair them, delete features_test.h5 and run again before submitting", test.skipped)
    path = write_submission(Path(cfg.output_dir) / TEST_SUBMISSION_FILE, probe, test.tokens, test.ids, class_ids,
                            cfg.submission)
    return {"file": str(path), "head": head, "entries": len(test.ids), "skipped_broken": test.skipped}


def _anticipation(cfg: VideoEvalConfig, split: Split, eval_split: Split, train: CachedFeatures,
                  held: CachedFeatures, test: CachedFeatures | None) -> dict[str, Any]:
    classes = {name: len(split.classes[name]) for name in EK100_LABELS}
    heads, heldout = train_heads(cfg.grid, train.tokens, train.labels, classes)
    by_id = {s.id: s for s in eval_split.samples}
    participants = [by_id[i].participant or "" for i in held.ids]
    tail = {name: eval_split.extra.get(f"tail_{name}", []) for name in ("verb", "noun")}
    scores = evaluate_anticipation_heads(heads, cfg.grid, train.tokens, train.labels, heldout, held.tokens,
                                         held.labels, participants, eval_split.extra.get("unseen_participants", []),
                                         tail, cast(EK100Mode, cfg.ek100_mode))
    primary = scores[cfg.head_selection]
    head, class_ids = heads[primary["head"]], split.extra["class_ids"]
    submission = write_submission(Path(cfg.output_dir) / SUBMISSION_FILE, head, held.tokens, held.ids, class_ids,
                                  cfg.submission)
    if test is not None:
        scores["test_submission"] = _test_submission(cfg, primary["head"], head, test, class_ids)
    return {"metric": "class-mean recall@5", "ek100_mode": cfg.ek100_mode,
            "recall5": {name: primary[f"{name}_recall5"] for name in EK100_LABELS},
            "trained_classes": eval_split.extra.get("trained_classes", classes),
            "submission": {"file": str(submission), "head": primary["head"], "entries": len(held.ids)}, **scores}


def run_video_eval(cfg: VideoEvalConfig) -> dict[str, Any]:
    """Run (or resume) one evaluation and return the results written to ``results.json``."""
    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    out = Path(cfg.output_dir)
    started = time.perf_counter()
    encoder = load_encoder(cfg)
    train_split = read_split(cfg.format, **cfg.train_files)
    eval_split = read_split(cfg.format, **cfg.eval_files)
    test_split = read_test_split(cfg.submission, cfg.eval_files)
    if cfg.format != "ek100" and len(train_split.heads) != 1:
        raise UsageError(f"format {cfg.format!r} has labels {train_split.heads}; only ek100 trains several classifiers")
    probes = (None if cfg.probe_checkpoint is None
              else load_probes(cfg.probe_checkpoint, len(train_split.classes["label"]), encoder.config.embed_dim))
    train = None if probes else load_features(cache_features(train_split, encoder, cfg.clips,
                                                             out / "features_train.h5", cfg.num_workers, cfg.features))
    held = load_features(cache_features(eval_split, encoder, cfg.clips, out / "features_eval.h5", cfg.num_workers,
                                        cfg.features))
    test = None if test_split is None else load_features(cache_features(
        test_split, encoder, cfg.clips, out / "features_test.h5", cfg.num_workers, cfg.features))
    if any(f is not None and len(f.tokens) == 0 for f in (train, held, test)):
        raise UsageError(f"no decodable videos in the train, eval or test split of {cfg.benchmark}")
    if probes:
        scores = evaluate_released(probes, held.tokens, held.labels[:, 0])
    elif cfg.format == "ek100":
        scores = _anticipation(cfg, train_split, eval_split, train, held, test)
    else:
        scores = _classification(cfg, train_split, train, held)
    results = {
        "benchmark": cfg.benchmark,
        **{k: scores.pop(k) for k in ("top1", "top5", "metric", "ek100_mode", "recall5", "submission",
                                      "test_submission") if k in scores},
        "head_selection": RELEASED_SELECTION if probes else cfg.head_selection,
        **scores,
        "encoder": cfg.checkpoint or f"{cfg.encoder_preset} (random weights, seed {cfg.seed})",
        "probe": cfg.probe_checkpoint or "trained here (grid)",
        "samples": {"train": 0 if train is None else len(train.tokens), "eval": len(held.tokens)},
        "skipped_broken": {"train": 0 if train is None else train.skipped, "eval": held.skipped},
        "missing_videos": {"train": train_split.missing, "eval": eval_split.missing},
        "clips": asdict(cfg.clips),
        "features": asdict(cfg.features),
        **({} if probes else {"grid": asdict(cfg.grid)}),
        "deviations": [] if probes else ["probe trained on features cached once from view 0: no training augmentation"],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results
