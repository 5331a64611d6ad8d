"""Readers for the official annotation files of each benchmark, all returning one :class:`Split`.

Formats (what each reader expects):

* ``path_list``: the headerless list ``<video path> <integer label>`` per line (space separated; ``::`` also
  accepted). Relative paths are taken relative to the list's folder.
* ``ssv2``: ``something-something-v2-labels.json`` (``{"Approaching something with your camera": "0", ...}``, keyed
  by the template with the square brackets removed) plus a split file (``...-train.json`` / ``...-validation.json``,
  a list of ``{"id", "label", "template", "placeholders"}``); videos ``<video_dir>/<id><ext>`` (``.webm``).
* ``diving48``: ``Diving48_V2_{train,test}.json`` (list of ``{"vid_name", "label", "start_frame", "end_frame"}``)
  plus ``Diving48_vocab.json`` (48 entries); videos ``<video_dir>/<vid_name>.mp4``.
* ``k400``: the CSV ``label,youtube_id,time_start,time_end,split[,is_cc]``; clips
  ``<youtube_id>_<start:06d>_<end:06d>.mp4`` directly in ``video_dir`` or in ``video_dir/<label>/``. The class
  vocabulary is the sorted label set of ``classes_csv`` (the train CSV), so train and val indices agree. Clips that
  are missing (Kinetics videos disappear from YouTube) are counted in ``Split.missing``.
* ``ek100``: ``EPIC_100_{train,validation}.csv`` (header; ``narration_id``, ``participant_id``, ``video_id``,
  ``start_timestamp``, ``verb_class``, ``noun_class`` are read); verb/noun/action vocabularies from the train CSV;
  videos ``<video_dir>/<participant>/videos/<video_id>.MP4`` (``file_format=0``) or
  ``<video_dir>/<participant>/<video_id>.MP4`` (``1``). A validation pair never seen in training keeps its sample
  with an action index past the trained head (it can never be predicted), as the official metric counts it.
  The label-free test split, ``EPIC_100_test_timestamps.csv`` (``narration_id``, ``participant_id``, ``video_id``,
  ``start_timestamp`` are read), has its own reader, :func:`read_ek100_test`: the same videos and observation end.
* ``coin``: ``COIN.json`` (``{"database": {youtube_id: {"recipe_type", "class", "subset", ...}}}``): task
  classification, label ``recipe_type``, ``subset`` ``training`` / ``testing``; videos ``<video_dir>/<id>.mp4``.
* ``jester``: ``jester-v1-labels.csv`` (one class name a line) and ``jester-v1-{train,validation}.csv``
  (``<id>;<class name>``); each video is a folder of JPEG frames ``<video_dir>/<id>/``.
* ``imagefolder``: torchvision's ImageFolder layout ``<root>/<class>/<image>``; classes sorted by name.

A missing annotation file, a malformed row or an unknown label raises :class:`~vjepa_bench.errors.UsageError`
naming the file and the row.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from vjepa_bench.errors import UsageError
from vjepa_bench.video.decode import IMAGE_SUFFIXES


@dataclass(frozen=True)
class Sample:
    """One evaluation item: a video (file, frame folder or image), its labels (one per head) and, for clips cut
    from longer videos, the frame range or the anticipation end time."""

    id: str
    path: str
    labels: tuple[int, ...]
    start_frame: int | None = None
    end_frame: int | None = None
    end_time_s: float | None = None
    participant: str | None = None


@dataclass
class Split:
    """Samples of one split, the class names of each head and the number of listed videos that do not exist."""

    benchmark: str
    samples: list[Sample]
    classes: dict[str, list[str]]
    missing: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def heads(self) -> list[str]:
        return list(self.classes)


def _need_file(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{what} file not found: {p} (check the dataset paths in the benchmark config)")
    return p


def _load_json(path: str | os.PathLike[str], what: str) -> Any:
    p = _need_file(path, what)
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{p}: not valid JSON ({err})") from None


def _field(row: dict[str, Any], key: str, where: str) -> Any:
    if key not in row:
        raise UsageError(f"{where}: missing field {key!r}")
    return row[key]


def _int(value: Any, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: expected an integer, got {value!r}") from None


def read_path_list(list_file: str | os.PathLike[str], num_classes: int | None = None) -> Split:
    """The headerless ``path label`` list (space separated, ``::`` also accepted)."""
    p = _need_file(list_file, "video list")
    samples = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rsplit("::", 1) if "::" in line else line.rsplit(None, 1)
        if len(parts) != 2:
            raise UsageError(f"{p}:{n}: expected '<path> <label>', got {line!r}")
        path, label = parts[0].strip(), _int(parts[1].strip(), f"{p}:{n}")
        if num_classes is not None and not 0 <= label < num_classes:
            raise UsageError(f"{p}:{n}: label {label} outside [0, {num_classes}) (set num_classes)")
        full = path if os.path.isabs(path) else str(p.parent / path)
        samples.append(Sample(Path(path).stem, full, (label,)))
    if not samples:
        raise UsageError(f"{p}: no rows")
    classes = num_classes if num_classes is not None else max(s.labels[0] for s in samples) + 1
    return Split("path_list", samples, {"label": [str(i) for i in range(classes)]})


def ssv2_template_key(template: str) -> str:
    """The labels-file key of a template: square brackets removed."""
    return template.replace("[", "").replace("]", "")


def read_ssv2(labels_json: str, split_json: str, video_dir: str, ext: str = ".webm") -> Split:
    """Something-Something v2 (174 templates in the official files)."""
    labels = _load_json(labels_json, "SSv2 labels")
    if not isinstance(labels, dict):
        raise UsageError(f"{labels_json}: expected an object {{template: index}}")
    index = {k: _int(v, f"{labels_json} [{k!r}]") for k, v in labels.items()}
    names = [""] * len(index)
    for k, v in index.items():
        if not 0 <= v < len(index):
            raise UsageError(f"{labels_json}: index {v} of {k!r} outside [0, {len(index)})")
        names[v] = k
    rows = _load_json(split_json, "SSv2 split")
    samples = []
    for i, row in enumerate(rows):
        where = f"{split_json} [row {i}]"
        vid = str(_field(row, "id", where))
        if "template" not in row:
            raise UsageError(f"{where}: no 'template' (the test split hides its labels; evaluate on validation)")
        key = ssv2_template_key(row["template"])
        if key not in index:
            raise UsageError(f"{where}: template {row['template']!r} is not in {labels_json}")
        samples.append(Sample(vid, str(Path(video_dir) / f"{vid}{ext}"), (index[key],)))
    return Split("ssv2", samples, {"label": names})


def read_diving48(split_json: str, vocab_json: str, video_dir: str, ext: str = ".mp4") -> Split:
    """Diving-48 V2 labels (48 classes, each a takeoff / somersault / twist / flight description)."""
    vocab = _load_json(vocab_json, "Diving-48 vocab")
    names = [" / ".join(map(str, v)) if isinstance(v, list) else str(v) for v in vocab]
    rows = _load_json(split_json, "Diving-48 split")
    samples = []
    for i, row in enumerate(rows):
        where = f"{split_json} [row {i}]"
        name = str(_field(row, "vid_name", where))
        label = _int(_field(row, "label", where), where)
        if not 0 <= label < len(names):
            raise UsageError(f"{where}: label {label} is not in {vocab_json} ({len(names)} classes)")
        start = _int(row.get("start_frame", 0), where)
        end = _int(row["end_frame"], where) if "end_frame" in row else None
        samples.append(Sample(name, str(Path(video_dir) / f"{name}{ext}"), (label,), start, end))
    return Split("diving48", samples, {"label": names})


def _read_csv(path: str | os.PathLike[str], what: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    p = _need_file(path, what)
    with p.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise UsageError(f"{p}: missing column(s) {missing} (header: {reader.fieldnames}); give the official "
                             f"{what}, whose header has the columns {list(required)}")
        return list(reader)


def read_k400(split_csv: str, video_dir: str, classes_csv: str | None = None) -> Split:
    """Kinetics-400 from its CSV; the vocabulary comes from ``classes_csv`` (default: this CSV)."""
    cols = ("label", "youtube_id", "time_start", "time_end")
    rows = _read_csv(split_csv, "Kinetics CSV", cols)
    vocab_rows = rows if classes_csv is None else _read_csv(classes_csv, "Kinetics classes CSV", cols)
    names = sorted({r["label"] for r in vocab_rows})
    index = {n: i for i, n in enumerate(names)}
    samples, missing = [], 0
    for n, row in enumerate(rows, 2):
        where = f"{split_csv}:{n}"
        if row["label"] not in index:
            raise UsageError(f"{where}: label {row['label']!r} is not in the class list of {classes_csv}")
        name = f"{row['youtube_id']}_{_int(row['time_start'], where):06d}_{_int(row['time_end'], where):06d}.mp4"
        candidates = [Path(video_dir) / name, Path(video_dir) / row["label"] / name]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            missing += 1
            continue
        samples.append(Sample(name[:-4], str(found), (index[row["label"]],)))
    return Split("k400", samples, {"label": names}, missing=missing)


EK100_COLUMNS = ("narration_id", "participant_id", "video_id", "start_timestamp", "verb_class", "noun_class")


def _seconds(stamp: str, where: str) -> float:
    """``HH:MM:SS.ff`` -> seconds."""
    try:
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        raise UsageError(f"{where}: bad timestamp {stamp!r} (expected HH:MM:SS.ff)") from None


EK100_TEST_COLUMNS = ("narration_id", "participant_id", "video_id", "start_timestamp")


def _check_file_format(file_format: int) -> None:
    if file_format not in (0, 1):
        raise UsageError(f"ek100 file_format must be 0 (<pid>/videos/<vid>.MP4) or 1 (<pid>/<vid>.MP4), got {file_format}")


def _ek100_sample(row: dict[str, str], where: str, labels: tuple[int, ...], video_dir: str, file_format: int,
                  anticipation_s: float) -> Sample:
    """The anticipation sample of one EK100 row: its video, and an observation that ends ``anticipation_s`` before
    the action's ``start_timestamp``."""
    pid, vid = row["participant_id"], row["video_id"]
    folder = Path(video_dir) / pid / ("videos" if file_format == 0 else "")
    end = _seconds(row["start_timestamp"], where) - anticipation_s
    return Sample(row["narration_id"], str(folder / f"{vid}.MP4"), labels, end_time_s=end, participant=pid)


def read_ek100_test(test_csv: str, video_dir: str, file_format: int = 0, anticipation_s: float = 1.0) -> Split:
    """The label-free EK100 test split (``EPIC_100_test_timestamps.csv``): one unlabelled anticipation sample per
    row, cut as :func:`read_ek100` cuts the labelled ones, for the challenge file."""
    _check_file_format(file_format)
    rows = _read_csv(test_csv, "EK100 test timestamps CSV (submission.test_csv)", EK100_TEST_COLUMNS)
    if not rows:
        raise UsageError(f"{test_csv}: no rows (expected one per test narration)")
    samples = [_ek100_sample(row, f"{test_csv}:{n}", (), video_dir, file_format, anticipation_s)
               for n, row in enumerate(rows, 2)]
    return Split("ek100", samples, {})


def read_ek100(split_csv: str, train_csv: str, video_dir: str, file_format: int = 0,
               anticipation_s: float = 1.0, unseen_csv: str | None = None,
               tail_verbs_csv: str | None = None, tail_nouns_csv: str | None = None) -> Split:
    """EPIC-KITCHENS-100 action anticipation: labels (verb, noun, action); observation ends ``anticipation_s``
    before the action start. ``Split.extra`` holds the unseen participants and the tail classes."""
    _check_file_format(file_format)
    train = _read_csv(train_csv, "EK100 train CSV", EK100_COLUMNS)
    rows = train if Path(split_csv) == Path(train_csv) else _read_csv(split_csv, "EK100 CSV", EK100_COLUMNS)
    verbs = sorted({_int(r["verb_class"], train_csv) for r in train})
    nouns = sorted({_int(r["noun_class"], train_csv) for r in train})
    pairs = sorted({(_int(r["verb_class"], train_csv), _int(r["noun_class"], train_csv)) for r in train})
    verb_index = {v: i for i, v in enumerate(verbs)}
    noun_index = {v: i for i, v in enumerate(nouns)}
    action_index = {p: i for i, p in enumerate(pairs)}
    action_names = [f"{v},{n}" for v, n in pairs]
    samples = []
    for n, row in enumerate(rows, 2):
        where = f"{split_csv}:{n}"
        verb, noun = _int(row["verb_class"], where), _int(row["noun_class"], where)
        if (verb, noun) not in action_index:  # never seen in training: an action the head cannot predict
            action_index[(verb, noun)] = len(action_index)
            action_names.append(f"{verb},{noun}")
        for vocab, value, kind in ((verb_index, verb, "verb"), (noun_index, noun, "noun")):
            if value not in vocab:
                vocab[value] = len(vocab)
                (verbs if kind == "verb" else nouns).append(value)
        samples.append(_ek100_sample(row, where, (verb_index[verb], noun_index[noun], action_index[(verb, noun)]),
                                     video_dir, file_format, anticipation_s))
    extra: dict[str, Any] = {
        "trained_classes": {"verb": len({r["verb_class"] for r in train}), "noun": len({r["noun_class"] for r in train}),
                            "action": len(pairs)},
        "class_ids": {"verb": verbs, "noun": nouns, "action": action_names},
    }
    if unseen_csv:
        extra["unseen_participants"] = sorted(_first_column(unseen_csv, "EK100 unseen participants"))
    for kind, path, vocab in (("verb", tail_verbs_csv, verb_index), ("noun", tail_nouns_csv, noun_index)):
        if path:
            ids = {_int(x, path) for x in _first_column(path, f"EK100 tail {kind}s")}
            extra[f"tail_{kind}"] = sorted(vocab[i] for i in ids if i in vocab)
    return Split("ek100", samples, {"verb": [str(v) for v in verbs], "noun": [str(v) for v in nouns],
                                    "action": action_names}, extra=extra)


def _first_column(path: str, what: str) -> list[str]:
    """First column of a one-id-per-row CSV, without its header row (ids are numbers or ``P01``-style)."""
    values = [line.split(",")[0].strip() for line in _need_file(path, what).read_text().splitlines() if line.strip()]
    return [v for v in values if re.fullmatch(r"P?\d+", v)]


def read_coin(coin_json: str, video_dir: str, subset: str = "testing", ext: str = ".mp4") -> Split:
    """COIN task classification (``recipe_type``)."""
    if subset not in ("training", "testing"):
        raise UsageError(f"COIN subset must be 'training' or 'testing', got {subset!r}")
    db = _load_json(coin_json, "COIN")
    if not isinstance(db, dict) or "database" not in db:
        raise UsageError(f"{coin_json}: expected {{'database': {{youtube_id: {{...}}}}}}")
    names: dict[int, str] = {}
    samples = []
    for vid, entry in db["database"].items():
        where = f"{coin_json} [database][{vid!r}]"
        label = _int(_field(entry, "recipe_type", where), where)
        names[label] = str(entry.get("class", label))
        if _field(entry, "subset", where) == subset:
            samples.append(Sample(vid, str(Path(video_dir) / f"{vid}{ext}"), (label,)))
    size = max(names) + 1 if names else 0
    return Split("coin", samples, {"label": [names.get(i, str(i)) for i in range(size)]})


def read_jester(labels_csv: str, split_csv: str, video_dir: str) -> Split:
    """20BN-Jester: a folder of JPEG frames per video."""
    names = [line.strip() for line in _need_file(labels_csv, "Jester labels").read_text().splitlines() if line.strip()]
    index = {n: i for i, n in enumerate(names)}
    samples = []
    for n, line in enumerate(_need_file(split_csv, "Jester split").read_text().splitlines(), 1):
        if not line.strip():
            continue
        vid, sep, label = line.partition(";")
        if not sep:
            raise UsageError(f"{split_csv}:{n}: expected '<id>;<label>', got {line!r}")
        if label.strip() not in index:
            raise UsageError(f"{split_csv}:{n}: label {label.strip()!r} is not in {labels_csv}")
        samples.append(Sample(vid.strip(), str(Path(video_dir) / vid.strip()), (index[label.strip()],)))
    return Split("jester", samples, {"label": names})


def read_imagefolder(root: str) -> Split:
    """ImageFolder: ``<root>/<class>/<image>``; each image becomes a clip of repeated frames."""
    base = Path(root)
    if not base.is_dir():
        raise UsageError(f"ImageFolder root not found: {base}")
    names = sorted(p.name for p in base.iterdir() if p.is_dir())
    if not names:
        raise UsageError(f"{base}: no class folders")
    samples = [Sample(f"{c}/{img.name}", str(img), (i,))
               for i, c in enumerate(names) for img in sorted((base / c).iterdir())
               if img.suffix.lower() in IMAGE_SUFFIXES]
    return Split("imagenet", samples, {"label": names})


READERS: dict[str, Callable[..., Split]] = {
    "path_list": read_path_list,
    "ssv2": read_ssv2,
    "diving48": read_diving48,
    "k400": read_k400,
    "ek100": read_ek100,
    "coin": read_coin,
    "jester": read_jester,
    "imagefolder": read_imagefolder,
}


def read_split(format: str, **files: Any) -> Split:
    """Dispatch to the reader of ``format`` with its keyword arguments (the ``files`` of a benchmark config)."""
    if format not in READERS:
        raise UsageError(f"unknown annotation format {format!r}; known: {sorted(READERS)}")
    try:
        return READERS[format](**files)
    except TypeError as err:
        raise UsageError(f"annotation format {format!r}: {err} (check the split's file keys)") from None
