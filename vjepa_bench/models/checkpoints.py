"""Checkpoint I/O: name resolution, format detection, key maps, strict loading with clear errors, our own format.

Formats read by :func:`load_checkpoint` (docs/conventions.md#checkpoints):

* official ``.pt`` files: pretrained (``target_encoder``/``encoder`` + ``predictor``), AC (``encoder`` + AC
  ``predictor``), probes (``classifiers``: a list of state dicts); ``module.``/``backbone.`` prefixes and a
  stray ``pos_embed`` are removed;
* HuggingFace ``transformers`` VJEPA2 snapshots: a folder with ``config.json`` and ``model.safetensors``
  (or a sharded ``model.safetensors.index.json``);
* ours: ``{"format": "vjepa_bench", "version": 1, "models": {role: {"builder", "config", "state_dict"}},
  "meta": {...}}``, written atomically by :func:`save_checkpoint`; a file alone rebuilds its models, and
  ``meta["weights_sha256"]`` (:func:`weights_sha256` of its models) is checked when it is read.

Every file is read with ``torch.load(weights_only=True)``: a file that would run code is refused. Loaded weights
must be finite and floating where the model's are.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from vjepa_bench.fileio import write_atomic

from .ac_predictor import ACPredictor
from .encoder import VisionTransformer
from .errors import CheckpointError
from .hf import configs_from_hf, hf_to_official
from .predictor import MaskPredictor
from .presets import (
    ACPredictorConfig,
    EncoderConfig,
    PredictorConfig,
    ProbeConfig,
    ac_predictor_config,
    encoder_config,
    predictor_config,
    probe_config,
)
from .probe import AttentiveProbe

FORMAT_NAME = "vjepa_bench"
FORMAT_VERSION = 1
ENV_CHECKPOINT_DIR = "VJEPA_BENCH_CHECKPOINTS"
DEFAULT_CHECKPOINT_DIR = Path("~/.cache/vjepa_bench/checkpoints")
OFFICIAL_BASE_URL = "https://dl.fbaipublicfiles.com/vjepa2/"
ROLES = ("encoder", "predictor", "ac_predictor", "probe")


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


@dataclass
class LoadedCheckpoint:
    """Models built from one checkpoint plus where they came from."""

    format: str  # "official" | "hf" | "vjepa_bench" | "state_dict"
    source: Path
    sha256: str | None
    encoder: VisionTransformer | None = None
    predictor: MaskPredictor | None = None
    ac_predictor: ACPredictor | None = None
    probes: list[AttentiveProbe] = field(default_factory=list)
    name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def probe(self) -> AttentiveProbe | None:
        """The first probe (released inference configs use classifier 0)."""
        return self.probes[0] if self.probes else None


# ----------------------------------------------------------------------------------------------- names


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


# ----------------------------------------------------------------------------------------------- reading


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_torch_file(path: Path) -> Any:
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: file is empty (0 bytes); it looks truncated or corrupt, download it again")
    with open(path, "rb") as f:
        head = f.read(4)
    is_zip = head.startswith(b"PK\x03\x04")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except Exception as err:  # torch raises OSError/RuntimeError/KeyError/UnpicklingError for bad files
        text = str(err)
        if "Weights only load failed" in text:
            raise CheckpointError(
                f"{path}: holds Python objects beyond tensors and plain containers; refused, as loading them could "
                "run code: re-save its state dicts with plain torch.save, or use the released file"
            ) from err
        if is_zip or head[:1] == b"\x80":
            raise CheckpointError(
                f"{path}: could not be read ({size} bytes); it looks truncated or corrupt (interrupted "
                f"download?). Original error: {type(err).__name__}: {text[:200]}"
            ) from err
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint (first bytes {head!r}). Original error: {type(err).__name__}: {text[:200]}"
        ) from err


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


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as err:
        raise CheckpointError(
            f"{path}: safetensors file could not be read; it looks truncated or corrupt. "
            f"Original error: {type(err).__name__}: {str(err)[:200]}"
        ) from err


def strip_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove every ``module.`` and ``backbone.`` from key names and drop ``pos_embed``/``predictor_pos_embed``."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        k2 = k.replace("module.", "").replace("backbone.", "")
        if k2 in ("pos_embed", "predictor_pos_embed"):
            continue
        out[k2] = v
    return out


# ----------------------------------------------------------------------------------------------- strict load


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` has exactly the model's keys and shapes."""
    expected = model.state_dict()
    where = f"{source}: " if source else ""
    what = type(model).__name__
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{where}weights do not fit {what} (wrong model?): {len(missing)} missing keys "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}, {len(unexpected)} unexpected keys "
            f"{unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
        )
    bad = [(k, tuple(state_dict[k].shape), tuple(v.shape)) for k, v in expected.items() if tuple(state_dict[k].shape) != tuple(v.shape)]
    if bad:
        lines = "; ".join(f"{k}: checkpoint {a} vs model {b}" for k, a, b in bad[:5])
        raise CheckpointError(f"{where}shape mismatch for {len(bad)} tensors of {what}: {lines}")
    check_values(model, state_dict, source)


def check_values(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Raise :class:`CheckpointError` for a tensor that is not floating where the model's is, or holds NaN/inf."""
    where = f"{source}: " if source else ""
    for key, expected in model.state_dict().items():
        value = state_dict[key]
        if expected.is_floating_point() and not value.is_floating_point():
            raise CheckpointError(
                f"{where}tensor {key!r} has dtype {value.dtype}, expected a floating dtype: not weights of this model"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{where}tensor {key!r} holds NaN or infinite values; the file is corrupt")


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "") -> nn.Module:
    """Check keys/shapes (clear errors), then ``load_state_dict(strict=True, assign=True)``."""
    check_state_dict(model, state_dict, source)
    model.load_state_dict(dict(state_dict), strict=True, assign=True)
    return model


def _materialize(
    build: Callable[[], nn.Module], state_dict: Mapping[str, torch.Tensor], source: str, device: str | torch.device, dtype: torch.dtype | None
) -> Any:
    with torch.device("meta"):
        model = build()
    if dtype is not None:
        state_dict = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
    load_state_dict_strict(model, state_dict, source)
    return model.to(device).eval()


# ----------------------------------------------------------------------------------------------- inference


def _block_count(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    ids = {int(m[1]) for k in sd if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(ids) + 1 if ids else 0


def _need(sd: Mapping[str, torch.Tensor], key: str, source: str, what: str) -> torch.Tensor:
    if key not in sd:
        sample = list(sd)[:5]
        raise CheckpointError(f"{source}: expected {what} weights with key {key!r}; found keys like {sample}")
    return sd[key]


_ENCODER_HEADS = {1024: 16, 1280: 16, 1408: 22, 192: 3, 384: 6}


def infer_encoder_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> EncoderConfig:
    """Encoder config from weight shapes; heads (not visible in shapes) from the preset or the released models."""
    w = _need(sd, "patch_embed.proj.weight", source, "encoder")  # (D, C, t, p, p)
    d, c, t, p, _ = w.shape
    depth = _block_count(sd, "blocks.")
    hidden = _need(sd, "blocks.0.mlp.fc1.weight", source, "encoder").shape[0]
    base = encoder_config(preset) if preset else None
    heads = base.num_heads if base is not None and base.embed_dim == d else _ENCODER_HEADS.get(d, max(1, d // 64))
    kw: dict[str, Any] = dict(embed_dim=d, depth=depth, num_heads=heads, mlp_hidden_dim=hidden, patch_size=p,
                              tubelet_size=t, in_chans=c, qkv_bias="blocks.0.attn.qkv.bias" in sd)
    if base is not None:
        return base.replace(**kw)
    return EncoderConfig(**kw)


def _predictor_with_preset(cls: type, base: Any, kw: dict[str, Any]) -> Any:
    """A predictor config from inferred shapes ``kw``; a preset of the same width supplies what shapes cannot
    tell (heads, grid)."""
    if base is None:
        return cls(**kw)
    if base.predictor_embed_dim == kw["predictor_embed_dim"]:
        kw = {**kw, "num_heads": base.num_heads}
    return base.replace(**kw)


def infer_predictor_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> PredictorConfig:
    """Mask-denoising predictor config from weight shapes (+ preset for the grid size)."""
    w = _need(sd, "predictor_embed.weight", source, "predictor")  # (P, D)
    pdim, d = w.shape
    n_mask = sum(1 for k in sd if k.startswith("mask_tokens."))
    kw: dict[str, Any] = dict(
        embed_dim=d, predictor_embed_dim=pdim, depth=_block_count(sd, "predictor_blocks."),
        num_heads=12 if pdim == 384 else max(1, pdim // 32),
        mlp_hidden_dim=_need(sd, "predictor_blocks.0.mlp.fc1.weight", source, "predictor").shape[0],
        num_mask_tokens=n_mask, qkv_bias="predictor_blocks.0.attn.qkv.bias" in sd,
    )
    return _predictor_with_preset(PredictorConfig, predictor_config(preset) if preset else None, kw)


def infer_ac_predictor_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> ACPredictorConfig:
    """AC predictor config from weight shapes (+ preset for heads and tokens per frame)."""
    w = _need(sd, "predictor_embed.weight", source, "AC predictor")
    pdim, d = w.shape
    kw: dict[str, Any] = dict(
        embed_dim=d, predictor_embed_dim=pdim, depth=_block_count(sd, "predictor_blocks."),
        num_heads=16 if pdim == 1024 else max(1, pdim // 64),
        mlp_hidden_dim=_need(sd, "predictor_blocks.0.mlp.fc1.weight", source, "AC predictor").shape[0],
        action_dim=_need(sd, "action_encoder.weight", source, "AC predictor").shape[1],
        state_dim=_need(sd, "state_encoder.weight", source, "AC predictor").shape[1],
        extrinsics_dim=_need(sd, "extrinsics_encoder.weight", source, "AC predictor").shape[1],
        qkv_bias="predictor_blocks.0.attn.qkv.bias" in sd,
    )
    return _predictor_with_preset(ACPredictorConfig, ac_predictor_config(preset) if preset else None, kw)


def infer_probe_config(sd: Mapping[str, torch.Tensor], preset: str | None = None, source: str = "") -> ProbeConfig:
    """Probe config from weight shapes; the released probes use 16 heads."""
    q = _need(sd, "pooler.query_tokens", source, "probe")  # (1, M, D)
    d = q.shape[-1]
    heads = [(k[: -len(".weight")], v.shape[0]) for k, v in sd.items() if not k.startswith("pooler.") and k.endswith(".weight")]
    base = probe_config(preset) if preset else None
    num_heads = base.num_heads if base is not None and base.embed_dim == d else (16 if d % 16 == 0 else 1)
    return ProbeConfig(
        embed_dim=d, heads=tuple(heads), num_heads=num_heads, depth=_block_count(sd, "pooler.blocks.") + 1,
        mlp_hidden_dim=_need(sd, "pooler.cross_attention_block.mlp.fc1.weight", source, "probe").shape[0],
        num_queries=q.shape[1], qkv_bias="pooler.cross_attention_block.xattn.q.bias" in sd,
    )


def _role_from_keys(sd: Mapping[str, torch.Tensor]) -> str | None:
    if "action_encoder.weight" in sd:
        return "ac_predictor"
    if "predictor_embed.weight" in sd:
        return "predictor"
    if "patch_embed.proj.weight" in sd:
        return "encoder"
    if "pooler.query_tokens" in sd:
        return "probe"
    return None


# ----------------------------------------------------------------------------------------------- loading

_OFFICIAL_KEYS = ("target_encoder", "encoder", "predictor", "classifiers")
_BUILDERS: dict[str, tuple[type, Callable[..., Any]]] = {
    "encoder": (EncoderConfig, VisionTransformer),
    "predictor": (PredictorConfig, MaskPredictor),
    "ac_predictor": (ACPredictorConfig, ACPredictor),
    "probe": (ProbeConfig, AttentiveProbe),
}


def _wanted(kind: str | None, role: str) -> bool:
    if kind is None:
        return True
    return (kind.rstrip("s") if kind == "probes" else kind) == role


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in (*ROLES, "probes"):
        raise ValueError(f"kind must be one of {ROLES} or None, got {kind!r}")


def _collect(result: LoadedCheckpoint, role: str, model: Any) -> None:
    if role == "probe":
        result.probes.append(model)
    else:
        setattr(result, role, model)


def _load_official(obj: dict[str, Any], result: LoadedCheckpoint, entry: OfficialCheckpoint | None, kind: str | None,
                   device: str | torch.device, dtype: torch.dtype | None, encoder_key: str | None) -> None:
    src = str(result.source)
    if _wanted(kind, "encoder"):
        key = encoder_key or ("target_encoder" if "target_encoder" in obj else "encoder")
        if key in obj:
            sd = strip_prefixes(obj[key])
            cfg = infer_encoder_config(sd, entry.encoder if entry else None, src)
            result.encoder = _materialize(lambda: VisionTransformer(cfg, init_weights=False), sd, f"{src} [{key}]", device, dtype)
            result.meta["encoder_key"] = key
        elif encoder_key is not None:
            raise CheckpointError(f"{src}: no {encoder_key!r} entry; top-level keys: {sorted(obj)}")
    if "predictor" in obj and (_wanted(kind, "predictor") or _wanted(kind, "ac_predictor")):
        sd = strip_prefixes(obj["predictor"])
        role = _role_from_keys(sd)
        if role == "ac_predictor" and _wanted(kind, "ac_predictor"):
            ac_cfg = infer_ac_predictor_config(sd, entry.ac_predictor if entry else None, src)
            result.ac_predictor = _materialize(lambda: ACPredictor(ac_cfg, init_weights=False), sd, f"{src} [predictor]", device, dtype)
        elif role == "predictor" and _wanted(kind, "predictor"):
            p_cfg = infer_predictor_config(sd, entry.predictor if entry else None, src)
            result.predictor = _materialize(lambda: MaskPredictor(p_cfg, init_weights=False), sd, f"{src} [predictor]", device, dtype)
        elif role is None:
            raise CheckpointError(f"{src}: 'predictor' entry is neither a mask-denoising nor an AC predictor; keys like {list(sd)[:5]}")
    if "classifiers" in obj and _wanted(kind, "probe"):
        heads = obj["classifiers"]
        if isinstance(heads, Mapping):
            heads = [heads]
        for i, raw in enumerate(heads):
            sd = strip_prefixes(raw)
            pr_cfg = infer_probe_config(sd, entry.probe if entry else None, src)
            result.probes.append(_materialize(lambda: AttentiveProbe(pr_cfg, init_weights=False), sd, f"{src} [classifiers][{i}]", device, dtype))


def _load_ours(obj: dict[str, Any], result: LoadedCheckpoint, kind: str | None, device: str | torch.device, dtype: torch.dtype | None) -> None:
    src = str(result.source)
    version = obj.get("version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{src}: {FORMAT_NAME} format version {version!r} is not supported (expected {FORMAT_VERSION})")
    result.meta.update(obj.get("meta") or {})
    models = _verified_models(obj, src)
    for role_name in models:
        entry = models[role_name]
        builder = entry.get("builder")
        if builder not in _BUILDERS:
            raise CheckpointError(f"{src}: model {role_name!r} has unknown builder {builder!r} (known: {sorted(_BUILDERS)})")
        if not _wanted(kind, builder):
            continue
        cfg_cls, model_cls = _BUILDERS[builder]
        try:
            cfg = cfg_cls.from_dict(entry["config"])
        except (TypeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{src}: model {role_name!r} has an invalid config: {err}") from err
        model = _materialize(lambda: model_cls(cfg, init_weights=False), entry["state_dict"], f"{src} [{role_name}]", device, dtype)
        _collect(result, builder, model)


def weights_sha256(models: Mapping[str, Mapping[str, Any]]) -> str:
    """sha256 over every model's role, tensor names, dtypes, shapes and bytes (our format's ``models``)."""
    digest = hashlib.sha256()
    for role in sorted(models):
        for key, tensor in sorted(models[role]["state_dict"].items()):
            flat = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{role}|{key}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _verified_models(obj: Mapping[str, Any], src: str) -> Mapping[str, Any]:
    """The ``models`` of one of our files, checked against the ``weights_sha256`` its writer recorded."""
    models = obj.get("models")
    if not isinstance(models, Mapping) or not models:
        raise CheckpointError(f"{src}: {FORMAT_NAME} file holds no models")
    recorded = (obj.get("meta") or {}).get("weights_sha256")
    if recorded is not None and weights_sha256(models) != recorded:
        raise CheckpointError(
            f"{src}: weights do not match the sha256 recorded when the file was written; the file is corrupt, "
            "write or copy it again"
        )
    return models


def _load_hf(folder: Path, result: LoadedCheckpoint, kind: str | None, device: str | torch.device, dtype: torch.dtype | None) -> None:
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{folder}/config.json could not be read: {err}") from err
    index = folder / "model.safetensors.index.json"
    if (folder / "model.safetensors").exists():
        files = [folder / "model.safetensors"]
    elif index.exists():
        files = sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()})
    else:
        raise CheckpointError(f"{folder}: HF snapshot without model.safetensors (or model.safetensors.index.json)")
    raw: dict[str, torch.Tensor] = {}
    for f in files:
        if not f.exists():
            raise CheckpointError(f"{folder}: shard {f.name} listed in the index is missing")
        raw.update(_read_safetensors(f))
    parts = hf_to_official(raw)
    enc_cfg, pred_cfg = configs_from_hf(cfg, f"{folder}/config.json")
    src = str(folder)
    result.meta["hf_config"] = cfg
    if "encoder" in parts and _wanted(kind, "encoder"):
        result.encoder = _materialize(lambda: VisionTransformer(enc_cfg, init_weights=False), parts["encoder"], f"{src} [encoder]", device, dtype)
    if "predictor" in parts and _wanted(kind, "predictor"):
        result.predictor = _materialize(lambda: MaskPredictor(pred_cfg, init_weights=False), parts["predictor"], f"{src} [predictor]", device, dtype)
    if "probe" in parts and _wanted(kind, "probe"):
        pr_cfg = infer_probe_config(parts["probe"], None, src)
        result.probes.append(_materialize(lambda: AttentiveProbe(pr_cfg, init_weights=False), parts["probe"], f"{src} [probe]", device, dtype))


def load_checkpoint(
    path_or_name: str | os.PathLike[str],
    kind: str | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    *,
    dtype: torch.dtype | None = torch.float32,
    encoder_key: str | None = None,
    compute_sha256: bool = True,
) -> LoadedCheckpoint:
    """Load an official ``.pt``, an HF VJEPA2 snapshot folder or one of our checkpoints into built models.

    ``path_or_name``: a file/folder, or a registry name (``vjepa2_ac_vitg``, ``vitl``, ``ssv2-vitl-16x2x3``, ...)
    looked up in ``checkpoint_dir`` / ``$VJEPA_BENCH_CHECKPOINTS`` / ``~/.cache/vjepa_bench/checkpoints``.
    ``kind``: ``None`` (everything found) or one of ``encoder``, ``predictor``, ``ac_predictor``, ``probe``.
    ``encoder_key``: for official pretrained files, ``target_encoder`` (default when present, the EMA encoder
    the evals use) or ``encoder``.  ``dtype``: cast floating weights (``None`` keeps the stored dtype).
    Models are returned in eval mode on ``device``.  Raises :class:`CheckpointError` with a clear message.
    """
    _check_kind(kind)
    path = resolve_checkpoint(path_or_name, checkpoint_dir)
    entry = official_entry(path.name) or official_entry(str(path_or_name))
    if path.is_dir():
        if not (path / "config.json").exists():
            raise CheckpointError(f"{path}: a folder, but not an HF snapshot (no config.json)")
        result = LoadedCheckpoint(format="hf", source=path, sha256=None, name=None)
        _load_hf(path, result, kind, device, dtype)
        if compute_sha256:
            weights = sorted(path.glob("*.safetensors"))
            h = hashlib.sha256("".join(file_sha256(w) for w in weights).encode())
            result.sha256 = h.hexdigest()
    else:
        check_published_size(path, entry)
        obj = _read_torch_file(path)
        sha = file_sha256(path) if compute_sha256 else None
        if isinstance(obj, Mapping) and obj.get("format") == FORMAT_NAME:
            result = LoadedCheckpoint(format=FORMAT_NAME, source=path, sha256=sha)
            _load_ours(dict(obj), result, kind, device, dtype)
        elif isinstance(obj, Mapping) and any(k in obj for k in _OFFICIAL_KEYS):
            result = LoadedCheckpoint(format="official", source=path, sha256=sha, name=entry.name if entry else None)
            result.meta.update({k: obj[k] for k in ("epoch", "loss", "batch_size", "world_size", "lr") if k in obj and not isinstance(obj[k], torch.Tensor)})
            _load_official(dict(obj), result, entry, kind, device, dtype, encoder_key)
        elif isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            sd = strip_prefixes(obj)
            role = _role_from_keys(sd)
            if role is None:
                raise CheckpointError(f"{path}: a bare state dict of no known V-JEPA model; keys like {list(sd)[:5]}")
            result = LoadedCheckpoint(format="state_dict", source=path, sha256=sha)
            wrapped = {"predictor" if role in ("predictor", "ac_predictor") else ("classifiers" if role == "probe" else "encoder"): sd}
            _load_official(wrapped, result, entry, kind, device, dtype, None)
        else:
            keys = sorted(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
            raise CheckpointError(
                f"{path}: not a V-JEPA checkpoint: top-level {keys} has none of {list(_OFFICIAL_KEYS)} "
                f"and no 'format': '{FORMAT_NAME}'"
            )
    if kind is not None and not _has_role(result, kind):
        raise CheckpointError(f"{path}: holds no {kind} (found: {', '.join(_found_roles(result)) or 'nothing'})")
    return result


def _found_roles(result: LoadedCheckpoint) -> list[str]:
    found = [r for r in ("encoder", "predictor", "ac_predictor") if getattr(result, r) is not None]
    return found + (["probe"] if result.probes else [])


def _has_role(result: LoadedCheckpoint, kind: str) -> bool:
    return ("probe" if kind == "probes" else kind) in _found_roles(result)


# ----------------------------------------------------------------------------------------------- writing


def _role_entry(model: nn.Module, builder: str) -> dict[str, Any]:
    cfg = getattr(model, "config", None)
    if cfg is None or not hasattr(cfg, "to_dict"):
        raise TypeError(f"{type(model).__name__} has no `config`; only vjepa_bench models can be saved")
    return {
        "builder": builder,
        "config": cfg.to_dict(),
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
    }


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    encoder: VisionTransformer | None = None,
    ac_predictor: ACPredictor | None = None,
    predictor: MaskPredictor | None = None,
    probes: Sequence[AttentiveProbe] | AttentiveProbe | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write our self-describing checkpoint atomically (``fileio.write_atomic``; mode 0644 less the umask), with
    the sha256 of its weights in ``meta["weights_sha256"]``."""
    models: dict[str, Any] = {}
    if encoder is not None:
        models["encoder"] = _role_entry(encoder, "encoder")
    if ac_predictor is not None:
        models["ac_predictor"] = _role_entry(ac_predictor, "ac_predictor")
    if predictor is not None:
        models["predictor"] = _role_entry(predictor, "predictor")
    probe_list: Iterable[AttentiveProbe] = [probes] if isinstance(probes, AttentiveProbe) else (probes or [])
    for i, probe in enumerate(probe_list):
        models[f"probe_{i}"] = _role_entry(probe, "probe")
    if not models:
        raise ValueError("save_checkpoint needs at least one model")
    full_meta = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "torch": str(torch.__version__)}
    full_meta.update(dict(meta or {}))
    full_meta["weights_sha256"] = weights_sha256(models)
    payload = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "models": models, "meta": full_meta}
    return write_atomic(Path(path).expanduser(), lambda f: torch.save(payload, f))


def load_weights(model: nn.Module, path_or_name: str | os.PathLike[str], checkpoint_dir: str | os.PathLike[str] | None = None) -> nn.Module:
    """Load the matching weights of a checkpoint into an existing model (strict; clear errors on mismatch)."""
    role = {VisionTransformer: "encoder", MaskPredictor: "predictor", ACPredictor: "ac_predictor", AttentiveProbe: "probe"}.get(type(model))
    if role is None:
        raise TypeError(f"cannot load checkpoints into {type(model).__name__}")
    path = resolve_checkpoint(path_or_name, checkpoint_dir)
    if path.is_dir():
        loaded = load_checkpoint(path, kind=role, dtype=None, compute_sha256=False)
        src_model: nn.Module | None = loaded.probe if role == "probe" else getattr(loaded, role)
        assert src_model is not None
        sd = src_model.state_dict()
    else:
        obj = _read_torch_file(path)
        sd = _extract_state_dict(obj, role, path)
    check_state_dict(model, sd, str(path))
    model.load_state_dict(sd, strict=True)
    return model


def _extract_state_dict(obj: Any, role: str, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT_NAME:
        for name, entry in _verified_models(obj, str(path)).items():
            if entry.get("builder") == role:
                return dict(entry["state_dict"])
        raise CheckpointError(f"{path}: holds no {role} (roles: {sorted(obj.get('models') or {})})")
    if isinstance(obj, Mapping):
        if role == "encoder":
            for key in ("target_encoder", "encoder"):
                if key in obj:
                    return strip_prefixes(obj[key])
        if role in ("predictor", "ac_predictor") and "predictor" in obj:
            return strip_prefixes(obj["predictor"])
        if role == "probe" and "classifiers" in obj:
            heads = obj["classifiers"]
            return strip_prefixes(heads[0] if isinstance(heads, (list, tuple)) else heads)
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return strip_prefixes(obj)
    raise CheckpointError(f"{path}: no {role} weights found")
