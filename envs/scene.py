"""The shared scene, built in Python with ``mujoco.MjSpec``: a lab table, the Panda on it, lights, one camera.

World frame = robot base frame: the base of the arm is at the origin, x points away from the robot over the table,
z up, the table top is the plane z = 0. Objects (``add_box``, ``add_cup``, ``add_plate``) are added by the tasks.
"""

from __future__ import annotations

import mujoco
import numpy as np
from vjepa_bench.assets import asset_path
from vjepa_bench.envs.reflex import add_hand_force_sensors
from vjepa_bench.envs.rendering import SHADOW_SIZE

TIMESTEP = 0.002
"""Physics step (s); 125 substeps make one 0.25 s control step."""
TABLE_TOP = 0.0
OBS_CAMERA = "obs"
FLOOR = "floor"
BOX_HALF = 0.03
"""The box is a 6 cm cube."""
CUP_RADIUS = 0.032
CUP_HEIGHT = 0.09
CUP_WALL = 0.006
CUP_GRASP_HEIGHT = 0.06
"""Height above the cup's base where the fingers hold it."""
LINK_RGBA = [0.8, 0.8, 0.8, 1.0]
HAND_RGBA = [0.62, 0.63, 0.65, 1.0]
FINGER_RGBA = [0.1, 0.1, 0.11, 1.0]
PAD_RGBA = [0.2, 0.35, 0.6, 1.0]
HARD_CONTACT = {"solref": [0.004, 1.0], "solimp": [0.99, 0.999, 0.001, 0.5, 2.0]}
"""Contact parameters of the table, the objects and the coaster: a 4 ms time constant (twice the physics step, the
stiffest stable choice) and high impedance, so that objects neither sink nor creep into the table."""
FINGER_CTRL_OVERCLOSE = 0.002
"""How far past the closed joint limit the finger servos may aim (m)."""
PLATE_RADIUS = 0.07
PLATE_THICKNESS = 0.006


GRIPPERS = ("franka_hand", "robotiq_2f85")
"""The hands the Panda can carry: the Franka Hand (``panda.xml``) or DROID's Robotiq 2F-85 (``robotiq_2f85.xml``)."""
DEFAULT_GRIPPER = "robotiq_2f85"
"""The hand every task carries unless told otherwise: DROID's, and the paper's robot's."""


def build_base_spec(max_image_size: int, gripper: str = DEFAULT_GRIPPER) -> mujoco.MjSpec:
    """Table, floor, walls, lights, the Panda (``panda.xml``) with ``gripper`` on its flange, and the observation
    camera."""
    if gripper not in GRIPPERS:
        raise ValueError(f"gripper must be one of {list(GRIPPERS)}, got {gripper!r}")
    spec = mujoco.MjSpec()
    spec.modelname = "vjepa_bench_franka"
    spec.option.timestep = TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST  # stable with the stiff joint servos
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.option.noslip_iterations = 0
    # One contact per convex pair: the multi-contact search mis-measured a mug resting on the coaster as 13 mm deep
    # and launched it at 8 m/s (3 of 100 scripted pick-and-place episodes); box-box pairs keep their own manifolds.
    spec.option.disableflags |= mujoco.mjtDisableBit.mjDSBL_MULTICCD
    spec.visual.quality.offsamples = 0
    spec.visual.quality.shadowsize = SHADOW_SIZE
    spec.visual.global_.offwidth = max_image_size
    spec.visual.global_.offheight = max_image_size
    spec.visual.headlight.ambient = [0.4, 0.4, 0.4]
    spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]
    spec.visual.map.znear = 0.05  # near/far are multiples of stat.extent: 0.1 m .. 10 m keeps depth precise
    spec.visual.map.zfar = 5.0
    spec.stat.extent = 2.0
    spec.stat.center = [0.45, 0.0, 0.2]
    spec.visual.map.shadowclip = 1.0  # shadow box of the directional light around stat.center (smaller: acne)

    spec.add_texture(name="wood", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT,
                     rgb1=[0.72, 0.58, 0.42], rgb2=[0.6, 0.47, 0.33], mark=mujoco.mjtMark.mjMARK_RANDOM,
                     random=0.25, markrgb=[0.64, 0.5, 0.36], width=128, height=128)
    spec.add_material(name="table", textures=["", "wood"], texrepeat=[3, 3], rgba=[1, 1, 1, 1], specular=0.1,
                      shininess=0.2)
    floor_tex = spec.add_texture(name="floor", type=mujoco.mjtTexture.mjTEXTURE_2D,
                                 builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=[0.42, 0.42, 0.44],
                                 rgb2=[0.36, 0.36, 0.38], width=64, height=64)
    spec.add_material(name="floor", textures=["", floor_tex.name], texrepeat=[8, 8], specular=0.0)
    spec.add_material(name="wall", rgba=[0.82, 0.81, 0.78, 1], specular=0.0)
    spec.add_material(name="metal", rgba=[0.25, 0.25, 0.27, 1], specular=0.3, shininess=0.5)

    world = spec.worldbody
    world.add_light(name="sun", pos=[0.4, 0.3, 2.5], dir=[-0.1, -0.1, -1.0],
                    type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, castshadow=1,
                    diffuse=[0.5, 0.5, 0.5], specular=[0.1, 0.1, 0.1], ambient=[0.1, 0.1, 0.1])
    # The floor and the walls collide, so that an object knocked off the table comes to rest in the room.
    world.add_geom(name=FLOOR, type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4, 4, 0.1], pos=[0, 0, -0.76],
                   material="floor", **HARD_CONTACT)
    for name, pos, size in (("wall_back", [2.2, 0, 0.5], [0.02, 3.0, 1.3]),
                            ("wall_left", [0.4, 2.0, 0.5], [3.0, 0.02, 1.3]),
                            ("wall_right", [0.4, -2.0, 0.5], [3.0, 0.02, 1.3]),
                            ("wall_rear", [-1.6, 0, 0.5], [0.02, 3.0, 1.3])):
        world.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_BOX, pos=pos, size=size, material="wall",
                       **HARD_CONTACT)
    table = world.add_body(name="table", pos=[0.35, 0.0, TABLE_TOP - 0.02])
    table.add_geom(name="table_top", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.65, 0.7, 0.02], material="table",
                   friction=[1.0, 0.005, 0.0001], **HARD_CONTACT)
    for sx in (-1, 1):
        for sy in (-1, 1):
            table.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.025, 0.025, 0.36],
                           pos=[sx * 0.6, sy * 0.65, -0.38], material="metal", contype=0, conaffinity=0)

    robot = mujoco.MjSpec.from_file(str(asset_path("panda.xml")))
    _tone_robot(robot)
    hand = "right_gripper"
    if gripper == "robotiq_2f85":
        hand = _mount_robotiq(robot)
    mount = world.add_frame(pos=[0, 0, TABLE_TOP])
    mount.attach_body(robot.worldbody.first_body(), "", "")
    world.add_geom(name="robot_plate", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.11, 0.004, 0],
                   pos=[0, 0, TABLE_TOP + 0.004], material="metal", contype=0, conaffinity=0)
    link7 = spec.body("link7")
    link7.add_site(name="flange", pos=[0, 0, 0.107], group=5)
    if gripper == "franka_hand":  # the Robotiq's grip point moves with its pads (envs/gripper.py)
        spec.body(hand).add_site(name="grip", pos=[0, 0, 0.1034], group=5)
    # Exclude self-collisions between the hand and the last links (meshes overlap at the joints).
    for a, b in (("link7", hand), ("link6", hand), ("link5", "link7")):
        spec.add_exclude(bodyname1=a, bodyname2=b)
    world.add_camera(name=OBS_CAMERA, pos=[0, 0, 1], quat=[1, 0, 0, 0], fovy=50.0)
    add_hand_force_sensors(spec)
    return spec


def _tone_robot(robot: mujoco.MjSpec) -> None:
    """Robot looks that a camera can read: off-white links (pure white saturates under two lights), a light-grey
    hand and dark fingers that stand out against every object. The fingers are drawn with their collision meshes
    (what you see is what touches) and their rubber pads, so the grasp state shows in the image."""
    for material in robot.materials:
        if material.name.endswith("_cffffff") or material.name.endswith("_ce6ebed") or material.name.endswith("_ce5eaed"):
            material.rgba = LINK_RGBA
        material.specular = 0.15
    robot.geom("hand_visual").rgba = HAND_RGBA
    for side, sign in ((1, 1), (2, -1)):  # the closed servo aims past the limit (see gripper.FRANKA_OVERCLOSE)
        actuator = robot.actuator(f"gripper_finger_joint{side}")
        actuator.ctrlrange = sorted([sign * FINGER_CTRL_OVERCLOSE * -1, sign * 0.04])
    for side in (1, 2):
        visual, collision = robot.geom(f"finger{side}_visual"), robot.geom(f"finger{side}_collision")
        visual.meshname = collision.meshname
        visual.pos, visual.quat = collision.pos, collision.quat
        visual.rgba = FINGER_RGBA
        pad = robot.geom(f"finger{side}_pad_collision")
        robot.body(f"finger_joint{side}_tip").add_geom(
            type=mujoco.mjtGeom.mjGEOM_BOX, size=pad.size, pos=pad.pos, quat=pad.quat, rgba=PAD_RGBA, group=1,
            contype=0, conaffinity=0, mass=0)


def _mount_robotiq(robot: mujoco.MjSpec) -> str:
    """Replace the Franka Hand by the Robotiq 2F-85 (``robotiq_2f85.xml``) on the same flange, its fingers closing
    along the same axis; returns the new hand body's name."""
    for key in list(robot.keys):  # the home keyframe names the Franka Hand's joints (the envs start from HOME_QPOS)
        robot.delete(key)
    robot.delete(robot.actuator("gripper_finger_joint1"))
    robot.delete(robot.actuator("gripper_finger_joint2"))
    robot.delete(robot.body("right_gripper"))
    robotiq = mujoco.MjSpec.from_file(str(asset_path("robotiq_2f85.xml")))
    robot.body("right_hand").add_frame().attach_body(robotiq.worldbody.first_body(), "", "")
    return "robotiq_base"


def add_box(spec: mujoco.MjSpec, name: str = "object", rgba=(0.8, 0.15, 0.12, 1.0)) -> mujoco.MjsBody:
    """A 6 cm red cube (100 g) on a free joint."""
    body = spec.worldbody.add_body(name=name, pos=[0.5, 0.0, BOX_HALF])
    body.add_freejoint(name=f"{name}_joint")
    body.add_geom(name=f"{name}_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=[BOX_HALF] * 3, rgba=list(rgba),
                  mass=0.1, friction=[1.2, 0.01, 0.001], condim=4, **HARD_CONTACT)
    return body


def add_cup(spec: mujoco.MjSpec, name: str = "object", rgba=(0.95, 0.93, 0.88, 1.0)) -> mujoco.MjsBody:
    """A mug: a smooth visual shell (generated mesh) with a handle; collisions from 16 wall boxes and a base disk.

    Outer diameter 6.4 cm (the Panda hand opens to 8 cm), height 9 cm, 150 g. The handle points along the body's +x.
    """
    verts, faces = _cup_mesh(CUP_RADIUS, CUP_HEIGHT, CUP_WALL, segments=32)
    spec.add_mesh(name=f"{name}_shell", uservert=verts.ravel().tolist(), userface=faces.ravel().tolist())
    spec.add_material(name=f"{name}_glaze", rgba=list(rgba), specular=0.4, shininess=0.6)
    body = spec.worldbody.add_body(name=name, pos=[0.5, 0.0, 0.0])
    body.add_freejoint(name=f"{name}_joint")
    body.add_geom(name=f"{name}_visual", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"{name}_shell",
                  material=f"{name}_glaze", contype=0, conaffinity=0, group=1, mass=0)
    segments = 16
    half_width = CUP_RADIUS * np.tan(np.pi / segments) + 0.001
    for i in range(segments):
        angle = 2 * np.pi * i / segments
        r = CUP_RADIUS - CUP_WALL / 2
        quat = [np.cos(angle / 2), 0, 0, np.sin(angle / 2)]
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[CUP_WALL / 2, half_width, CUP_HEIGHT / 2],
                      pos=[r * np.cos(angle), r * np.sin(angle), CUP_HEIGHT / 2], quat=quat, group=3, mass=0.115 / segments,
                      friction=[1.2, 0.01, 0.001], condim=4, rgba=list(rgba), **HARD_CONTACT)
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[CUP_RADIUS, 0.004, 0], pos=[0, 0, 0.004], group=3,
                  mass=0.02, rgba=list(rgba), **HARD_CONTACT)
    # Handle: three capsules forming a "C" on the +x side.
    x0, top, bottom, reach = CUP_RADIUS - 0.002, 0.07, 0.025, 0.026
    for a, b in (([x0, 0, top], [x0 + reach, 0, top - 0.008]), ([x0 + reach, 0, top - 0.008],
                 [x0 + reach, 0, bottom + 0.008]), ([x0 + reach, 0, bottom + 0.008], [x0, 0, bottom])):
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_CAPSULE, fromto=a + b, size=[0.0055, 0, 0], material=f"{name}_glaze",
                      mass=0.005, friction=[1.0, 0.01, 0.001])
    return body


def add_plate(spec: mujoco.MjSpec, name: str = "target") -> mujoco.MjsBody:
    """The place target: a thin round coaster (mocap body, so each episode can move it without recompiling)."""
    body = spec.worldbody.add_body(name=name, pos=[0.5, 0.2, TABLE_TOP], mocap=True)
    body.add_geom(name=f"{name}_geom", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[PLATE_RADIUS, PLATE_THICKNESS / 2, 0],
                  pos=[0, 0, PLATE_THICKNESS / 2], rgba=[0.2, 0.45, 0.75, 1], friction=[1.0, 0.005, 0.0001],
                  **HARD_CONTACT)
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[PLATE_RADIUS * 0.8, 0.0005, 0],
                  pos=[0, 0, PLATE_THICKNESS + 0.0002],
                  rgba=[0.93, 0.93, 0.95, 1], contype=0, conaffinity=0)
    return body


def _cup_mesh(radius: float, height: float, wall: float, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of an open cylindrical cup shell (outer wall, rim, inner wall, inner and outer floor)."""
    angles = 2 * np.pi * np.arange(segments) / segments
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros(segments)], axis=1)
    inner = radius - wall
    rings = [ring * radius, ring * radius + [0, 0, height], ring * inner + [0, 0, height], ring * inner + [0, 0, wall]]
    verts = np.concatenate(rings + [np.array([[0, 0, wall], [0, 0, 0]])])
    faces = []
    for k in range(3):
        for i in range(segments):
            j = (i + 1) % segments
            a, b, c, d = k * segments + i, k * segments + j, (k + 1) * segments + j, (k + 1) * segments + i
            faces += [[a, b, c], [a, c, d]]
    centre_in, centre_out = 4 * segments, 4 * segments + 1
    for i in range(segments):
        j = (i + 1) % segments
        faces.append([3 * segments + i, 3 * segments + j, centre_in])
        faces.append([centre_out, j, i])
    return verts.astype(np.float64), np.asarray(faces, np.int32)
