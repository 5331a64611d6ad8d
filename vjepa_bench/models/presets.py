"""Model configurations: one dataclass and ONE preset table per model family.

Presets are overridden with ``dataclasses.replace``-style keyword arguments, so a misspelt option raises
``TypeError`` instead of being silently swallowed.  Configs are JSON-able (``to_dict`` / ``from_dict``) and
are stored inside our own checkpoints so that a file alone rebuilds its model; ``from_dict`` drops the
:data:`LEGACY_KEYS` that older files still hold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, TypeVar

_C = TypeVar("_C")


def _pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    h, w = v
    return (int(h), int(w))


LEGACY_KEYS: dict[str, tuple[str, ...]] = {
    "EncoderConfig": ("num_frames",),
    "ACPredictorConfig": ("num_frames", "tubelet_size"),
    "PredictorConfig": ("num_frames", "tubelet_size"),
}
"""Options that configs saved before they were removed still hold, by config class. None of them had an effect:
``num_frames`` was a nominal clip length (RoPE takes any), and a predictor's ``tubelet_size`` copied the encoder's
(the predictors work on tokens; the encoder's own ``tubelet_size`` stays). ``from_dict`` drops them, so the bundled
world model and every file written before keep loading."""


class _ConfigMixin:
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        out = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls: type[_C], data: Mapping[str, Any]) -> _C:
        """Inverse of ``to_dict``, also of older files (their :data:`LEGACY_KEYS` are dropped); unknown keys raise
        ``TypeError``."""
        legacy = LEGACY_KEYS.get(cls.__name__, ())
        return cls(**{k: v for k, v in data.items() if k not in legacy})

    def matches(self, saved: Mapping[str, Any]) -> bool:
        """Whether ``saved`` (a ``to_dict`` of any version, e.g. in a train state) describes this config."""
        try:
            return type(self).from_dict(saved) == self
        except (TypeError, ValueError):
            return False

    def replace(self: _C, **overrides: Any) -> _C:
        """Copy with some fields changed; an unknown field name raises ``TypeError``."""
        return dataclasses.replace(self, **overrides)  # type: ignore[type-var]


@dataclass(frozen=True)
class EncoderConfig(_ConfigMixin):
    """ViT video encoder (docs/conventions.md#encoder).  ``img_size`` is nominal: RoPE makes any input size work
    (T divisible by ``tubelet_size``, H and W by ``patch_size``)."""

    embed_dim: int
    depth: int
    num_heads: int
    mlp_hidden_dim: int
    patch_size: int = 16
    tubelet_size: int = 2
    in_chans: int = 3
    img_size: tuple[int, int] = (256, 256)
    qkv_bias: bool = True
    norm_eps: float = 1e-6
    tiled_rope: bool = True
    out_layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "img_size", _pair(self.img_size))
        if self.out_layers is not None:
            object.__setattr__(self, "out_layers", tuple(int(i) for i in self.out_layers))
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} not divisible by num_heads {self.num_heads}")

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def tokens_per_frame(self) -> int:
        """Tokens of one (duplicated) frame at the nominal ``img_size``."""
        return (self.img_size[0] // self.patch_size) * (self.img_size[1] // self.patch_size)


@dataclass(frozen=True)
class ACPredictorConfig(_ConfigMixin):
    """Action-conditioned predictor (docs/conventions.md#ac-predictor).  ``embed_dim`` is the encoder width it reads and writes;
    ``img_size / patch_size`` fixes the tokens per frame."""

    embed_dim: int
    predictor_embed_dim: int
    depth: int
    num_heads: int
    mlp_hidden_dim: int
    img_size: tuple[int, int] = (256, 256)
    patch_size: int = 16
    action_dim: int = 7
    state_dim: int = 7
    extrinsics_dim: int = 6
    qkv_bias: bool = True
    norm_eps: float = 1e-6
    tiled_rope: bool = True
    frame_causal: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "img_size", _pair(self.img_size))
        if self.predictor_embed_dim % self.num_heads:
            raise ValueError(f"predictor_embed_dim {self.predictor_embed_dim} not divisible by {self.num_heads}")

    @property
    def head_dim(self) -> int:
        return self.predictor_embed_dim // self.num_heads

    @property
    def grid(self) -> tuple[int, int]:
        return (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)

    @property
    def tokens_per_frame(self) -> int:
        rows, cols = self.grid
        return rows * cols


@dataclass(frozen=True)
class PredictorConfig(_ConfigMixin):
    """Mask-denoising predictor shipped with each pretrained checkpoint (docs/conventions.md#mask-predictor).
    RoPE positions come from token ids on the nominal grid ``img_size[0] / patch_size`` (square, as upstream)."""

    embed_dim: int
    predictor_embed_dim: int = 384
    depth: int = 12
    num_heads: int = 12
    mlp_hidden_dim: int = 1536
    num_mask_tokens: int = 10
    img_size: tuple[int, int] = (256, 256)
    patch_size: int = 16
    qkv_bias: bool = True
    norm_eps: float = 1e-6
    tiled_rope: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "img_size", _pair(self.img_size))

    @property
    def head_dim(self) -> int:
        return self.predictor_embed_dim // self.num_heads

    @property
    def grid_size(self) -> int:
        return self.img_size[0] // self.patch_size


@dataclass(frozen=True)
class ProbeConfig(_ConfigMixin):
    """Attentive probe (docs/conventions.md#probe): ``depth - 1`` self-attention blocks, one cross-attention block with
    ``num_queries`` learnable queries, then one linear head per query.  ``heads`` lists (attribute name,
    number of classes) in query order: ``(("linear", 174),)`` or the EK100 verb/noun/action triple."""

    embed_dim: int
    heads: tuple[tuple[str, int], ...]
    num_heads: int = 16
    depth: int = 4
    mlp_hidden_dim: int | None = None
    num_queries: int | None = None
    qkv_bias: bool = True
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        heads = tuple((str(n), int(c)) for n, c in self.heads)
        object.__setattr__(self, "heads", heads)
        if self.mlp_hidden_dim is None:
            object.__setattr__(self, "mlp_hidden_dim", 4 * self.embed_dim)
        if self.num_queries is None:
            object.__setattr__(self, "num_queries", len(heads))
        if len(heads) > 1 and len(heads) != self.num_queries:
            raise ValueError(f"{len(heads)} heads need as many queries, got num_queries={self.num_queries}")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["heads"] = [[n, c] for n, c in self.heads]
        return out


def _mlp(dim: int, ratio: float = 4.0) -> int:
    return int(dim * ratio)


ENCODER_PRESETS: dict[str, EncoderConfig] = {
    # small presets for CPU work (trained later into a bundled world model)
    "vit_tiny": EncoderConfig(192, 6, 3, _mlp(192), img_size=64),
    "vit_small": EncoderConfig(384, 6, 6, _mlp(384), img_size=128),
    # released V-JEPA 2 encoders (docs/conventions.md#encoder)
    "vit_large": EncoderConfig(1024, 24, 16, _mlp(1024)),
    "vit_huge": EncoderConfig(1280, 32, 16, _mlp(1280)),
    "vit_giant": EncoderConfig(1408, 40, 22, _mlp(1408, 48 / 11)),  # upstream `vit_giant_xformers`
    "vit_giant_384": EncoderConfig(1408, 40, 22, _mlp(1408, 48 / 11), img_size=384),
}
ENCODER_ALIASES: dict[str, str] = {"vit_giant_xformers": "vit_giant", "vitl": "vit_large", "vith": "vit_huge",
                                   "vitg": "vit_giant", "vitg-384": "vit_giant_384"}

AC_PREDICTOR_PRESETS: dict[str, ACPredictorConfig] = {
    "ac_tiny": ACPredictorConfig(192, 192, 4, 3, _mlp(192), img_size=64),
    "ac_small": ACPredictorConfig(384, 384, 6, 6, _mlp(384), img_size=128),
    "vjepa2_ac_vitg": ACPredictorConfig(1408, 1024, 24, 16, _mlp(1024)),
}

PREDICTOR_PRESETS: dict[str, PredictorConfig] = {
    "predictor_tiny": PredictorConfig(192, 96, 2, 3, _mlp(96), num_mask_tokens=2, img_size=64),
    "vjepa2_vitl": PredictorConfig(1024),
    "vjepa2_vith": PredictorConfig(1280),
    "vjepa2_vitg": PredictorConfig(1408),
    "vjepa2_vitg_384": PredictorConfig(1408, img_size=384),
}

PROBE_PRESETS: dict[str, ProbeConfig] = {
    "probe_tiny": ProbeConfig(192, (("linear", 10),), num_heads=3, depth=2),
    "ssv2_vitl": ProbeConfig(1024, (("linear", 174),)),
    "ssv2_vitg": ProbeConfig(1408, (("linear", 174),)),
    "diving48_vitl": ProbeConfig(1024, (("linear", 48),)),
    "diving48_vitg": ProbeConfig(1408, (("linear", 48),)),
    "ek100_vitl": ProbeConfig(1024, (("verb_classifier", 97), ("noun_classifier", 300), ("action_classifier", 3568))),
    "ek100_vitg": ProbeConfig(1408, (("verb_classifier", 97), ("noun_classifier", 300), ("action_classifier", 3568))),
}


def _lookup(table: dict[str, _C], name: str, family: str, aliases: dict[str, str] | None = None) -> _C:
    key = (aliases or {}).get(name, name)
    if key not in table:
        raise KeyError(f"unknown {family} preset {name!r}; known: {sorted(table)}")
    return table[key]


def encoder_config(name: str, **overrides: Any) -> EncoderConfig:
    """Preset ``name`` with ``overrides`` applied (unknown option -> ``TypeError``)."""
    return _lookup(ENCODER_PRESETS, name, "encoder", ENCODER_ALIASES).replace(**overrides)


def ac_predictor_config(name: str, **overrides: Any) -> ACPredictorConfig:
    """AC predictor preset with overrides (e.g. ``embed_dim`` to match an encoder)."""
    return _lookup(AC_PREDICTOR_PRESETS, name, "AC predictor").replace(**overrides)


def predictor_config(name: str, **overrides: Any) -> PredictorConfig:
    """Mask-denoising predictor preset with overrides."""
    return _lookup(PREDICTOR_PRESETS, name, "predictor").replace(**overrides)


def probe_config(name: str, **overrides: Any) -> ProbeConfig:
    """Attentive probe preset with overrides."""
    return _lookup(PROBE_PRESETS, name, "probe").replace(**overrides)
