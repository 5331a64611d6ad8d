"""``vjepa-bench score-qa``: multiple-choice video-QA accuracy recomputed from per-sample predictions.

Every annotated question counts: a question with no prediction (``missing``) or an answer the rules of
:mod:`~vjepa_bench.video.qa_parse` cannot read (``unparsed``) is wrong. Predictions whose id is not in the split
(``extra``) are listed and not scored; of several predictions for one id (``duplicate``) the first in file order
is scored. Formats whose official scoring asks an LLM judge when the rules fail are scored by the rules only and
marked ``rule_only``.
"""

from __future__ import annotations

import glob
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vjepa_bench.errors import UsageError
from vjepa_bench.fileio import write_json_atomic
from vjepa_bench.video.config import ScoreQAConfig
from vjepa_bench.video.qa_annotations import QAItem, benchmark_spec, read_qa_annotations
from vjepa_bench.video.qa_parse import parse_choice
from vjepa_bench.video.qa_predictions import Prediction, read_predictions

LISTED_IDS = 20
"""How many missing / extra / duplicate ids results.json lists (all are counted)."""


@dataclass
class _Tally:
    total: int = 0
    correct: int = 0
    unparsed: int = 0
    missing: int = 0

    def add(self, outcome: str) -> None:
        self.total += 1
        self.correct += outcome == "correct"
        self.unparsed += outcome == "unparsed"
        self.missing += outcome == "missing"

    def summary(self) -> dict[str, float | int]:
        return {"accuracy": self.correct / self.total, "correct": self.correct, "total": self.total,
                "unparsed": self.unparsed, "missing": self.missing}


def _outcome(item: QAItem, prediction: Prediction | None) -> str:
    if prediction is None:
        return "missing"
    choice = parse_choice(prediction.text, item.options)
    if choice is None:
        return "unparsed"
    return "correct" if choice == item.answer else "wrong"


def _ids(ids: list[str]) -> dict[str, Any]:
    return {"count": len(ids), "ids": ids[:LISTED_IDS]}


def score_predictions(items: list[QAItem], predictions: list[Prediction], judge_formats: tuple[str, ...] = ()
                      ) -> dict[str, Any]:
    """Accuracy overall, per category and per format, and the id check of ``predictions`` against ``items``."""
    first: dict[str, Prediction] = {}
    duplicates: list[str] = []
    for p in predictions:
        if p.id in first:
            duplicates.append(p.id)
        else:
            first[p.id] = p
    overall = _Tally()
    groups: dict[str, dict[str, _Tally]] = {"category": defaultdict(_Tally), "format": defaultdict(_Tally)}
    for item in items:
        outcome = _outcome(item, first.get(item.id))
        for tally in (overall, groups["category"][item.category], groups["format"][item.format]):
            tally.add(outcome)
    known = {item.id for item in items}
    missing = [item.id for item in items if item.id not in first]
    extra = [i for i in first if i not in known]
    per_format = {f: {**t.summary(), "rule_only": f in judge_formats} for f, t in sorted(groups["format"].items())}
    return {
        "overall": {**overall.summary(), "rule_only": any(v["rule_only"] for v in per_format.values())},
        "per_category": {c: t.summary() for c, t in sorted(groups["category"].items())},
        "per_format": per_format,
        "id_check": {"matches_split": not (missing or extra or duplicates), "missing": _ids(missing),
                     "extra": _ids(extra), "duplicate": _ids(sorted(set(duplicates)))},
    }


def _prediction_files(patterns: list[str]) -> list[Path]:
    files = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matched:
            raise UsageError(f"predictions: no file matches {pattern!r}")
        files += [Path(m) for m in matched]
    return files


def run_score_qa(cfg: ScoreQAConfig) -> dict[str, Any]:
    """Score the prediction files against the annotation split; the results are also written to
    ``<output_dir>/results.json`` (default ``runs/score_qa/<benchmark>``)."""
    cfg.validate()
    assert cfg.benchmark is not None and cfg.annotations is not None
    spec = benchmark_spec(cfg.benchmark)
    template = cfg.id_template or spec.id_template
    items = read_qa_annotations(cfg.annotations, cfg.benchmark)
    files = _prediction_files(cfg.predictions)
    predictions = [p for f in files for p in read_predictions(f, template)]
    results = {
        "benchmark": cfg.benchmark,
        "annotations": cfg.annotations,
        "predictions": [str(f) for f in files],
        "id_template": template,
        "scoring": "rule-based answer parsing (docs/video.md); missing and unparsed answers count as wrong",
        **score_predictions(items, predictions, spec.judge_formats),
    }
    path = Path(cfg.output_dir or f"runs/score_qa/{cfg.benchmark}") / "results.json"
    results["results_file"] = str(path)
    write_json_atomic(path, results)
    return results
