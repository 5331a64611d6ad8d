"""Frozen-encoder feature cache for AC training.

The AC predictor reads each frame encoded on its own as a duplicated 2-frame tubelet (docs/conventions.md#encoder), so the
features of a frame do not depend on its clip: a dataset is encoded once and clips are cut from the cache.
The cache stores the raw encoder output (before the parameter-free layer norm, which the loss applies) in
float16, with the states and stored actions, and is keyed by the encoder weights, image size and the bytes of
the store files it came from (in order), so a cache of a rewritten store is rebuilt rather than reused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vjepa_bench.data.clips import ClipWindows, TrajectorySource, clip_actions
from vjepa_bench.data.store import shard_paths
from vjepa_bench.data.transforms import preprocess_train_frames
from vjepa_bench.models import inference_autocast
from vjepa_bench.models.checkpoints import file_sha256
from vjepa_bench.training.runtime import save_state


def module_digest(module: nn.Module) -> str:
    """sha256 of a module's state dict (names, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def encode_source(
    encoder: nn.Module,
    source: TrajectorySource,
    image_size: int,
    device: torch.device,
    batch_frames: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Encode every frame of every trajectory: ``features`` list of float16 ``(L, P, D)``, ``states`` list of
    float32 ``(L, 7)``, ``actions`` list of float32 ``(L-1, 7)`` (as stored)."""
    encoder.eval()
    feats, states, actions = [], [], []
    lengths = source.lengths()
    for i in tqdm(range(len(source)), desc="encode frames", disable=not progress, unit="traj"):
        length = lengths[i]
        images, st, ac = source.window(i, 0, length)
        chunks = []
        for lo in range(0, length, batch_frames):
            x = preprocess_train_frames(images[lo : lo + batch_frames], image_size).to(device)  # (n, 3, S, S)
            with inference_autocast(device):
                chunks.append(encoder.encode_image(x).float().to(torch.float16).cpu())  # (n, P, D)
        feats.append(torch.cat(chunks))
        states.append(torch.from_numpy(np.asarray(st, np.float32)))
        actions.append(torch.from_numpy(np.asarray(ac, np.float32)))
    return {"features": feats, "states": states, "actions": actions}


def store_files(stores: list[str]) -> list[Path]:
    """The shard files a reader of ``stores`` reads, in its order."""
    return [f for s in stores for f in (shard_paths(s) if Path(s).is_dir() else [Path(s)])]


def cache_key(encoder: nn.Module, image_size: int, stores: list[str]) -> str:
    """sha256 over the encoder weights, ``image_size`` and the content of every store file, in reading order."""
    digest = hashlib.sha256()
    digest.update(module_digest(encoder).encode())
    digest.update(f"{image_size}".encode())
    for path in store_files(stores):
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def load_or_build_cache(
    path: Path,
    encoder: nn.Module,
    source: TrajectorySource,
    stores: list[str],
    image_size: int,
    device: torch.device,
    progress: bool = True,
) -> dict[str, Any]:
    """The cache at ``path`` if its key matches, else encode ``source`` and write it (atomically)."""
    key = cache_key(encoder, image_size, stores)
    if path.is_file():
        cache = torch.load(path, map_location="cpu", weights_only=True)
        if cache.get("key") == key:
            return cache
    cache = encode_source(encoder, source, image_size, device, progress=progress)
    cache["key"] = key
    save_state(cache, path)
    return cache


class FeatureClipDataset(torch.utils.data.Dataset):
    """Clips cut from a feature cache, windows and actions as :class:`vjepa_bench.data.clips.ClipDataset` (one
    :class:`~vjepa_bench.data.clips.ClipWindows` rule): item ``k`` is a window of trajectory ``indices[k]`` with
    ``features`` float32 ``(T*P, D)``, ``states`` ``(T, 7)``, ``actions`` ``(T-1, 7)``. ``fixed=True`` takes the
    middle window of each trajectory (validation)."""

    def __init__(
        self,
        cache: dict[str, Any],
        indices: list[int],
        frames_per_clip: int,
        actions: str = "from_states",
        seed: int = 0,
        fixed: bool = False,
    ) -> None:
        self.cache = cache
        self.frames_per_clip = int(frames_per_clip)
        self.indices = [i for i in indices if len(cache["states"][i]) >= self.frames_per_clip]
        if not self.indices:
            raise ValueError(f"no trajectory has {frames_per_clip} frames or more")
        self.actions = actions
        self.windows = ClipWindows([len(cache["states"][i]) for i in self.indices], self.frames_per_clip, seed, fixed)

    def set_epoch(self, epoch: int) -> None:
        self.windows.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i, start = self.indices[k], self.windows.start(k)
        stop = start + self.frames_per_clip
        feats = self.cache["features"][i][start:stop].float()  # (T, P, D)
        states = self.cache["states"][i][start:stop]
        stored = self.cache["actions"][i][start : stop - 1]
        actions = torch.from_numpy(clip_actions(states.numpy(), stored.numpy(), self.actions))
        return {"features": feats.flatten(0, 1), "states": states, "actions": actions}
