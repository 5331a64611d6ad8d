"""Image preprocessing of V-JEPA 2-AC (docs/conventions.md#preprocessing).

Training: the official random-resized-crop (scale 1.777, ratio 0.75-1.35) can never fit its area, so it always
falls back to a deterministic centre crop clamped to the aspect range; then bilinear resize (no antialias) to
``size x size`` and ImageNet normalisation. Deployment (the planner's frames): square centre crop, same resize and
normalisation.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MIN_ASPECT",
    "MAX_ASPECT",
    "train_crop_box",
    "square_crop_box",
    "preprocess_frames",
    "preprocess_train_frames",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_ASPECT = 0.75
MAX_ASPECT = 1.35
"""Width / height range of the training crop (``ratio`` of the official config)."""


def train_crop_box(
    height: int, width: int, min_aspect: float = MIN_ASPECT, max_aspect: float = MAX_ASPECT
) -> tuple[int, int, int, int]:
    """``(top, left, crop_height, crop_width)`` of the training crop: the whole frame when its aspect is within
    ``[min_aspect, max_aspect]``; else full height and width ``round(max_aspect * height)`` (too wide) or full width
    and height ``round(width / min_aspect)`` (too tall), centred. 1280x720 gives a 972x720 crop."""
    aspect = width / height
    crop_h, crop_w = height, width
    if aspect > max_aspect:
        crop_w = int(round(height * max_aspect))
    elif aspect < min_aspect:
        crop_h = int(round(width / min_aspect))
    return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def square_crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """``(top, left, side, side)`` of the centred square crop used at deployment."""
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def _as_nchw_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a numpy array or a torch tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {tuple(images.shape)}")
    return images.permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, H, W) in [0, 1]


def _crop_resize_normalise(x: torch.Tensor, box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    top, left, h, w = box
    x = x[:, :, top : top + h, left : left + w]
    if (h, w) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def preprocess_frames(images: np.ndarray | torch.Tensor, size: int = 256) -> torch.Tensor:
    """Deployment preprocessing: uint8 ``(N, H, W, 3)`` frames -> float32 ``(N, 3, size, size)``, square centre
    crop, bilinear resize (no antialias), ImageNet normalisation. A tensor input stays on its device."""
    x = _as_nchw_float(images)
    return _crop_resize_normalise(x, square_crop_box(x.shape[2], x.shape[3]), size)


def preprocess_train_frames(images: np.ndarray | torch.Tensor, size: int = 256) -> torch.Tensor:
    """Training preprocessing: as :func:`preprocess_frames` but with the aspect-clamped centre crop
    (:func:`train_crop_box`) instead of a square one."""
    x = _as_nchw_float(images)
    return _crop_resize_normalise(x, train_crop_box(x.shape[2], x.shape[3]), size)
