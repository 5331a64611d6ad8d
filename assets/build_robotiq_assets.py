"""Regenerate the Robotiq 2F-85's visual meshes (``robotiq_*_vis.obj``) from an installed robosuite.

    python assets/build_robotiq_assets.py          # needs robosuite (MIT) and trimesh + fast-simplification

What it does, so that the result can be checked:
* copies robosuite's ``grippers/meshes/robotiq_85_gripper/robotiq_arg2f_base_link.stl`` untouched as
  ``robotiq_base.stl``: the hand's collision mesh (``hand_collision`` in ``robotiq_2f85.xml``);
* reads the base's mesh and the four ``robotiq_arg2f_85_*_vis.stl`` finger-link meshes and decimates each to
  ``KEEP_FRACTION`` of its triangles with ``build_panda_assets.decimate`` (vertices welded, quadric decimation), written as ``robotiq_{base,outer_knuckle,outer_finger,inner_finger,
  inner_knuckle}_vis.obj`` in the mesh's own units (``robotiq_2f85.xml`` scales the finger links from mm).

Why: the CAD meshes (15 774 triangles drawn for one hand) cost more vertex work than the whole arm on a CPU
rasteriser, in each of the three passes of a shadowed frame. At 20 % of the triangles the hand's silhouette moves by
well under a pixel at the envs' image sizes (``docs/measurements.md#rendering`` has the pixel count and the timing).
Nothing here runs at env time: the envs only load ``robotiq_2f85.xml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from build_panda_assets import decimate, load_mesh, robosuite_assets

OUT = Path(__file__).resolve().parent
KEEP_FRACTION = 0.2
VISUAL_MESHES = {
    "robotiq_base_vis": "robotiq_arg2f_base_link.stl",
    "robotiq_outer_knuckle_vis": "robotiq_arg2f_85_outer_knuckle_vis.stl",
    "robotiq_outer_finger_vis": "robotiq_arg2f_85_outer_finger_vis.stl",
    "robotiq_inner_finger_vis": "robotiq_arg2f_85_inner_finger_vis.stl",
    "robotiq_inner_knuckle_vis": "robotiq_arg2f_85_inner_knuckle_vis.stl",
}
"""Our visual mesh name -> robosuite's source file."""
COLLISION_MESHES = {"robotiq_base.stl": "robotiq_arg2f_base_link.stl"}


def build() -> None:
    source = robosuite_assets() / "grippers" / "meshes" / "robotiq_85_gripper"
    for ours, theirs in COLLISION_MESHES.items():
        shutil.copyfile(source / theirs, OUT / ours)
    for ours, theirs in VISUAL_MESHES.items():
        mesh = load_mesh(source / theirs)
        before = len(mesh.faces)
        small = decimate(mesh, KEEP_FRACTION)
        small.export(OUT / f"{ours}.obj")
        print(f"{ours}.obj: {before} -> {len(small.faces)} triangles")


if __name__ == "__main__":
    build()
