"""Planning with a latent world model: CEM (the paper's planner), gradient refinement, energies, state update.

Typical use, once per decision::

    planner = Planner(PAPER_CEM)                      # or PlannerConfig(method="cem_grad", ...)
    energy = LatentRolloutEnergy(ac_predictor, z_now, state_now, z_goal)   # features already normalised
    result = planner.plan(energy)                     # result.actions[0] is the action to execute
"""

from vjepa_bench.planning.cem import (
    CEMOutput,
    EnergyFn,
    NonFiniteEnergy,
    action_bound,
    cem,
    initial_std,
    planned_dims,
)
from vjepa_bench.planning.config import (
    FAST_CEM_GRAD,
    PAPER_CEM,
    PRESET_NAMES,
    PRESETS,
    SIM_CEM,
    SMALL_CEM,
    PlannerConfig,
    planner_preset,
)
from vjepa_bench.planning.energy import LatentRolloutEnergy
from vjepa_bench.planning.gradient import RefineOutput, refine
from vjepa_bench.planning.planner import (
    Planner,
    PlanResult,
    apply_deadband,
)
from vjepa_bench.planning.state_update import (
    apply_action,
    euler_xyz_to_matrix,
    matrix_to_euler_xyz,
)

__all__ = [
    "CEMOutput",
    "EnergyFn",
    "FAST_CEM_GRAD",
    "LatentRolloutEnergy",
    "NonFiniteEnergy",
    "PAPER_CEM",
    "PRESET_NAMES",
    "PRESETS",
    "SIM_CEM",
    "SMALL_CEM",
    "planner_preset",
    "PlanResult",
    "Planner",
    "PlannerConfig",
    "RefineOutput",
    "action_bound",
    "apply_action",
    "apply_deadband",
    "cem",
    "euler_xyz_to_matrix",
    "initial_std",
    "matrix_to_euler_xyz",
    "planned_dims",
    "refine",
]
