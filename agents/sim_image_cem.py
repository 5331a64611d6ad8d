"""``sim_image_cem``: the ``vjepa_ac`` planner with a perfect predictor. The simulator renders the frame each sampled
action sequence leads to, and a world model's encoder scores it against the goal image with the same L1 energy."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from vjepa_bench.agents.base import register_agent, require_sim_env
from vjepa_bench.agents.vjepa_ac import VJepaACAgent

from vjepa_bench.planning import EnergyFn


@register_agent("sim_image_cem")
class SimImageCEMAgent(VJepaACAgent):
    """``vjepa_ac`` with its AC predictor replaced by the simulator; privileged: needs the unwrapped env in ``reset``.

    Each sampled sequence is rolled out (``env.rollout``: bit for bit what ``step`` would do), the state it ends in
    is rendered (``env.render_frame``) and encoded, and its energy is the L1 distance of those features to the goal's,
    as in ``LatentRolloutEnergy``. Planner, goals, preprocessing and execution are ``vjepa_ac``'s, so the agent bounds
    what a world model could reach with this encoder: the gap to ``vjepa_ac`` is the predictor's, the gap to
    ``sim_cem`` the image energy's. Any checkpoint with an encoder will do (an official one too); an AC predictor in
    it is not used.
    """

    name = "sim_image_cem"
    needs_predictor = False
    encode_batch = 64
    """Rendered frames encoded per forward pass."""

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        require_sim_env(self.name, env, "rollout", "render_frame")
        self.env = env
        super().reset(observation, info, env)

    def rendered_features(self, actions: np.ndarray) -> torch.Tensor:
        """Normalised features ``(S, P, D)`` of the frames that ``(S, H, 7)`` action sequences end in."""
        frames = np.stack(self.env.rollout(actions, lambda data, _: self.env.render_frame(data)))
        return torch.cat([self.encode(frames[i:i + self.encode_batch])
                          for i in range(0, len(frames), self.encode_batch)])

    def decision_energy(self, observation: dict[str, np.ndarray], goal_features: torch.Tensor) -> EnergyFn:
        def energy(actions: torch.Tensor) -> torch.Tensor:
            features = self.rendered_features(actions.detach().cpu().numpy())
            return (features - goal_features).abs().mean((-2, -1))  # (S,)

        return energy
