"""``vjepa-bench collect``: sim episodes of an exploration policy recorded into HDF5 trajectory shards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from vjepa_bench.schema.env import CameraConfig, EnvConfig
from vjepa_bench.schema.checks import check_count


@dataclass
class CollectConfig:
    """Everything ``vjepa-bench collect`` reads; ``out_dir=None`` means ``data/<env.name>``."""

    env: EnvConfig = field(default_factory=EnvConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    episodes: int = 100
    seed: int = 0
    policy: str = "mix"  # random | noisy_scripted | mix
    policy_kwargs: Dict[str, Any] = field(default_factory=dict)  # fields of the policy (vjepa_bench.collection.policies)
    max_steps: Optional[int] = None  # episode length cap; None keeps the env's
    shard_size: int = 100
    progress: bool = True
    out_dir: Optional[str] = None

    def __post_init__(self) -> None:
        check_count("episodes", self.episodes, 0)
        check_count("seed", self.seed, 0)
        check_count("shard_size", self.shard_size, 1)
        if self.max_steps is not None:
            check_count("max_steps", self.max_steps, 1)
