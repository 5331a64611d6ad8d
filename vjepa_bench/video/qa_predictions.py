"""Prediction files for ``score-qa``: lmms-eval per-sample logs and a plain ``{"id", "answer"}`` JSONL.

* lmms-eval ``samples_<task>.jsonl`` (``--log_samples``): one object a line with ``doc_id``, ``doc`` (the dataset
  row), ``filtered_resps`` and/or ``resps``. The answer is the generated text, ``filtered_resps[0]`` (else
  ``resps[0][0]``); every metric field lmms-eval computed on the line is ignored. The id is ``id_template``
  formatted with the doc's fields plus ``doc_id`` and ``task`` (the line's ``task``, else the ``<task>`` of the
  file name).
* Plain JSONL: one ``{"id": ..., "answer": "<the model's text>"}`` a line (``answer`` may be null: unparsed).

The kind is told per line: a line with ``doc`` and ``resps`` or ``filtered_resps`` is an lmms-eval sample.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vjepa_bench.errors import UsageError


@dataclass(frozen=True)
class Prediction:
    """One model answer: the question id, the raw text and where it was read (file:line)."""

    id: str
    text: str | None
    where: str


def _task(path: Path) -> str:
    match = re.search(r"samples_(.+)\.jsonl$", path.name)
    return match.group(1) if match else path.stem


def _generated_text(sample: dict[str, Any], where: str) -> str | None:
    value: Any = sample["filtered_resps"][0] if sample.get("filtered_resps") else (sample.get("resps") or [None])[0]
    while isinstance(value, list) and value:
        value = value[0]
    if value is None or value == []:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{where}: the response is {value!r}, not generated text (a log-likelihood task?); "
                         "score-qa scores generated answers")
    return value


def _sample_id(sample: dict[str, Any], template: str, task: str, where: str) -> str:
    doc = sample["doc"] if isinstance(sample["doc"], dict) else {}
    fields = {**doc, "doc_id": sample.get("doc_id"), "task": sample.get("task", task)}
    try:
        return template.format_map(fields)
    except (KeyError, IndexError, ValueError) as err:
        raise UsageError(f"{where}: id_template {template!r} cannot be filled ({err!r}); the doc has fields "
                         f"{sorted(doc)} plus doc_id and task; set id_template") from None


def _prediction(record: Any, template: str, task: str, where: str) -> Prediction:
    if not isinstance(record, dict):
        raise UsageError(f"{where}: expected a JSON object")
    if "doc" in record and ("resps" in record or "filtered_resps" in record):
        return Prediction(_sample_id(record, template, task, where), _generated_text(record, where), where)
    if "id" not in record or "answer" not in record:
        raise UsageError(f"{where}: neither an lmms-eval sample (doc, resps) nor a {{'id', 'answer'}} line")
    answer = record["answer"]
    if answer is not None and not isinstance(answer, str):
        raise UsageError(f"{where}: answer must be the model's text (a string) or null, got {answer!r}")
    return Prediction(str(record["id"]), answer, where)


def read_predictions(path: str | os.PathLike[str], id_template: str) -> list[Prediction]:
    """Every prediction of one file, in file order (duplicates kept: the scorer reports them)."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"predictions file not found: {p} (set predictions=[<file>, ...])")
    out = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"{p}:{n}: not a JSON line ({err.msg})") from None
        out.append(_prediction(record, id_template, _task(p), f"{p}:{n}"))
    return out
