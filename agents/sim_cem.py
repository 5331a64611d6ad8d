"""``sim_cem``: the same CEM with the true simulator as dynamics and a privileged distance as energy.

It bounds what a perfect world model could reach with this optimiser, and so separates world-model error
from optimiser error. Each CEM iteration evaluates all samples with ``env.rollout_distance`` (MuJoCo state
copied per sample, physics in C via ``mujoco.rollout``), so the env itself is never disturbed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from vjepa_bench.agents.base import register_agent

from vjepa_bench.planning import SIM_CEM, Planner, PlannerConfig


@register_agent("sim_cem")
class SimCEMAgent:
    """CEM over the simulator's own rollouts; privileged: needs the unwrapped env passed to ``reset``."""

    name = "sim_cem"

    def __init__(self, planner: dict[str, Any] | None = None) -> None:
        """``planner``: planner settings; ``None`` = ``SIM_CEM`` (64 samples x 3 iterations, top 8, on the CPU)."""
        self.planner = Planner(SIM_CEM if planner is None else PlannerConfig.from_dict(planner))
        self.device_name = "cpu (MuJoCo rollouts)"
        self._info: dict[str, Any] = {}

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        if not hasattr(env, "rollout_distance"):
            raise TypeError(f"sim_cem needs a simulated env with rollout_distance(); got {type(env).__name__}")
        self.env = env
        self.planner.reset()

    def energy(self, actions: torch.Tensor) -> torch.Tensor:
        """Privileged task distance after each ``(S, H, 7)`` action sequence -> ``(S,)``."""
        distances = self.env.rollout_distance(actions.detach().cpu().numpy())
        return torch.as_tensor(distances, dtype=torch.float32, device=actions.device)

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        result = self.planner.plan(self.energy)
        self._info = {"planning_time_s": result.time_s, "energy": result.energy, "evaluations": result.evaluations}
        return result.actions[0]

    def step_info(self) -> dict[str, Any]:
        return dict(self._info)
