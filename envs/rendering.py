"""Headless rendering: GL backend choice and one lean offscreen renderer per env.

Backend: ``MUJOCO_GL`` if set; otherwise EGL, then OSMesa (``PYOPENGL_PLATFORM``'s first if it names one), each
probed once per process in a short subprocess (PyOpenGL binds to one platform per process, so a failed in-process
attempt could not fall back). The choice is written back to ``MUJOCO_GL`` so that vector-env workers inherit it. If
none works, a ``RuntimeError`` says what to install.

Measured cost of the shadow (256 x 256 frame, llvmpipe, the 2-core dev VM, quiet, CPU time per frame): 4.0 ms
without; 10.2 ms with a 128, 256 or 512 px shadow map; 13.7 ms at 1024; 23 ms at 2048. MuJoCo renders a
shadow-casting light in extra passes, so the cost is mostly vertex work, not map size: 512 costs the same as 256 and
looks less blocky. Whole env step: 7.7 ms without shadows, 13 ms with (130 vs 77 steps/s).

Lean settings (measured as docs/measurements.md#rendering describes; llvmpipe is vertex-bound and pays a fixed cost
per shadow map and per MSAA resolve): no multisampling (``offsamples=0``), offscreen buffer = image size, no
reflections or skybox, one directional light with a small (``SHADOW_SIZE``) shadow map: a cheap shadow under the
gripper and the object helps to judge height; ``shadows=False`` removes it. ``LP_NUM_THREADS`` defaults to 0
(llvmpipe renders on the calling thread).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import weakref

import mujoco
import numpy as np

SHADOW_SIZE = 512
BACKENDS = ("egl", "osmesa")
_PROBE = (
    "import os, sys; os.environ['MUJOCO_GL'] = sys.argv[1]; os.environ.setdefault('PYOPENGL_PLATFORM', sys.argv[1]);"
    "import mujoco; ctx = mujoco.GLContext(8, 8); ctx.make_current(); ctx.free()"
)
_chosen: str | None = None
_live: "weakref.WeakSet[Renderer]" = weakref.WeakSet()
_atexit_registered = False


def _close_all() -> None:
    """Free GL contexts before the GL libraries tear themselves down at exit (avoids EGL errors in __del__)."""
    for renderer in list(_live):
        renderer.close()


def select_gl_backend() -> str:
    """The GL backend this process renders with (see the module docstring)."""
    global _chosen
    if _chosen is not None:
        return _chosen
    requested = os.environ.get("MUJOCO_GL", "").strip().lower()
    if requested:
        _chosen = requested
        return _chosen
    errors = []
    platform = os.environ.get("PYOPENGL_PLATFORM", "").strip().lower()
    order = [platform] + [b for b in BACKENDS if b != platform] if platform in BACKENDS else list(BACKENDS)
    for backend in order:
        env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
        result = subprocess.run([sys.executable, "-c", _PROBE, backend], env=env, capture_output=True, text=True,
                                timeout=120)
        if result.returncode == 0:
            os.environ["MUJOCO_GL"] = backend
            _chosen = backend
            return backend
        errors.append(f"{backend}: {result.stderr.strip().splitlines()[-1:] or ['failed']}")
    raise RuntimeError(
        "no headless MuJoCo GL backend works here (" + "; ".join(errors) + "). Install EGL (libegl1, a Mesa or NVIDIA "
        "driver) or OSMesa (libosmesa6), or set MUJOCO_GL to a backend that works (egl, osmesa, glfw)."
    )


def _gl_context_class(backend: str):
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    elif backend in ("glfw", "glx", "enable", "1", "true", "on"):
        from mujoco.glfw import GLContext
    else:
        raise RuntimeError(f"MUJOCO_GL={backend!r} cannot render offscreen; use egl or osmesa")
    return GLContext


class Renderer:
    """One offscreen GL context + scene for a compiled model; renders RGB frames from a named camera.

    Lean settings must already be in the model (``offsamples``, ``offwidth/offheight``, ``shadowsize``): they are read
    when the GL context is made. ``shadows`` toggles the shadow pass per frame.
    """

    def __init__(self, model: mujoco.MjModel, height: int, width: int, shadows: bool = True, max_geom: int = 500):
        backend = select_gl_backend()
        # Mesa llvmpipe: rasterise on the calling thread (fastest per process at these sizes, see
        # docs/measurements.md#rendering; scale out with one env per process instead). Only a default, and only read
        # when the first GL context is made.
        os.environ.setdefault("LP_NUM_THREADS", "0")
        if width > model.vis.global_.offwidth or height > model.vis.global_.offheight:
            raise ValueError(f"image {width}x{height} exceeds the model's offscreen buffer")
        self.height, self.width = height, width
        self._gl = _gl_context_class(backend)(width, height)
        global _atexit_registered
        if not _atexit_registered:  # after the backend's own hook (made with its first context): ours runs first
            atexit.register(_close_all)
            _atexit_registered = True
        self._gl.make_current()
        self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._scene = mujoco.MjvScene(model, maxgeom=max_geom)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = 0
        self._option.geomgroup[:3] = 1  # groups 0-2 visible; 3 (collision-only shapes) and up hidden
        self._option.sitegroup[:] = 0
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._viewport = mujoco.MjrRect(0, 0, width, height)
        self._pixels = np.empty((height, width, 3), np.uint8)
        self._model = model
        _live.add(self)

    def render(self, data: mujoco.MjData, camera_id: int) -> np.ndarray:
        """A fresh uint8 (H, W, 3) image, top row first. ``data``'s camera poses must be current (``mj_camlight``)."""
        self._gl.make_current()
        self._camera.fixedcamid = camera_id
        mujoco.mjv_updateScene(self._model, data, self._option, None, self._camera, mujoco.mjtCatBit.mjCAT_ALL,
                               self._scene)
        mujoco.mjr_render(self._viewport, self._scene, self._context)
        mujoco.mjr_readPixels(self._pixels, None, self._viewport, self._context)
        return np.flipud(self._pixels).copy()

    def close(self) -> None:
        """Free this renderer's GL objects and context. Its own context is made current first: ``MjrContext.free``
        frees the objects of whatever context is current, which would otherwise be another env's."""
        if getattr(self, "_gl", None) is not None:
            self._gl.make_current()
            self._context.free()
            self._gl.free()
            self._gl = None
            _live.discard(self)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn GL down already
            pass
