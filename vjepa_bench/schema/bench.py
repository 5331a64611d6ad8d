"""``vjepa-bench bench sim|models|planner``: the keyword arguments of each benchmark, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from vjepa_bench.devices import check_device_name
from vjepa_bench.schema.checks import check_count


def _check_optional_count(key: str, value: Optional[int], minimum: int) -> None:
    if value is not None:
        check_count(key, value, minimum)


@dataclass
class BenchSimConfig:
    """``bench.sim.bench_sim``: decision steps/s of each task next to robosuite's Lift."""

    steps: int = 40  # decision steps timed per task
    tasks: Optional[List[str]] = None  # None: every task; or e.g. [reach, pick_place]
    image_size: int = 256
    robosuite_steps: Optional[int] = None  # None: steps // 2 (robosuite is ~7x slower)
    rounds: int = 1  # ours then robosuite, this many times; the median round and the range of the ratios

    def __post_init__(self) -> None:
        check_count("steps", self.steps, 1)
        check_count("rounds", self.rounds, 1)
        check_count("image_size", self.image_size, 1)
        _check_optional_count("robosuite_steps", self.robosuite_steps, 1)


@dataclass
class BenchModelsConfig:
    """``bench.models.bench_models``: forward time of an encoder and an AC predictor preset (random weights)."""

    encoder: str = "vit_small"
    ac_predictor: str = "ac_small"
    batch: int = 8
    frames: int = 4
    image_size: Optional[int] = None  # None: the AC predictor's
    device: str = "auto"
    repeats: int = 3
    threads: Optional[int] = None  # CPU threads for the run (None: torch's default)

    def __post_init__(self) -> None:
        for key in ("batch", "frames", "repeats"):
            check_count(key, getattr(self, key), 1)
        _check_optional_count("image_size", self.image_size, 1)
        _check_optional_count("threads", self.threads, 1)
        check_device_name(self.device, "device")


@dataclass
class BenchPlannerConfig:
    """``bench.planner.bench_planner``: time per planned action of each planner preset (random weights)."""

    encoder: str = "vit_tiny"
    ac_predictor: str = "ac_tiny"
    planners: Optional[List[str]] = None  # planner presets (configs/planner/); None: every preset
    horizon: int = 1
    decisions: int = 2
    device: str = "auto"
    image_size: Optional[int] = None  # None: the encoder's
    reference: bool = True  # also time the reference predictor path, alternating with the fast one
    forward_repeats: int = 5  # predictor_forward: forwards of each path at the planner's batch (medians)
    threads: Optional[int] = None  # CPU threads for the run (None: torch's default)

    def __post_init__(self) -> None:
        for key in ("horizon", "decisions", "forward_repeats"):
            check_count(key, getattr(self, key), 1)
        _check_optional_count("image_size", self.image_size, 1)
        _check_optional_count("threads", self.threads, 1)
        check_device_name(self.device, "device")
