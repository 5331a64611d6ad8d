"""The EPIC-KITCHENS-100 action-anticipation challenge files that ``video-eval`` writes for ``format=ek100``.

One entry per decodable sample (by ``narration_id``): the selected head's view-averaged softmax scores of every
verb and noun class the head was trained on, keyed by the official class id, and its best ``top_actions``
``"<verb>,<noun>"`` action scores. ``sls_pt``, ``sls_tl`` and ``sls_td`` are the submitter's supervision-level
declaration (pretraining, training labels, training data); set them to the levels of the encoder and probe used.
The validation split's file is always written; ``test_csv`` (the label-free test timestamps CSV) adds the test
split's, the one the challenge scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vjepa_bench.errors import UsageError
from vjepa_bench.models import AttentiveProbe
from vjepa_bench.video.annotations import Split, read_ek100_test
from vjepa_bench.video.metrics import challenge_json
from vjepa_bench.video.probe_grid import view_averaged_head_probs

SUBMISSION_FILE = "ek100_submission.json"
TEST_SUBMISSION_FILE = "ek100_test_submission.json"
TEST_READ_FROM_EVAL = ("video_dir", "file_format", "anticipation_s")


@dataclass(frozen=True)
class SubmissionSpec:
    """The challenge file's self-declared supervision levels, how many action scores each entry keeps, and the
    test timestamps CSV whose split also gets a challenge file (None: the validation split's only)."""

    sls_pt: int = 0
    sls_tl: int = 0
    sls_td: int = 0
    top_actions: int = 100
    test_csv: str | None = None

    def validate(self) -> None:
        for key in ("sls_pt", "sls_tl", "sls_td"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UsageError(f"submission.{key}={value!r}: must be an integer >= 0 (a supervision level)")
        if self.top_actions < 1:
            raise UsageError(f"submission.top_actions={self.top_actions}: must be at least 1")


def read_test_split(spec: SubmissionSpec, eval_files: dict[str, Any]) -> Split | None:
    """The label-free test split of ``spec.test_csv`` (None when unset), with the evaluation split's video folder,
    file format and anticipation time, so that its clips are cut as the validation ones."""
    if spec.test_csv is None:
        return None
    return read_ek100_test(spec.test_csv, **{k: eval_files[k] for k in TEST_READ_FROM_EVAL if k in eval_files})


def write_submission(path: str | Path, head: AttentiveProbe, tokens: np.ndarray, narration_ids: list[str],
                     class_ids: dict[str, list[Any]], spec: SubmissionSpec) -> Path:
    """Score ``tokens (M, V, N, D)`` with ``head`` (verb, noun, action classifiers) and write the challenge JSON.
    ``class_ids`` holds the official id of each trained class per label, in the head's output order."""
    verb, noun, action = view_averaged_head_probs(head, tokens)
    sizes = {"verb": verb.shape[1], "noun": noun.shape[1], "action": action.shape[1]}
    ids = {name: list(class_ids[name])[:n] for name, n in sizes.items()}
    submission = challenge_json(narration_ids, verb, noun, action, [int(v) for v in ids["verb"]],
                                [int(n) for n in ids["noun"]], [str(a) for a in ids["action"]], spec.top_actions,
                                (spec.sls_pt, spec.sls_tl, spec.sls_td))
    path = Path(path)
    path.write_text(json.dumps(submission))
    return path
