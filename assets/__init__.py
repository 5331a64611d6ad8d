"""Bundled assets: MJCF scene parts, decimated Panda meshes, small checkpoints."""

from importlib.resources import files
from pathlib import Path


def asset_path(*parts: str) -> Path:
    """Absolute path of a bundled asset, e.g. ``asset_path("panda", "robot.xml")``."""
    return Path(str(files(__name__).joinpath(*parts)))
