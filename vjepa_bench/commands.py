"""Helpers shared by the Hydra commands: turning config nodes into plain values and env keyword arguments."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def plain(node: Any) -> Any:
    """A resolved plain-Python copy of a config node (``None`` stays ``None``)."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def env_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """``gym.make`` kwargs from the ``env`` and ``camera`` groups; unset camera fields keep the env's defaults."""
    kwargs = dict(plain(cfg.env.kwargs) or {})
    pose = {k: v for k, v in (plain(cfg.camera.pose) or {}).items() if v is not None}
    if pose:
        kwargs["camera"] = pose
    if cfg.camera.randomization is not None:
        kwargs["camera_randomization"] = plain(cfg.camera.randomization)
    return kwargs
