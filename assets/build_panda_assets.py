"""Regenerate the vendored Panda arm + hand (``panda.xml`` and ``panda_*.obj|stl``) from an installed robosuite.

    python assets/build_panda_assets.py            # needs robosuite (MIT) and trimesh + fast-simplification

What it does, so that the result can be checked:
* reads robosuite's ``robots/panda/robot.xml`` and ``grippers/panda_gripper.xml`` (kinematics, inertias, collision
  meshes, materials) with ``mujoco.MjSpec``;
* per arm link, merges the visual sub-meshes that share a colour into one mesh (``trimesh`` ``merge_vertices``)
  and decimates it with ``fast_simplification`` (quadric decimation) to ~7 % of its triangles (small parts are
  kept as they are); hand and finger visuals are decimated the same way; collision meshes are copied untouched;
* replaces robosuite's torque motors by joint position actuators (gravity compensation on every robot body does the
  holding) and writes one flat MJCF, ``panda.xml``, whose mesh files sit next to it (the assets folder is flat).

Nothing here runs at env time: the envs only load ``panda.xml``.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import fast_simplification
import mujoco
import numpy as np
import trimesh

OUT = Path(__file__).resolve().parent
KEEP_FRACTION = 0.07
MIN_FACES = 400
"""Meshes with fewer faces than this are not decimated."""

# Joint position servos (N m / rad and N m s / rad) per joint: stiff enough to track 7.5 cm per 0.25 s within ~1 cm.
KP = [6000.0, 6000.0, 6000.0, 5000.0, 2000.0, 2000.0, 1500.0]
KV = [230.0, 250.0, 210.0, 185.0, 70.0, 63.0, 42.0]
"""About critically damped at the home posture (kv = 2 sqrt(kp M_ii), M from robosuite's inertias)."""
FORCE = [250.0, 250.0, 250.0, 250.0, 60.0, 60.0, 60.0]
"""Servo torque limits (N m). Above the real Panda's 87 / 12 N m because robosuite's link inertias are inflated
(0.05-0.4 kg m^2, for stability); with the real limits a 7.5 cm step lags by several cm."""
FINGER_DAMPING = 40.0
FINGER_ARMATURE = 0.5
COLLISION_GROUP = 3
"""Collision-only geoms go to group 3, which the envs' renderer hides (they would z-fight with the visuals)."""
HOME = [0.0, -0.35, 0.0, -2.35, 0.0, 2.0, 0.785]


def robosuite_assets() -> Path:
    """robosuite's ``models/assets`` folder (``build_robotiq_assets.py`` reads it too)."""
    import importlib.util

    spec = importlib.util.find_spec("robosuite")
    if spec is None or spec.origin is None:
        raise SystemExit("robosuite is needed to rebuild the vendored assets: pip install robosuite==1.5.2")
    return Path(spec.origin).parent / "models" / "assets"


def decimate(mesh: trimesh.Trimesh, keep_fraction: float = KEEP_FRACTION) -> trimesh.Trimesh:
    """``mesh`` with duplicate vertices welded, quadric-decimated to ``keep_fraction`` of its triangles (meshes under
    ``MIN_FACES`` are kept as they are). ``build_robotiq_assets.py`` uses it too."""
    mesh.merge_vertices()
    if len(mesh.faces) < MIN_FACES:
        return mesh
    points, faces = fast_simplification.simplify(
        np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int32), target_reduction=1.0 - keep_fraction
    )
    return trimesh.Trimesh(points, faces, process=True)


def load_mesh(path: Path) -> trimesh.Trimesh:
    """The mesh file at ``path`` as it is stored (no vertex merging or other processing)."""
    loaded = trimesh.load(path, force="mesh", process=False)
    return trimesh.Trimesh(loaded.vertices, loaded.faces, process=False)


def _color_name(rgba: np.ndarray) -> str:
    return "c" + "".join(f"{int(round(255 * c)):02x}" for c in rgba[:3])


def build() -> None:
    src = robosuite_assets()
    arm_file = src / "robots" / "panda" / "robot.xml"
    grip_file = src / "grippers" / "panda_gripper.xml"
    arm = mujoco.MjSpec.from_file(str(arm_file))
    grip = mujoco.MjSpec.from_file(str(grip_file))
    materials = {m.name: np.array(m.rgba) for m in arm.materials}
    mesh_files = {m.name: m.file for m in arm.meshes}
    triangles = {"before": 0, "after": 0}

    # Arm: merge visual sub-meshes per (link, colour), decimate, write OBJ; drop the old visual geoms.
    for body in arm.bodies:
        groups: dict[str, list[trimesh.Trimesh]] = defaultdict(list)
        rgba_of: dict[str, np.ndarray] = {}
        for geom in list(body.geoms):
            if geom.contype == 0 and geom.conaffinity == 0 and geom.type == mujoco.mjtGeom.mjGEOM_MESH:
                rgba = materials[geom.material]
                key = _color_name(rgba)
                rgba_of[key] = rgba
                groups[key].append(load_mesh(arm_file.parent / mesh_files[geom.meshname]))
                arm.delete(geom)
            elif geom.type == mujoco.mjtGeom.mjGEOM_MESH:  # collision mesh: copy the STL untouched
                name = f"panda_{geom.meshname}_col"
                shutil.copyfile(arm_file.parent / mesh_files[geom.meshname], OUT / f"{name}.stl")
                geom.meshname = name
                geom.rgba = [0.5, 0.5, 0.5, 1.0]
        for key, parts in groups.items():
            merged = trimesh.util.concatenate(parts)
            triangles["before"] += len(merged.faces)
            small = decimate(merged)
            triangles["after"] += len(small.faces)
            name = f"panda_{body.name}_{key}"
            small.export(OUT / f"{name}.obj")
            material = arm.add_material(name=name, rgba=list(rgba_of[key]), specular=0.3, shininess=0.4)
            body.add_geom(
                type=mujoco.mjtGeom.mjGEOM_MESH, meshname=name, material=material.name, contype=0, conaffinity=0,
                group=1,
            )
    for mesh in list(arm.meshes):
        arm.delete(mesh)
    for material in list(arm.materials):
        if not material.name.startswith("panda_"):
            arm.delete(material)
    for body in arm.bodies:
        for geom in body.geoms:
            if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
                mesh_name = geom.meshname
                arm.add_mesh(name=mesh_name, file=mesh_name + (".obj" if geom.group == 1 else ".stl"))
    # Position servos instead of torque motors; gravity compensation on every link.
    for actuator in list(arm.actuators):
        arm.delete(actuator)
    for i in range(7):
        joint = arm.joint(f"joint{i + 1}")
        joint.armature = 0.1
        arm.add_actuator(
            name=f"act_j{i + 1}", target=joint.name, trntype=mujoco.mjtTrn.mjTRN_JOINT,
            gaintype=mujoco.mjtGain.mjGAIN_FIXED, biastype=mujoco.mjtBias.mjBIAS_AFFINE,
            gainprm=[KP[i]] + [0.0] * 9, biasprm=[0.0, -KP[i], -KV[i]] + [0.0] * 7,
            ctrlrange=list(joint.range), ctrllimited=1, forcerange=[-FORCE[i], FORCE[i]], forcelimited=1,
        )
    for name in ("finger_joint1", "finger_joint2"):  # robosuite's fingers need ~0.4 s to close; ~0.15 s here
        grip.joint(name).damping[0] = FINGER_DAMPING
        grip.joint(name).armature = FINGER_ARMATURE
    for camera in list(arm.cameras):
        arm.delete(camera)

    # Hand: decimate visuals, copy collision meshes, then attach it under right_hand.
    grip_dir = grip_file.parent
    for mesh in list(grip.meshes):
        if mesh.name == "finger_vis2":  # unused longer finger
            grip.delete(mesh)
    for mesh in grip.meshes:
        name = "panda_" + mesh.name
        if mesh.name.endswith("_vis"):
            small = load_mesh(grip_dir / mesh.file)
            triangles["before"] += len(small.faces)
            small = decimate(small)
            triangles["after"] += len(small.faces)
            small.export(OUT / f"{name}.obj")
            mesh.file = f"{name}.obj"
        else:
            shutil.copyfile(grip_dir / mesh.file, OUT / f"{name}.stl")
            mesh.file = f"{name}.stl"
        old = mesh.name
        mesh.name = name
        for body in grip.bodies:
            for geom in body.geoms:
                if geom.meshname == old:
                    geom.meshname = name
    for sensor in list(grip.sensors):
        grip.delete(sensor)
    for body in grip.bodies:
        for site in list(body.sites):
            grip.delete(site)
    grip.meshdir = ""
    grip.modelfiledir = str(OUT)
    arm.body("right_hand").add_frame().attach_body(grip.worldbody.first_body(), "", "")

    for body in arm.bodies:
        if body.name != "world":
            body.gravcomp = 1.0
        for geom in body.geoms:
            if geom.group == 0:
                geom.group = COLLISION_GROUP
    arm.modelname = "panda"
    arm.meshdir = ""
    arm.modelfiledir = str(OUT)
    arm.add_key(name="home", qpos=HOME + [0.04, -0.04], ctrl=HOME + [0.04, -0.04])
    model = arm.compile()  # validates the result
    xml = arm.to_xml()
    # to_xml writes the attached hand's (empty) default class as an unnamed nested default, which the parser rejects.
    xml = xml.replace("  <default>\n    <default/>\n  </default>\n", "")
    (OUT / "panda.xml").write_text(
        "<!-- Generated by assets/build_panda_assets.py from robosuite 1.5.2 (MIT); meshes from franka_ros "
        "(Apache-2.0). Do not edit by hand. -->\n" + xml
    )
    print(f"nq={model.nq} nu={model.nu} visual triangles {triangles['before']} -> {triangles['after']}")


if __name__ == "__main__":
    build()
