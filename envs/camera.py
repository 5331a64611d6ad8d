"""Camera rig: a camera pose on a sphere around the table centre, and ranges to randomise it at reset.

Convention (the paper's, docs/conventions.md#camera): the robot base is at the world origin facing +x, the table
centre in front of it.
Azimuth 0 deg puts the camera behind the robot base looking toward the table, 90 deg on the robot's left (+y),
180 deg across the table facing the robot. Elevation is measured up from the table plane. Roll turns the image
about the viewing axis (positive = counter-clockwise in the image). ``fovy_deg`` is MuJoCo's vertical field of view.

Default pose (close to DROID's left exterior camera, in the 35-85 deg azimuth band the paper studied): azimuth 65 deg,
elevation 25 deg, distance 0.85 m, look-at
(0.48, 0.0, 0.15), roll 0 deg, fovy 45 deg. Framed so that the objects cover about 30 x 30 px at 256 px and the
task workspace stays in view (tests/test_envs_view.py measures both).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

TABLE_CENTRE = (0.48, 0.0, 0.15)
"""Default look-at point (m, robot base frame): the middle of the robot's workspace on the table top."""
_RANGE_FIELDS = ("azimuth_deg", "elevation_deg", "distance", "roll_deg", "fovy_deg")


@dataclass(frozen=True)
class CameraPose:
    """A camera on a sphere of radius ``distance`` around ``lookat`` (angles in degrees)."""

    azimuth_deg: float = 65.0
    elevation_deg: float = 25.0
    distance: float = 0.85
    lookat: tuple[float, float, float] = TABLE_CENTRE
    roll_deg: float = 0.0
    fovy_deg: float = 45.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lookat", tuple(float(v) for v in self.lookat))
        if len(self.lookat) != 3:
            raise ValueError(f"lookat must have 3 coordinates, got {self.lookat}")
        for name in ("azimuth_deg", "elevation_deg", "distance", "roll_deg", "fovy_deg"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"camera {name} must be a finite number, got {getattr(self, name)}")
        if not np.all(np.isfinite(self.lookat)):
            raise ValueError(f"camera lookat must be finite, got {list(self.lookat)}")
        if self.distance <= 0:
            raise ValueError(f"distance must be positive, got {self.distance}")
        if not -90.0 < self.elevation_deg < 90.0:
            raise ValueError(f"elevation_deg must be in (-90, 90), got {self.elevation_deg}")
        if not 1.0 <= self.fovy_deg <= 170.0:
            raise ValueError(f"fovy_deg must be in [1, 170], got {self.fovy_deg}")

    @classmethod
    def from_any(cls, value: CameraPose | Mapping[str, Any] | None) -> CameraPose:
        """A pose from a ``CameraPose``, a dict of its fields (unknown keys are an error) or None (the default)."""
        if value is None:
            return cls()
        if isinstance(value, CameraPose):
            return value
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(value) - names
        if unknown:
            raise TypeError(f"unknown camera fields {sorted(unknown)}; expected some of {sorted(names)}")
        return cls(**{k: (tuple(v) if k == "lookat" else float(v)) for k, v in value.items()})

    def position(self) -> np.ndarray:
        """Camera position (m, world = robot base frame)."""
        az, el = np.radians(self.azimuth_deg), np.radians(self.elevation_deg)
        offset = np.array([-np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        return np.asarray(self.lookat) + self.distance * offset

    def quaternion(self) -> np.ndarray:
        """MuJoCo camera orientation (w, x, y, z): the camera looks along its -z axis with +y up in the image."""
        forward = np.asarray(self.lookat) - self.position()
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        roll = np.radians(self.roll_deg)
        # Rolling the camera counter-clockwise turns its axes clockwise about the viewing direction.
        x_axis = np.cos(roll) * right + np.sin(roll) * up
        y_axis = -np.sin(roll) * right + np.cos(roll) * up
        mat = np.stack([x_axis, y_axis, -forward], axis=1)
        return _mat_to_quat(mat)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields (the episode record's camera pose)."""
        out = dataclasses.asdict(self)
        out["lookat"] = list(self.lookat)
        return out


@dataclass(frozen=True)
class CameraRandomization:
    """Uniform ranges ``(low, high)`` sampled at every reset; each given range replaces that field of the base pose.

    ``lookat_offset`` is a per-axis half-width (m) added to the base pose's look-at point. Fields left ``None`` keep
    the base pose's value.
    """

    azimuth_deg: tuple[float, float] | None = None
    elevation_deg: tuple[float, float] | None = None
    distance: tuple[float, float] | None = None
    roll_deg: tuple[float, float] | None = None
    fovy_deg: tuple[float, float] | None = None
    lookat_offset: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        for name in _RANGE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                low, high = (float(v) for v in value)
                if not (np.isfinite(low) and np.isfinite(high)):
                    raise ValueError(f"camera_randomization {name} must be finite, got {value}")
                if low > high:
                    raise ValueError(f"{name} range must be (low, high), got {value}")
                object.__setattr__(self, name, (low, high))
        if self.lookat_offset is not None:
            object.__setattr__(self, "lookat_offset", tuple(float(v) for v in self.lookat_offset))
            if not np.all(np.isfinite(self.lookat_offset)):
                raise ValueError(f"camera_randomization lookat_offset must be finite, got {self.lookat_offset}")

    @classmethod
    def from_any(cls, value: CameraRandomization | Mapping[str, Any] | None) -> CameraRandomization | None:
        if value is None or isinstance(value, CameraRandomization):
            return value
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(value) - names
        if unknown:
            raise TypeError(f"unknown camera_randomization fields {sorted(unknown)}; expected some of {sorted(names)}")
        return cls(**{k: tuple(v) for k, v in value.items()})

    def sample(self, base: CameraPose, rng: np.random.Generator) -> CameraPose:
        """Draw a pose; always consumes the same number of random numbers, whatever is set."""
        draws = rng.uniform(size=len(_RANGE_FIELDS) + 3)
        values = {}
        for i, name in enumerate(_RANGE_FIELDS):
            bounds = getattr(self, name)
            if bounds is not None:
                values[name] = bounds[0] + (bounds[1] - bounds[0]) * draws[i]
        if self.lookat_offset is not None:
            half = np.asarray(self.lookat_offset)
            values["lookat"] = tuple(np.asarray(base.lookat) + half * (2.0 * draws[-3:] - 1.0))
        return dataclasses.replace(base, **values)


def _mat_to_quat(mat: np.ndarray) -> np.ndarray:
    import mujoco

    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(mat, dtype=np.float64).reshape(9))
    return quat
