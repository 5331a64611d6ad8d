"""``sim_cem``: the same CEM with the true simulator as dynamics and a distance in the goal configuration as energy.

It bounds what a perfect world model could reach with this optimiser, and so separates world-model error from
optimiser error. Each CEM iteration rolls every sampled action sequence out in a copy of the env's MuJoCo state
(``FrankaEnv.rollout``: the env's own controller plans the servo targets, the physics runs in C through
``mujoco.rollout``, and the samples the contact reflex would stop run again through ``step``'s control loop), so the
env itself is never disturbed.

Energy: the env renders each goal image from a goal configuration (``FrankaEnv.goal_data(i)``); the energy of a
sequence compares the configuration reached after its last step with the configuration of the goal active now,
term by term, the privileged analogue of what an image energy sees (where the hand is, how it is turned, where
each finger is, where the object is, how it stands, and where and how it sits between the fingers):

=================  ==========  =======  ===================================================================
term               unit        weight   why
=================  ==========  =======  ===================================================================
flange position    m           1.0      the unit of the energy: 1 per metre
flange rotation    rad         0.2      the controller's own IK weight (``ROTATION_WEIGHT``, 0.2 m per rad):
                                        a 0.25 rad turn weighs as 5 cm, so the hand turns to the grasp
                                        without the turn ever dragging the position
gripper            1 (0..1)    1.0      each finger's closedness (0 open, 1 at the centre line), mean of
                                        the two differences: holding the object (0.25 box, 0.2 cup in the
                                        goals) must beat hovering open next to it (0.25 > 1.0 x a few cm),
                                        closing on nothing (1) costs 0.75; per finger, and each counted at
                                        most as closed as the gripper is commanded, so that a finger pushed
                                        in by the object (resting on its edge, or across a box's corners)
                                        is not mistaken for a grasp
object position    m           4.0      the object is what the task is about: carrying it 1 cm is worth
                                        4 cm of hand motion, so progress pays for the closed gripper
object tilt        rad         0.5      a tipped object is a failure a camera sees at once: 0.1 rad weighs
                                        as 5 cm, so plans that knock the mug's rim over are avoided
object turn        rad         0.05     the object's turn about the vertical (modulo its symmetry: a quarter
                                        turn for the box): visible but harmless, and closing on a box held
                                        across its corners turns it square to the fingers (up to 45 deg,
                                        which must cost less than the gripper it fixes: 0.04 < 0.25)
object in hand     m (L1)      2.0      the object's position in the flange frame against the goal's (held
                                        at the grip point), summed over the three axes: more than the
                                        flange's weight, so that moving the open hand down onto the object
                                        is downhill although it leaves the goal flange pose (net -1 per
                                        metre); L1 so that the pull across the fingers stays 2 per metre
                                        although the table stops the hand 2.4 cm above the box's goal grip
                                        (a Euclidean norm fades to 0.4 at a 2 cm offset, where a finger
                                        resting on the box's top edge outweighs it)
turn in hand       rad         1.0      the object's turn about the hand's axis (modulo its symmetry)
                                        against the goal's: the hand must turn square to the box before it
                                        comes down, or the box wedges across its corners between the open
                                        fingers (turning in the air must beat that wedge: 0.25 rad a step)
=================  ==========  =======  ===================================================================

Rotations compare by the angle of ``R R_goal^T``; the object terms exist only in tasks with an object. The terms
are computed by :func:`energy_terms` and weighted by :class:`EnergyWeights` (``agent.kwargs.weights``). The goal
used is the one active at the current step (as a world-model agent's goal image), for the whole horizon.

Why the two in-hand terms: the other terms compare each part with its own place in the goal, and have a local
minimum the optimiser cannot leave: the hand hovering open at the goal flange pose (10 cm above the grasp in grasp
and pick-and-place), since every grasp first moves the hand away from that pose before closed fingers pay it back.
Measured with those terms alone (grasp box, tuning seeds from 500): horizon 1 never grasped (0/2, with a continuous
gripper, which closed the empty fingers to the goal's opening in mid-air: hence the binary rule), horizon 2 found
the descend-and-close needle (about 1 cm wide across the fingers) only by chance, 2/6 with 64 x 3 samples and 3/4
with 128 x 3 (12-17 s per action). With them horizon 1 descends, closes and lifts greedily (4-6 steps).

Rules (``agent.kwargs``): ``gripper="binary"`` executes every gripper delta as open or close (a continuous
closedness lets the empty fingers stop at the goal's opening in mid-air, which matches the goal's gripper without
holding anything); ``rotation="yaw"`` executes only the turn about the vertical (with ``planner.plan_rotation``:
every goal's hand points straight down, the box's grasp needs its yaw). Settings and measured success:
``configs/agent/sim_cem.yaml`` and ``configs/planner/sim.yaml``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import mujoco
import numpy as np
import torch
from vjepa_bench.agents.base import register_agent, require_sim_env

from vjepa_bench import layout
from vjepa_bench.errors import UsageError
from vjepa_bench.planning import SIM_CEM, Planner, PlannerConfig

@dataclass(frozen=True)
class EnergyWeights:
    """Weights of the energy's terms (module docstring: units and why); every weight >= 0."""

    flange_position: float = 1.0
    flange_rotation: float = 0.2
    gripper: float = 1.0
    object_position: float = 4.0
    object_tilt: float = 0.5
    object_turn: float = 0.05
    object_in_hand: float = 2.0
    object_turn_in_hand: float = 1.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (np.isfinite(value) and value >= 0):
                raise UsageError(f"agent.kwargs.weights.{name}={value!r}: must be a finite number >= 0")

    @classmethod
    def from_dict(cls, values: dict[str, float] | None) -> EnergyWeights:
        values = dict(values or {})
        unknown = sorted(set(values) - set(asdict(cls())))
        if unknown:
            raise UsageError(f"agent.kwargs.weights.{unknown[0]} is not an energy term; known: "
                             f"{', '.join(asdict(cls()))}")
        return cls(**{k: float(v) for k, v in values.items()})


@dataclass(frozen=True)
class Configuration:
    """What the energy compares: flange pose, gripper closedness and (tasks with an object) the object's pose."""

    flange_position: np.ndarray  # (3,) m
    flange_rotation: np.ndarray  # (3, 3)
    fingers: np.ndarray  # (2,) each finger's closedness: 0 fully open, 1 at the centre line
    object_position: np.ndarray | None = None  # (3,) m
    object_rotation: np.ndarray | None = None  # (3, 3)
    object_symmetry: float = 2 * np.pi
    """Turn (rad) about its own axis after which the object looks the same (box: a quarter turn)."""


OBJECT_SYMMETRY = {"box": np.pi / 2, "cup": 2 * np.pi}
"""The turn about the vertical that maps each object onto itself (the mug's handle: only a full turn)."""


def read_configuration(env: Any, data: mujoco.MjData, commanded: float | None = None) -> Configuration:
    """The configuration of ``data`` (kinematics must be current) in ``env``'s model. ``commanded``: the gripper's
    target closedness; each finger then counts as closed at most as far as the gripper closes it (a finger that
    the object pushes in while the gripper is open does not count). None: as measured (goal configurations)."""
    flange = env.model.site("flange").id
    position = data.site_xpos[flange].copy()
    rotation = data.site_xmat[flange].reshape(3, 3).copy()
    fingers = np.clip(1.0 - env.gripper.openings(data) / env.gripper.open_opening, 0.0, 1.0)
    if commanded is not None:
        fingers = np.minimum(fingers, float(commanded))
    if not env.uses_object:
        return Configuration(position, rotation, fingers)
    body = env.model.body("object").id
    return Configuration(position, rotation, fingers, data.xpos[body].copy(), data.xmat[body].reshape(3, 3).copy(),
                         OBJECT_SYMMETRY.get(env.object_kind, 2 * np.pi))


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (rad, in [0, pi]) of the rotation ``a b^T`` between two rotation matrices."""
    r = a @ b.T
    sine = np.linalg.norm([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / 2.0
    return float(np.arctan2(sine, (np.trace(r) - 1.0) / 2.0))  # accurate near 0, unlike arccos


def tilt_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (rad) between the z axes of two rotation matrices: how far one is tipped against the other."""
    za, zb = a[:, 2], b[:, 2]
    return float(np.arctan2(np.linalg.norm(np.cross(za, zb)), za @ zb))


def turn_angle(a: np.ndarray, b: np.ndarray, period: float = 2 * np.pi) -> float:
    """Difference (rad, in [0, period / 2]) of the turns about the vertical (yaw of the x axis) of two rotation
    matrices, modulo the object's symmetry ``period``."""
    difference = np.arctan2(a[1, 0], a[0, 0]) - np.arctan2(b[1, 0], b[0, 0])
    return float(abs((difference + period / 2) % period - period / 2))


def in_hand(config: Configuration) -> np.ndarray:
    """The object's position in the flange frame (m): where it is relative to the fingers (``(3,)``)."""
    return config.flange_rotation.T @ (config.object_position - config.flange_position)


def energy_terms(config: Configuration, goal: Configuration) -> dict[str, float]:
    """The unweighted distances of ``config`` to ``goal``, one per :class:`EnergyWeights` field."""
    terms = {
        "flange_position": float(np.linalg.norm(config.flange_position - goal.flange_position)),
        "flange_rotation": rotation_angle(config.flange_rotation, goal.flange_rotation),
        "gripper": float(np.mean(np.abs(config.fingers - goal.fingers))),
        "object_position": 0.0,
        "object_tilt": 0.0,
        "object_turn": 0.0,
        "object_in_hand": 0.0,
        "object_turn_in_hand": 0.0,
    }
    if goal.object_position is not None and config.object_position is not None:
        terms["object_position"] = float(np.linalg.norm(config.object_position - goal.object_position))
        terms["object_tilt"] = tilt_angle(config.object_rotation, goal.object_rotation)
        terms["object_turn"] = turn_angle(config.object_rotation, goal.object_rotation, goal.object_symmetry)
        terms["object_in_hand"] = float(np.abs(in_hand(config) - in_hand(goal)).sum())  # L1: the table
        terms["object_turn_in_hand"] = turn_angle(config.flange_rotation.T @ config.object_rotation,
                                                  goal.flange_rotation.T @ goal.object_rotation, goal.object_symmetry)
    return terms


def configuration_energy(config: Configuration, goal: Configuration, weights: EnergyWeights) -> float:
    """Weighted sum of :func:`energy_terms`: 0 at the goal configuration, growing with every term."""
    w = asdict(weights)
    return float(sum(w[name] * value for name, value in energy_terms(config, goal).items()))


GRIPPER_RULES = ("binary", "delta")
"""``binary``: a gripper delta commands open or closed (target closedness rounded to 0 or 1, a real gripper's
grasp / release); ``delta``: the planner's continuous closedness delta, executed as planned."""


ROTATION_RULES = ("yaw", "all")
"""With ``planner.plan_rotation``: ``yaw`` executes only the turn about the vertical (the roll and pitch deltas are
zeroed: every goal's hand points straight down), ``all`` executes the planned rotation as it is."""


def binary_gripper(actions: np.ndarray, closedness: float) -> np.ndarray:
    """``(S, H, 7)`` actions whose gripper deltas, applied in turn from the target ``closedness``, leave the target
    at 0 or 1: each new target ``clip(previous + delta, 0, 1)`` is rounded (0.5 closes)."""
    out = np.array(actions, dtype=np.float64)
    target = np.full(out.shape[0], float(closedness))
    for h in range(out.shape[1]):
        wanted = np.clip(target + out[:, h, layout.GRIPPER][:, 0], 0.0, 1.0)
        snapped = (wanted >= 0.5).astype(np.float64)
        out[:, h, layout.GRIPPER] = (snapped - target)[:, None]
        target = snapped
    return out


def goal_configurations(env: Any, goals: int) -> list[Configuration]:
    """The configurations the env's ``goals`` goal images show (``goal_data``; call right after reset)."""
    return [read_configuration(env, env.goal_data(i)) for i in range(goals)]


@register_agent("sim_cem")
class SimCEMAgent:
    """CEM over the simulator's own rollouts; privileged: needs the unwrapped env passed to ``reset``."""

    name = "sim_cem"

    def __init__(self, planner: dict[str, Any] | None = None, weights: dict[str, float] | None = None,
                 gripper: str = "binary", rotation: str = "yaw") -> None:
        """``planner``: planner settings, ``None`` = ``SIM_CEM``; ``weights``: energy weights (module docstring);
        ``gripper``: one of ``GRIPPER_RULES`` and ``rotation``: one of ``ROTATION_RULES``, both applied to every
        sampled sequence and to the executed action."""
        self.planner = Planner(SIM_CEM if planner is None else PlannerConfig.from_dict(planner), device="cpu")
        self.weights = EnergyWeights.from_dict(weights)
        if gripper not in GRIPPER_RULES:
            raise UsageError(f"agent.kwargs.gripper={gripper!r}: choose one of {', '.join(GRIPPER_RULES)}")
        self.gripper = gripper
        if rotation not in ROTATION_RULES:
            raise UsageError(f"agent.kwargs.rotation={rotation!r}: choose one of {', '.join(ROTATION_RULES)}")
        self.rotation = rotation
        self.device_name = "cpu (MuJoCo rollouts)"
        self._info: dict[str, Any] = {}

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        require_sim_env(self.name, env, "get_sim_state", "goal_data", "controller", "current_subgoal")
        self.env = env
        self.goals = goal_configurations(env, len(info["goal"]["steps"]))
        self.planner.reset_for_episode(getattr(env, "np_random_seed", None))

    def final_configurations(self, actions: np.ndarray) -> list[Configuration]:
        """Roll each ``(S, H, 7)`` action sequence out from the env's current state (``env.rollout``: bit for bit
        what ``env.step`` would do); the configurations reached."""
        return self.env.rollout(self.executed(actions), lambda data, end: read_configuration(self.env, data, end.grip))

    def executed(self, actions: np.ndarray) -> np.ndarray:
        """What the env executes for ``(S, H, 7)`` planned sequences: clipped, then the gripper rule."""
        actions = np.clip(np.asarray(actions, dtype=np.float64), layout.ACTION_LOW, layout.ACTION_HIGH)
        if self.rotation == "yaw":
            actions[..., layout.ROTATION.start:layout.ROTATION.start + 2] = 0.0
        if self.gripper == "binary":
            actions = binary_gripper(actions, self.env.target_pose()[2])
        return actions

    def energy(self, actions: torch.Tensor) -> torch.Tensor:
        """Configuration distance to the active goal after each ``(S, H, 7)`` action sequence -> ``(S,)``."""
        goal = self.goals[self.env.current_subgoal()]
        configs = self.final_configurations(actions.detach().cpu().numpy())
        energies = [configuration_energy(c, goal, self.weights) for c in configs]
        return torch.as_tensor(energies, dtype=torch.float32, device=actions.device)

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        result = self.planner.plan(self.energy)
        self._info = {"planning_time_s": result.time_s, "energy": result.energy, "evaluations": result.evaluations}
        return self.executed(result.actions[None, :1])[0, 0].astype(np.float32)

    def step_info(self) -> dict[str, Any]:
        return dict(self._info)
