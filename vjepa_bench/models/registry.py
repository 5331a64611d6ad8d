"""The released V-JEPA 2 files (docs/conventions.md#checkpoints): names, the presets their models are built from,
published sizes, and where a name is looked for on disk (no download happens at run time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError

ENV_CHECKPOINT_DIR = "VJEPA_BENCH_CHECKPOINTS"
DEFAULT_CHECKPOINT_DIR = Path("~/.cache/vjepa_bench/checkpoints")
OFFICIAL_BASE_URL = "https://dl.fbaipublicfiles.com/vjepa2/"


@dataclass(frozen=True)
class OfficialCheckpoint:
    """A released file (docs/conventions.md#checkpoints) and the presets its models are built from."""

    name: str
    filename: str
    encoder: str | None = None
    predictor: str | None = None
    ac_predictor: str | None = None
    probe: str | None = None
    size_bytes: int | None = None  # published file size; None: not published where this registry was made

    @property
    def url(self) -> str:
        return OFFICIAL_BASE_URL + self.filename


# No release page or manifest at hand lists the files' sizes, so every ``size_bytes`` is None (unknown): the loader
# checks a size only where one is filled in, and a file that is cut short is still reported as truncated.
OFFICIAL_CHECKPOINTS: dict[str, OfficialCheckpoint] = {
    c.name: c
    for c in [
        OfficialCheckpoint("vitl", "vitl.pt", encoder="vit_large", predictor="vjepa2_vitl"),
        OfficialCheckpoint("vith", "vith.pt", encoder="vit_huge", predictor="vjepa2_vith"),
        OfficialCheckpoint("vitg", "vitg.pt", encoder="vit_giant", predictor="vjepa2_vitg"),
        OfficialCheckpoint("vitg-384", "vitg-384.pt", encoder="vit_giant_384", predictor="vjepa2_vitg_384"),
        OfficialCheckpoint("vjepa2-ac-vitg", "vjepa2-ac-vitg.pt", encoder="vit_giant", ac_predictor="vjepa2_ac_vitg"),
        OfficialCheckpoint("ssv2-vitl-16x2x3", "evals/ssv2-vitl-16x2x3.pt", probe="ssv2_vitl"),
        OfficialCheckpoint("diving48-vitl-256", "evals/diving48-vitl-256.pt", probe="diving48_vitl"),
        OfficialCheckpoint("ek100-vitl-256", "evals/ek100-vitl-256.pt", probe="ek100_vitl"),
        OfficialCheckpoint("ssv2-vitg-384-64x2x3", "evals/ssv2-vitg-384-64x2x3.pt", probe="ssv2_vitg"),
        OfficialCheckpoint("diving48-vitg-384-32x4x3", "evals/diving48-vitg-384-32x4x3.pt", probe="diving48_vitg"),
        OfficialCheckpoint("ek100-vitg-384", "evals/ek100-vitg-384.pt", probe="ek100_vitg"),
    ]
}


def default_checkpoint_dir() -> Path:
    """``$VJEPA_BENCH_CHECKPOINTS`` or ``~/.cache/vjepa_bench/checkpoints``."""
    env = os.environ.get(ENV_CHECKPOINT_DIR)
    return Path(env).expanduser() if env else DEFAULT_CHECKPOINT_DIR.expanduser()


def official_entry(name: str) -> OfficialCheckpoint | None:
    """Registry entry for ``vjepa2_ac_vitg``, ``vjepa2-ac-vitg``, ``vitl``, ``vjepa2_vitl``, ``vitl.pt``, ..."""
    key = name.strip().lower().replace("_", "-")
    key = key.removeprefix("evals/").removesuffix(".pt")
    for cand in (key, key.removeprefix("vjepa2-")):
        if cand in OFFICIAL_CHECKPOINTS:
            return OFFICIAL_CHECKPOINTS[cand]
    return None


def resolve_checkpoint(path_or_name: str | os.PathLike[str], checkpoint_dir: str | os.PathLike[str] | None = None) -> Path:
    """A path as given if it exists, else a registry name resolved inside the checkpoint directory."""
    path = Path(path_or_name).expanduser()
    if path.exists():
        return path
    entry = official_entry(str(path_or_name))
    if entry is None:
        raise CheckpointError(
            f"checkpoint {str(path_or_name)!r} is neither an existing file/folder nor a known name "
            f"(known names: {', '.join(sorted(OFFICIAL_CHECKPOINTS))})"
        )
    if checkpoint_dir is not None:
        directory, how = Path(checkpoint_dir).expanduser(), "checkpoint_dir argument"
    elif os.environ.get(ENV_CHECKPOINT_DIR):
        directory, how = default_checkpoint_dir(), f"${ENV_CHECKPOINT_DIR}"
    else:
        directory, how = default_checkpoint_dir(), f"default; set ${ENV_CHECKPOINT_DIR} or checkpoint_dir to change"
    for candidate in (directory / entry.filename, directory / Path(entry.filename).name):
        if candidate.exists():
            return candidate
    raise CheckpointError(
        f"checkpoint {entry.name!r}: file {entry.filename!r} not found; looked for {directory / entry.filename} "
        f"(directory {directory}, {how}). No download happens at run time: on a machine with internet, "
        f"download {entry.url} and copy it to {directory / entry.filename}."
    )


def check_published_size(path: Path, entry: OfficialCheckpoint | None) -> None:
    """Raise :class:`CheckpointError` when ``path`` is a released file whose size differs from the published one."""
    if entry is None or entry.size_bytes is None:
        return
    size = path.stat().st_size
    if size != entry.size_bytes:
        raise CheckpointError(
            f"{path}: {size} bytes, but the released {entry.filename} has {entry.size_bytes}; it is truncated or "
            f"another file: download {entry.url} again"
        )
