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

Ground planes stay out of the shadow map (``ground_geoms``). MuJoCo draws every geom into the light's depth map, and
the floor covers all of it; but with the light pointing down and the camera above the floor, nothing the camera sees
lies below the floor, so the floor's depth in the map can shade nothing but the floor itself.
Leaving it out renders the same pixels at every view the configs use (tested at the camera sweep's azimuths and the
random camera's extremes) and saved 1.0 ms of a 14.8 ms pick-and-place frame (300 frames interleaved in one process).
From far away, where the floor under the table shows, it also removes specks of shadow acne there (308 of 65 536
pixels differed in a frame from 2.5 m).
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
    when the GL context is made. ``shadows`` toggles the shadow pass per frame. ``ground_geoms``: ids of ground planes,
    drawn as usual but left out of the shadow map (see the module docstring).
    """

    def __init__(self, model: mujoco.MjModel, height: int, width: int, shadows: bool = True, max_geom: int = 500,
                 ground_geoms: tuple[int, ...] = ()):
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
        self._ground_geoms = frozenset(ground_geoms)
        self._ground_slots: list[int] = []
        _live.add(self)

    def render(self, data: mujoco.MjData, camera_id: int) -> np.ndarray:
        """A fresh uint8 (H, W, 3) image, top row first. ``data``'s camera poses must be current (``mj_camlight``)."""
        self._gl.make_current()
        self._camera.fixedcamid = camera_id
        mujoco.mjv_updateScene(self._model, data, self._option, None, self._camera, mujoco.mjtCatBit.mjCAT_ALL,
                               self._scene)
        self._keep_ground_out_of_shadow_map()
        mujoco.mjr_render(self._viewport, self._scene, self._context)
        mujoco.mjr_readPixels(self._pixels, None, self._viewport, self._context)
        return np.flipud(self._pixels).copy()

    def _keep_ground_out_of_shadow_map(self) -> None:
        """Mark the ground planes' scene geoms as decoration, which ``mjr_render`` leaves out of the shadow map and
        draws as usual otherwise. Their slots in the scene are found once and checked on every frame."""
        geoms = self._scene.geoms
        if any(geoms[slot].objid not in self._ground_geoms for slot in self._ground_slots):
            self._ground_slots = []
        if not self._ground_slots and self._ground_geoms:
            self._ground_slots = [i for i in range(self._scene.ngeom) if geoms[i].objtype == mujoco.mjtObj.mjOBJ_GEOM
                                  and geoms[i].objid in self._ground_geoms]
        for slot in self._ground_slots:
            geoms[slot].category = mujoco.mjtCatBit.mjCAT_DECOR

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
