"""Camera adapters: Intel RealSense, Stereolabs ZED, any OpenCV / V4L2 device, and a replay of recorded frames.

All return RGB ``uint8`` frames with a monotonic timestamp; :func:`square_resize` turns one into the square
observation the sim renders (centre crop, then an area-averaging resize). Optional packages are imported when a
camera starts: ``pyrealsense2`` (``pip install -e ".[realsense]"``, needs ``libusb-1.0-0``), ``pyzed.sl`` (from
the ZED SDK installer, never the unrelated PyPI ``pyzed``), ``cv2`` (``pip install opencv-python-headless``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from vjepa_bench.data.video import read_video
from vjepa_bench.envs.real.interface import CameraAdapter, CameraTimeout, Frame
from vjepa_bench.errors import UsageError

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


def square_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop ``(H, W, 3)`` to a square and resize it to ``(size, size, 3)`` uint8."""
    rgb = np.asarray(rgb)
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = np.ascontiguousarray(rgb[top:top + side, left:left + side, :3], dtype=np.uint8)
    if side == size:
        return crop
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BOX))


class ReplayCamera(CameraAdapter):
    """Plays a video file or a folder of image frames (sorted by name), one frame per read; loops at the end."""

    name = "replay"

    def __init__(self, path: str, loop: bool = True) -> None:
        self.path = Path(path).expanduser()
        self.loop = loop
        self._frames: list[np.ndarray] = []
        self._next = 0

    def start(self) -> None:
        if self._frames:
            return
        if not self.path.exists():
            raise UsageError(f"camera_device.path={self.path}: no such file or folder (a video or a folder of "
                             f"{'/'.join(FRAME_SUFFIXES)} frames)")
        if self.path.is_dir():
            files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
            self._frames = [np.asarray(Image.open(p).convert("RGB")) for p in files]
        elif self.path.suffix.lower() in VIDEO_SUFFIXES:
            try:
                self._frames = list(read_video(self.path)[0])
            except OSError as error:  # read_video's decoder failures name the file
                raise UsageError(f"camera_device.path={self.path}: cannot decode the video ({error})") from None
        else:
            raise UsageError(f"camera_device.path={self.path}: expected a video ({'/'.join(VIDEO_SUFFIXES)}) "
                             "or a folder of frames")
        if not self._frames:
            raise UsageError(f"camera_device.path={self.path}: holds no frames")

    def read(self, timeout_s: float = 2.0) -> Frame:
        if self._next >= len(self._frames):
            if not self.loop:
                raise CameraTimeout(f"replay {self.path}: all {len(self._frames)} frames played")
            self._next = 0
        frame = self._frames[self._next]
        self._next += 1
        return Frame(frame, time.monotonic_ns())

    def stop(self) -> None:
        pass


class RealSenseCamera(CameraAdapter):
    """An Intel RealSense colour stream (``serial`` picks one of several cameras)."""

    name = "realsense"

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30, serial: str | None = None) -> None:
        self.width, self.height, self.fps, self.serial = width, height, fps, serial
        self._pipeline = None

    def start(self) -> None:
        if self._pipeline is not None:
            return
        try:
            import pyrealsense2 as rs
        except ImportError as error:
            raise UsageError(f"camera_device=realsense needs pyrealsense2 ({error}): pip install -e \".[realsense]\" "
                             "and apt-get install libusb-1.0-0") from None
        config = rs.config()
        if self.serial:
            config.enable_device(str(self.serial))
        config.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, self.fps)
        pipeline = rs.pipeline()
        try:
            pipeline.start(config)
        except RuntimeError as error:
            raise UsageError(f"camera_device=realsense: {error}; check the USB 3 cable, camera_device.serial and "
                             f"that {self.width}x{self.height}@{self.fps} is a supported colour mode") from None
        self._pipeline = pipeline

    def read(self, timeout_s: float = 2.0) -> Frame:
        try:
            frames = self._pipeline.wait_for_frames(int(timeout_s * 1000))
        except RuntimeError as error:
            raise CameraTimeout(f"realsense: {error}") from error
        return Frame(np.asanyarray(frames.get_color_frame().get_data()).copy(), time.monotonic_ns())

    def stop(self) -> None:
        if self._pipeline is not None:
            self._pipeline.stop()
            self._pipeline = None


class ZedCamera(CameraAdapter):
    """A Stereolabs ZED's left view (``pyzed.sl`` from the ZED SDK; frames come as BGRA and are converted)."""

    name = "zed"

    def __init__(self, resolution: str = "HD720", fps: int = 30, serial: int | None = None) -> None:
        self.resolution, self.fps, self.serial = resolution, fps, serial
        self._camera = None

    def start(self) -> None:
        if self._camera is not None:
            return
        try:
            import pyzed.sl as sl
        except ImportError as error:
            raise UsageError(f"camera_device=zed needs pyzed.sl ({error}): install the ZED SDK, then its Python API "
                             "(get_python_api.py); the PyPI package 'pyzed' is unrelated") from None
        params = sl.InitParameters(camera_resolution=getattr(sl.RESOLUTION, self.resolution), camera_fps=self.fps)
        if self.serial is not None:
            params.set_from_serial_number(int(self.serial))
        camera = sl.Camera()
        status = camera.open(params)
        if status != sl.ERROR_CODE.SUCCESS:
            raise UsageError(f"camera_device=zed: cannot open the camera ({status}); check the cable and "
                             "camera_device.serial")
        self._sl, self._camera, self._mat = sl, camera, sl.Mat()

    def read(self, timeout_s: float = 2.0) -> Frame:
        sl = self._sl
        deadline = time.monotonic() + timeout_s
        while self._camera.grab() != sl.ERROR_CODE.SUCCESS:
            if time.monotonic() > deadline:
                raise CameraTimeout(f"zed: no frame within {timeout_s} s")
        self._camera.retrieve_image(self._mat, sl.VIEW.LEFT)
        bgra = self._mat.get_data()
        return Frame(np.ascontiguousarray(bgra[..., [2, 1, 0]]), time.monotonic_ns())

    def stop(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None


class OpenCVCamera(CameraAdapter):
    """Any camera OpenCV opens: a V4L2 device index or path (``/dev/video0``), or a stream URL."""

    name = "opencv"

    def __init__(self, device: int | str = 0, width: int | None = None, height: int | None = None) -> None:
        self.device, self.width, self.height = device, width, height
        self._capture = None

    def start(self) -> None:
        if self._capture is not None:
            return
        try:
            import cv2
        except ImportError as error:
            raise UsageError(f"camera_device=opencv needs OpenCV ({error}): pip install opencv-python-headless") from None
        capture = cv2.VideoCapture(self.device)
        if self.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if not capture.isOpened():
            raise UsageError(f"camera_device.device={self.device!r}: OpenCV cannot open it; check that the camera "
                             "is plugged in (ls /dev/video*) and not used by another program")
        self._cv2, self._capture = cv2, capture

    def read(self, timeout_s: float = 2.0) -> Frame:
        ok, bgr = self._capture.read()
        if not ok:
            raise CameraTimeout(f"opencv {self.device!r}: no frame")
        return Frame(self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB), time.monotonic_ns())

    def stop(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
