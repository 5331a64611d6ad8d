"""Whether an encoder and an AC predictor form one world model: the predictor reads and writes the encoder's
features, so their widths and patch sizes must agree."""

from __future__ import annotations

from torch import nn

from vjepa_bench.errors import UsageError

_SHARED = ("embed_dim", "patch_size")


def check_world_model(encoder: nn.Module, predictor: nn.Module, source: str) -> None:
    """Raise a one-line UsageError naming ``source`` when ``predictor`` cannot read ``encoder``'s features."""
    enc, pred = encoder.config, predictor.config
    wrong = [f"{name} {getattr(enc, name)} vs {getattr(pred, name)}" for name in _SHARED
             if getattr(enc, name) != getattr(pred, name)]  # fmt: skip
    if wrong:
        raise UsageError(
            f"{source}: the encoder and the AC predictor do not fit ({', '.join(wrong)}, encoder vs predictor); "
            "pair the predictor with the encoder it was trained on"
        )
