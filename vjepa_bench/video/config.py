"""The typed configs of ``vjepa-bench video-eval``, ``make-sim-motion`` and ``score-qa``: the settings each command
reads, checked when the CLI parses the config (before any video is decoded). ``vjepa_bench.schema`` registers them
in Hydra's ConfigStore."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from vjepa_bench.errors import UsageError
from vjepa_bench.video.annotations import READERS
from vjepa_bench.video.features import ClipSpec, LayerSpec
from vjepa_bench.video.metrics import EK100_MODES
from vjepa_bench.video.probe_grid import GridConfig
from vjepa_bench.video.qa_annotations import benchmark_spec
from vjepa_bench.video.submission import SubmissionSpec

HEAD_SELECTIONS = ("selected_on_heldout_train", "max_over_heads_on_eval")


def check_count(key: str, value: int, minimum: int) -> None:
    """A ``UsageError`` naming ``key`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{key}={value!r}: must be an integer >= {minimum}")


@dataclass(frozen=True)
class VideoEvalConfig:
    """``vjepa-bench video-eval``: the benchmark's annotation format and files
    (``configs/video/benchmark/<name>.yaml``), clip sampling, probe grid (or a probe file to score instead), cached
    encoder layers, EK100 recall mode and challenge file, and the encoder (a checkpoint, or ``encoder_preset`` with
    random weights from ``seed``)."""

    benchmark: str = "sim_motion"
    data_dir: str = MISSING  # the benchmark's dataset folder (sim_motion: data/sim_motion)
    format: str = "ssv2"
    train_files: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the format's reader
    eval_files: dict[str, Any] = field(default_factory=dict)
    clips: ClipSpec = ClipSpec()
    grid: GridConfig = GridConfig()
    features: LayerSpec = LayerSpec()
    ek100_mode: str = "official"  # or vjepa2_compat (the V-JEPA 2 code's masking and filtering)
    submission: SubmissionSpec = SubmissionSpec()  # EK100 only: the challenge files' declaration, test CSV
    checkpoint: str | None = None  # a checkpoint with an encoder; None: encoder_preset with random weights
    encoder_preset: str = "vit_tiny"
    probe_checkpoint: str | None = None  # a (released) probe file: score its classifiers, no probe training
    seed: int = 0
    head_selection: str = "selected_on_heldout_train"  # or max_over_heads_on_eval (what the paper reports)
    output_dir: str = "runs/video_eval"
    num_workers: int = 0  # DataLoader workers that decode videos
    cpu_threads: int | None = None

    def __post_init__(self) -> None:
        if self.format not in READERS:
            raise UsageError(f"format={self.format!r}: unknown annotation format; known: {', '.join(sorted(READERS))}")
        if self.head_selection not in HEAD_SELECTIONS:
            raise UsageError(f"head_selection must be one of {HEAD_SELECTIONS}, got {self.head_selection!r}")
        if self.ek100_mode not in EK100_MODES:
            raise UsageError(f"ek100_mode must be one of {EK100_MODES}, got {self.ek100_mode!r}")
        if self.clips.views not in (1, 3):
            raise UsageError(f"clips.views must be 1 or 3, got {self.clips.views}")
        for key in ("frames_per_clip", "frame_step", "segments", "crop"):
            check_count(f"clips.{key}", getattr(self.clips, key), 1)
        if not self.grid.lrs or not self.grid.wds:
            raise UsageError("grid.lrs and grid.wds must each list at least one value")
        for key in ("epochs", "batch_size", "depth", "num_heads"):
            check_count(f"grid.{key}", getattr(self.grid, key), 1)
        if not 0.0 <= self.grid.heldout_fraction < 1.0:
            raise UsageError(f"grid.heldout_fraction={self.grid.heldout_fraction}: must be in [0, 1)")
        check_count("num_workers", self.num_workers, 0)
        if self.probe_checkpoint is not None and self.format == "ek100":
            raise UsageError("probe_checkpoint: the released EK100 probes also read the predictor's forecast tokens, "
                             "which this harness does not compute; train the EK100 probe here instead")
        if self.submission.test_csv is not None and self.format != "ek100":
            raise UsageError(f"submission.test_csv: only EK100 (format=ek100) has a challenge file, not {self.format!r}")
        self.submission.validate()


@dataclass(frozen=True)
class SimMotionSpec:
    """``clips`` clips (template ``i % 9``) of ``frames`` frames at ``image_size`` px and ``fps``; ``val_fraction``
    of them go to the validation split."""

    clips: int = 270
    frames: int = 16
    image_size: int = 128
    fps: int = 8
    val_fraction: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("clips", "frames", "image_size", "fps"):
            check_count(key, getattr(self, key), 1)
        if not 0.0 <= self.val_fraction < 1.0:
            raise UsageError(f"val_fraction={self.val_fraction}: must be in [0, 1)")


@dataclass(frozen=True)
class MakeSimMotionConfig(SimMotionSpec):
    """``vjepa-bench make-sim-motion``: the dataset's settings and the folder it is written to."""

    out_dir: str = "data/sim_motion"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.out_dir:
            raise UsageError("out_dir is required, e.g. out_dir=data/sim_motion")


@dataclass(frozen=True)
class ScoreQAConfig:
    """``vjepa-bench score-qa``: the benchmark, its annotation file, the prediction files (paths or globs), the
    id template for lmms-eval samples (None: the benchmark's default) and the output folder (None:
    ``runs/score_qa/<benchmark>``). The three inputs are required when scoring (:meth:`validate`)."""

    benchmark: str | None = None  # perceptiontest | tempcompass | mvbench | tomato
    annotations: str | None = None  # JSON or JSONL: id, options (or candidates), answer, category
    predictions: list[str] = field(default_factory=list)  # lmms-eval samples_*.jsonl and/or {"id", "answer"} JSONL
    id_template: str | None = None
    output_dir: str | None = None

    def __post_init__(self) -> None:
        if self.benchmark is not None:
            benchmark_spec(self.benchmark)

    def validate(self) -> None:
        if self.benchmark is None:
            raise UsageError("benchmark is required: benchmark=perceptiontest|tempcompass|mvbench|tomato")
        if self.annotations is None:
            raise UsageError("annotations is required: annotations=<JSON or JSONL file> (see docs/video.md)")
        if not self.predictions:
            raise UsageError("predictions is required: predictions=[<samples_*.jsonl or id/answer JSONL>, ...]")
