"""Planner configuration: one typed schema, validated when built, never written to at run time.

The defaults are the CLI's default planner (``planner=small``: the paper's CEM at 1/20 of its evaluations, sized for
a CPU), so ``PlannerConfig()`` in a script plans exactly as ``vjepa-bench eval`` does. The named presets live only in
``configs/planner/<name>.yaml`` (values that differ from these defaults); :func:`planner_preset` reads them.

Sources of the defaults (see docs/conventions.md#cem):

==========================  =========  =====================================================================
field                       default    source
==========================  =========  =====================================================================
method                      cem        paper (the cross-entropy method)
samples                     100        ours: 1/8 of the paper's 800 (V-JEPA 2-AC, App. B.2; ``planner=paper``)
iterations                  4          ours: the paper uses 10
topk                        10         paper
horizon                     1          paper
max_position_delta          0.075      paper's bound, applied per axis (a box) as in the repo's planner
init_position_std           None       = max_position_delta, as the repo (``maxnorm`` is also the initial std)
momentum_mean / _std        0.15       repo ``WorldModel`` defaults (the paper gives no momenta)
momentum_*_gripper          0.15       repo ``WorldModel`` defaults
plan_gripper                True       repo: the gripper is planned
gripper_clip                0.75       repo: samples clipped to ±0.75
gripper_deadband            0.25       repo: a planned gripper delta with ``|g| < 0.25`` is output as 0
init_gripper_std            1.0        repo
plan_rotation               False      repo: rotation deltas fixed at 0 (the paper does not say)
max_rotation_delta          0.25       ours (``vjepa_bench.layout.MAX_ROTATION_DELTA``); only if plan_rotation
init_rotation_std           None       = max_rotation_delta (mirrors the position rule); only if plan_rotation
warm_start                  False      repo and paper re-plan from scratch (zero mean) at every step
max_batch                   None       one predictor batch per CEM iteration, as the repo
seed                        0          ours
grad_candidates             4          ours (cem_grad), measured with ``planning.benchmark``
grad_steps                  60         ours (cem_grad), measured
grad_lr                     0.1        ours (cem_grad), measured
==========================  =========  =====================================================================

Rotation, when planned, uses the position momenta. ``method="cem_grad"`` runs CEM with the same fields (set
them small, see ``FAST_CEM_GRAD``) and then refines the best candidates by projected Adam on the energy.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from vjepa_bench.errors import UsageError
from vjepa_bench.layout import MAX_POSITION_DELTA, MAX_ROTATION_DELTA

METHODS = ("cem", "cem_grad")


@dataclass(frozen=True)
class PlannerConfig:
    """Cross-entropy-method planner over a (horizon, 7) action sequence; see the module docstring for sources.

    Attributes:
        method: ``"cem"`` (the paper's planner) or ``"cem_grad"`` (CEM, then projected Adam through the
            differentiable energy from the ``grad_candidates`` best candidates).
        samples: action sequences drawn per CEM iteration (all scored in one batch, see ``max_batch``).
        iterations: CEM iterations.
        topk: elites per iteration (at least 2: the std update uses the unbiased elite std).
        horizon: actions per plan; the energy rolls the predictor forward this many steps.
        momentum_mean, momentum_std: weight of the previous mean / std in the update
            ``new = (1 - m) * elite_stat + m * old`` for position (and rotation) dims.
        momentum_mean_gripper, momentum_std_gripper: the same for the gripper dim.
        max_position_delta: per-axis box bound (m) on the position deltas.
        init_position_std: initial std of the position deltas (m); None means ``max_position_delta``.
        plan_rotation: plan the rotation deltas; when False they are exactly 0.
        max_rotation_delta: per-axis box bound (rad) on the rotation deltas, if planned.
        init_rotation_std: initial std of the rotation deltas (rad); None means ``max_rotation_delta``.
        plan_gripper: plan the gripper delta; when False it is exactly 0.
        gripper_clip: samples of the gripper delta are clipped to ``±gripper_clip``.
        gripper_deadband: in the returned plan, a gripper delta with ``|g| < gripper_deadband`` becomes 0.
        init_gripper_std: initial std of the gripper delta.
        warm_start: start CEM from the previous plan shifted by one step (last step repeated) instead of
            zero mean (with horizon 1: from the previous action); the std restarts from its initial value.
        max_batch: most action sequences per energy call (chunks bound memory; None: one call per iteration).
        seed: seed of the planner's random generator (re-seeded by ``Planner.reset``).
        grad_candidates: ``cem_grad``: starting points refined in parallel (the CEM mean and the best elites).
        grad_steps: ``cem_grad``: Adam steps.
        grad_lr: ``cem_grad``: Adam learning rate in units of each dim's bound (actions are optimised as
            ``a / bound`` in [-1, 1]); decayed by a cosine to ``grad_lr / 100`` over ``grad_steps``.
    """

    method: str = "cem"
    samples: int = 100
    iterations: int = 4
    topk: int = 10
    horizon: int = 1
    momentum_mean: float = 0.15
    momentum_std: float = 0.15
    momentum_mean_gripper: float = 0.15
    momentum_std_gripper: float = 0.15
    max_position_delta: float = MAX_POSITION_DELTA
    init_position_std: float | None = None
    plan_rotation: bool = False
    max_rotation_delta: float = MAX_ROTATION_DELTA
    init_rotation_std: float | None = None
    plan_gripper: bool = True
    gripper_clip: float = 0.75
    gripper_deadband: float = 0.25
    init_gripper_std: float = 1.0
    warm_start: bool = False
    max_batch: int | None = None
    seed: int = 0
    grad_candidates: int = 4
    grad_steps: int = 60
    grad_lr: float = 0.1

    def __post_init__(self) -> None:
        def fail(field: str, why: str) -> None:
            raise UsageError(f"planner.{field}={getattr(self, field)!r}: {why}")

        if self.method not in METHODS:
            fail("method", f"choose one of {', '.join(METHODS)}")
        for field in ("samples", "iterations", "horizon", "grad_steps", "grad_candidates"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(field, "must be an integer >= 1")
        if isinstance(self.topk, bool) or not isinstance(self.topk, int) or not 2 <= self.topk <= self.samples:
            fail("topk", f"must be an integer in [2, samples={self.samples}]")
        if self.method == "cem_grad" and self.grad_candidates > self.topk + 1:
            fail("grad_candidates", f"at most topk + 1 = {self.topk + 1} (the CEM mean and the elites)")
        for field in ("momentum_mean", "momentum_std", "momentum_mean_gripper", "momentum_std_gripper"):
            if not 0.0 <= getattr(self, field) < 1.0:
                fail(field, "must be in [0, 1)")
        for field in ("max_position_delta", "max_rotation_delta", "gripper_clip", "init_gripper_std", "grad_lr"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                fail(field, "must be a finite number > 0")
        for field in ("init_position_std", "init_rotation_std"):
            value = getattr(self, field)
            if value is not None and not (math.isfinite(value) and value > 0):
                fail(field, "must be None (= the bound) or a finite number > 0")
        if not 0.0 <= self.gripper_deadband <= self.gripper_clip:
            fail("gripper_deadband", f"must be in [0, gripper_clip={self.gripper_clip}]")
        if self.max_batch is not None and (isinstance(self.max_batch, bool) or self.max_batch < 1):
            fail("max_batch", "must be None or an integer >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            fail("seed", "must be an integer >= 0")

    @classmethod
    def from_dict(cls, values: PlannerConfig | dict[str, object] | None) -> PlannerConfig:
        """Build from user config (e.g. ``planner.*`` overrides); an unknown field is a ``UsageError`` naming it.

        A ``PlannerConfig`` (what the CLI's parsed config holds) is returned as it is; ``None`` gives the defaults.
        """
        if isinstance(values, PlannerConfig):
            return values
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(f"planner.{unknown[0]} is not a planner setting; known: {', '.join(sorted(known))}")
        return cls(**values)

    def replace(self, **changes: object) -> PlannerConfig:
        """A validated copy with some fields changed (the config itself is frozen)."""
        return dataclasses.replace(self, **changes)


def _planner_config_folder() -> Path:
    spec = importlib.util.find_spec("vjepa_bench.configs")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("vjepa_bench.configs is missing from the installation")
    return Path(next(iter(spec.submodule_search_locations))) / "planner"


PRESET_NAMES: tuple[str, ...] = tuple(sorted(p.stem for p in _planner_config_folder().glob("*.yaml")))
"""The planner presets, one per ``configs/planner/<name>.yaml``."""


def planner_preset(name: str) -> PlannerConfig:
    """The preset ``configs/planner/<name>.yaml`` as a config (what ``planner=<name>`` selects on the CLI)."""
    if name not in PRESET_NAMES:
        raise UsageError(f"planner preset {name!r} does not exist; choose one of {', '.join(PRESET_NAMES)}")
    values = yaml.safe_load((_planner_config_folder() / f"{name}.yaml").read_text(encoding="utf-8"))
    return PlannerConfig.from_dict(values or {})


PAPER_CEM = planner_preset("paper")
"""The paper's V-JEPA 2-AC planner: 800 samples, 10 iterations, top 10, horizon 1, box 0.075 m."""

FAST_CEM_GRAD = planner_preset("fast")
"""A small CEM (64 samples x 3 iterations, top 8) then 60 projected Adam steps from 4 candidates in parallel."""

SMALL_CEM = planner_preset("small")
"""The default: the paper's CEM at 1/20 of its evaluations (100 samples x 4 iterations)."""

SIM_CEM = planner_preset("sim")
"""The ``sim_cem`` agent's default: simulator rollouts cost ~1 ms per sample-step, so a smaller search on the CPU."""

PRESETS: dict[str, PlannerConfig] = {name: planner_preset(name) for name in PRESET_NAMES}
"""Every preset by name, read from ``configs/planner/``."""
