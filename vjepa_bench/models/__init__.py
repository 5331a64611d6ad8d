"""V-JEPA 2 models in our own PyTorch: encoder, AC predictor, mask-denoising predictor, attentive probe,
and checkpoint I/O (official ``.pt``, HF snapshots, our own format).  Conventions: docs/conventions.md."""

from __future__ import annotations

from .ac_predictor import ACPredictor, build_ac_predictor
from .checkpoints import LoadedCheckpoint, load_checkpoint, load_weights, save_checkpoint
from .encoder import VisionTransformer, build_encoder
from .errors import CheckpointError
from .flops import ac_predictor_flops, encoder_flops
from .inference import inference_autocast, layer_norm_features
from .predictor import MaskPredictor, build_predictor
from .presets import ACPredictorConfig, EncoderConfig, PredictorConfig, ProbeConfig
from .probe import AttentiveProbe, build_probe
from .registry import OFFICIAL_CHECKPOINTS, default_checkpoint_dir, resolve_checkpoint
from .world_model import check_world_model

__all__ = [
    "ACPredictor",
    "ACPredictorConfig",
    "AttentiveProbe",
    "CheckpointError",
    "EncoderConfig",
    "LoadedCheckpoint",
    "MaskPredictor",
    "OFFICIAL_CHECKPOINTS",
    "PredictorConfig",
    "ProbeConfig",
    "VisionTransformer",
    "ac_predictor_flops",
    "build_ac_predictor",
    "build_encoder",
    "build_predictor",
    "build_probe",
    "check_world_model",
    "default_checkpoint_dir",
    "encoder_flops",
    "inference_autocast",
    "layer_norm_features",
    "load_checkpoint",
    "load_weights",
    "resolve_checkpoint",
    "save_checkpoint",
]
