"""Checkpoint loading and writing: format detection, strict loading with clear errors, our own format.

Formats read by :func:`load_checkpoint` (docs/conventions.md#checkpoints):

* official ``.pt`` files: pretrained (``target_encoder``/``encoder`` + ``predictor``), AC (``encoder`` + AC
  ``predictor``), probes (``classifiers``: a list of state dicts); ``module.``/``backbone.`` prefixes and a
  stray ``pos_embed`` are removed, configs are inferred from shapes (``shape_inference``);
* HuggingFace ``transformers`` VJEPA2 snapshots: a folder with ``config.json`` and ``model.safetensors``
  (or a sharded ``model.safetensors.index.json``);
* ours: ``{"format": "vjepa_bench", "version": 1, "models": {role: {"builder", "config", "state_dict"}},
  "meta": {...}}``, written atomically by :func:`save_checkpoint`; a file alone rebuilds its models, and
  ``meta["weights_sha256"]`` (``files.weights_sha256`` of its models) is checked when it is read.

Names of released files resolve through ``registry``; every file is read by ``files.read_torch_file``
(``weights_only=True``: a file that would run code is refused). Loaded weights must be finite and floating where
the model's are.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from vjepa_bench.fileio import file_sha256, write_atomic

from .ac_predictor import ACPredictor
from .encoder import VisionTransformer
from .errors import CheckpointError
from .files import read_safetensors, read_torch_file, strip_prefixes, weights_sha256
from .hf import configs_from_hf, hf_to_official
from .predictor import MaskPredictor
from .presets import ACPredictorConfig, EncoderConfig, PredictorConfig, ProbeConfig
from .probe import AttentiveProbe
from .registry import (
    OFFICIAL_CHECKPOINTS,
    OfficialCheckpoint,
    check_published_size,
    default_checkpoint_dir,
    official_entry,
    resolve_checkpoint,
)
from .shape_inference import (
    infer_ac_predictor_config,
    infer_encoder_config,
    infer_predictor_config,
    infer_probe_config,
    role_from_keys,
)

__all__ = [
    "OFFICIAL_CHECKPOINTS",
    "CheckpointError",
    "LoadedCheckpoint",
    "OfficialCheckpoint",
    "check_state_dict",
    "default_checkpoint_dir",
    "file_sha256",
    "load_checkpoint",
    "load_state_dict_strict",
    "load_weights",
    "official_entry",
    "resolve_checkpoint",
    "save_checkpoint",
]

FORMAT_NAME = "vjepa_bench"
FORMAT_VERSION = 1
ROLES = ("encoder", "predictor", "ac_predictor", "probe")


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
        role = role_from_keys(sd)
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
        raw.update(read_safetensors(f))
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
        obj = read_torch_file(path)
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
            role = role_from_keys(sd)
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


_ROLE_OF_MODEL: dict[type, str] = {
    VisionTransformer: "encoder", MaskPredictor: "predictor", ACPredictor: "ac_predictor", AttentiveProbe: "probe",
}


def load_weights(model: nn.Module, path_or_name: str | os.PathLike[str], checkpoint_dir: str | os.PathLike[str] | None = None) -> nn.Module:
    """Load the matching weights of a checkpoint into an existing model (strict; clear errors on mismatch)."""
    role = _ROLE_OF_MODEL.get(type(model))
    if role is None:
        raise TypeError(f"cannot load checkpoints into {type(model).__name__}")
    loaded = load_checkpoint(path_or_name, kind=role, checkpoint_dir=checkpoint_dir, dtype=None, compute_sha256=False)
    found = loaded.probe if role == "probe" else getattr(loaded, role)
    state_dict = found.state_dict()
    check_state_dict(model, state_dict, str(loaded.source))
    model.load_state_dict(state_dict, strict=True)
    return model
