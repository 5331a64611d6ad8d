"""The annotation split of a multiple-choice video-QA benchmark, from one simple JSON or JSONL file.

Each record (``.jsonl``: one object a line; otherwise a JSON list of objects or an object keyed by id):

* ``id``: string or number, unique in the file (the key of the object when the file is keyed by id);
* ``options`` (or ``candidates``): the option texts in letter order (``A`` first); a leading ``A.``, ``(A)``,
  ``A)`` or ``Caption A:`` that names the option's own letter is removed; may be left out of a yes/no question
  (then ``["yes", "no"]``);
* ``answer``: a JSON integer is the 0-based option index; a string is an option's text or its letter (``"B"``,
  ``"(B)"``, ``"B. text"``), or ``yes`` / ``no``;
* ``category`` (or the benchmark's own name for it, see :data:`BENCHMARKS`): the group accuracies are reported by;
* ``format`` (TempCompass only): ``multi-choice``, ``yes_no``, ``caption_matching`` or ``captioning``;
* ``question``: kept for reference, not used in scoring.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vjepa_bench.errors import UsageError
from vjepa_bench.video.qa_parse import YES_NO, parse_choice


@dataclass(frozen=True)
class QABenchmark:
    """What differs between benchmarks: the annotation's category field aliases, the task formats, the formats
    whose official scoring asks an LLM judge when the rules fail, and the default prediction-id template."""

    category_aliases: tuple[str, ...]
    formats: tuple[str, ...] = ("multi-choice",)
    judge_formats: tuple[str, ...] = ()
    id_template: str = "{task}/{doc_id}"


BENCHMARKS: dict[str, QABenchmark] = {
    "perceptiontest": QABenchmark(("area",), id_template="{video_name}_{question_id}"),
    "tempcompass": QABenchmark(("dim",), ("multi-choice", "yes_no", "caption_matching", "captioning"),
                               ("caption_matching", "captioning")),
    "mvbench": QABenchmark(("task",)),
    "tomato": QABenchmark(("reasoning_type",)),
}


@dataclass(frozen=True)
class QAItem:
    """One question: its options, the index of the right one, its category and task format."""

    id: str
    options: tuple[str, ...]
    answer: int
    category: str
    format: str = "multi-choice"


def benchmark_spec(name: str) -> QABenchmark:
    if name not in BENCHMARKS:
        raise UsageError(f"benchmark={name!r} is not a QA benchmark; choose one of {sorted(BENCHMARKS)}")
    return BENCHMARKS[name]


def read_records(path: str | os.PathLike[str]) -> list[tuple[str, Any]]:
    """``(where, record)`` pairs: one JSON object a line for ``.jsonl``, else a JSON list or an id-keyed object."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"annotations file not found: {p} (set annotations=<file>)")
    text = p.read_text()
    if p.suffix == ".jsonl":
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append((f"{p}:{n}", json.loads(line)))
                except json.JSONDecodeError as err:
                    raise UsageError(f"{p}:{n}: not a JSON line ({err.msg})") from None
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{p}: not valid JSON ({err.msg}); name a one-object-a-line file .jsonl") from None
    if isinstance(data, list):
        return [(f"{p} [item {i}]", r) for i, r in enumerate(data)]
    if isinstance(data, dict):
        return [(f"{p} [{k!r}]", {"id": k, **r} if isinstance(r, dict) else r) for k, r in data.items()]
    raise UsageError(f"{p}: expected a JSON list of questions or an object keyed by id")


def _bare(option: str, index: int) -> str:
    """An option's text without a leading label naming its own letter (``A.``, ``(A)``, ``A)``, ``Caption A:``)."""
    letter = chr(ord("A") + index)
    pattern = rf"^\s*(?:(?:caption|option|sentence)\s+{letter}\s*:|\({letter}\)|{letter}[.)])\s*"
    return re.sub(pattern, "", option, count=1, flags=re.IGNORECASE)


def _answer(value: Any, options: tuple[str, ...], where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UsageError(f"{where}: answer must be an option index (number), letter or text, got {value!r}")
    if isinstance(value, int):
        index = value
    else:
        index = parse_choice(value, options, strict=True)
        if index is None and value.strip().isdigit():
            raise UsageError(f"{where}: answer {value!r} is not an option; write a 0-based index as a JSON number")
    if index is None or not 0 <= index < len(options):
        raise UsageError(f"{where}: answer {value!r} is not one of the {len(options)} options")
    return index


def _category(record: dict[str, Any], spec: QABenchmark, where: str) -> str:
    for key in ("category", *spec.category_aliases):
        if key in record:
            return str(record[key])
    raise UsageError(f"{where}: no 'category' (nor {', '.join(map(repr, spec.category_aliases))}) field")


def _item(record: Any, spec: QABenchmark, where: str) -> QAItem:
    if not isinstance(record, dict):
        raise UsageError(f"{where}: expected an object with id, options, answer, category")
    if "id" not in record:
        raise UsageError(f"{where}: missing field 'id'")
    fmt = str(record.get("format", spec.formats[0]))
    if fmt not in spec.formats:
        raise UsageError(f"{where}: format {fmt!r} is not one of {spec.formats}")
    raw = record.get("options", record.get("candidates"))
    if raw is None and fmt == "yes_no":
        raw = list(YES_NO)
    if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(o, str) for o in raw):
        raise UsageError(f"{where}: 'options' (or 'candidates') must list at least two option strings")
    options = tuple(_bare(o, i) for i, o in enumerate(raw))
    if "answer" not in record:
        raise UsageError(f"{where}: missing field 'answer'")
    return QAItem(str(record["id"]), options, _answer(record["answer"], options, where),
                  _category(record, spec, where), fmt)


def read_qa_annotations(path: str | os.PathLike[str], benchmark: str) -> list[QAItem]:
    """Every question of the split; a duplicate id, a missing field or an answer that is no option is a
    :class:`~vjepa_bench.errors.UsageError` naming the record."""
    spec = benchmark_spec(benchmark)
    items, seen = [], set()
    for where, record in read_records(path):
        item = _item(record, spec, where)
        if item.id in seen:
            raise UsageError(f"{where}: duplicate id {item.id!r} (ids must be unique in the annotation split)")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise UsageError(f"{path}: no questions")
    return items
