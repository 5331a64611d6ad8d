"""``vjepa_ac``: plan with a V-JEPA 2-AC world model (encoder + AC predictor) and CEM, receding horizon."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from vjepa_bench.agents.base import register_agent
from vjepa_bench.assets import asset_path

from vjepa_bench.data.transforms import preprocess_frames
from vjepa_bench.devices import resolve_device
from vjepa_bench.errors import UsageError
from vjepa_bench.goal_schedule import active_goal
from vjepa_bench.models import (
    CheckpointError,
    inference_autocast,
    layer_norm_features,
    load_checkpoint,
)
from vjepa_bench.planning import EnergyFn, LatentRolloutEnergy, Planner, PlannerConfig

BUNDLED_CHECKPOINT = "bundled"
"""Name of the small world model shipped in ``assets/checkpoints/`` (trained by the project's own commands)."""


def resolve_world_model(checkpoint: str) -> str:
    """``"bundled"`` -> the shipped file; anything else is a path or an official name for ``load_checkpoint``."""
    return str(asset_path("checkpoints", "world_model.pt")) if checkpoint == BUNDLED_CHECKPOINT else checkpoint


@register_agent("vjepa_ac")
class VJepaACAgent:
    """Encode the frame and the goal(s), let the planner search actions whose predicted features land closest
    (L1, after the parameter-free layer norm) to the goal, execute the first action and re-plan.

    Goal images are encoded once per episode, the current frame once per decision. With several goals
    (pick-and-place) the goal switches by time step following ``info["goal"]["steps"]`` (4 / 10 / 4).
    Images are preprocessed as at deployment (docs/conventions.md#preprocessing): square centre crop, resize to the encoder's input
    size, ImageNet normalisation.
    """

    name = "vjepa_ac"
    needs_predictor = True
    """Whether the checkpoint must hold an AC predictor (a subclass that predicts otherwise needs the encoder only)."""

    def __init__(
        self,
        checkpoint: str = BUNDLED_CHECKPOINT,
        planner: dict[str, Any] | None = None,
        checkpoint_dir: str | None = None,
        image_size: int | None = None,
        device: str = "auto",
    ) -> None:
        """``device``: where the world model lives and the planner works (``vjepa_bench.devices`` names)."""
        self.device = resolve_device(device, "agent.kwargs.device")
        self.planner = Planner(PlannerConfig.from_dict(planner), self.device)
        source = resolve_world_model(checkpoint)
        try:
            loaded = load_checkpoint(source, checkpoint_dir=checkpoint_dir, device=self.device)
        except CheckpointError as err:
            raise UsageError(f"agent.kwargs.checkpoint={checkpoint!r}: {err}") from None
        if loaded.encoder is None:
            raise UsageError(f"agent.kwargs.checkpoint={checkpoint!r} ({loaded.source}) holds no encoder")
        if self.needs_predictor and loaded.ac_predictor is None:
            raise UsageError(
                f"agent.kwargs.checkpoint={checkpoint!r} ({loaded.source}) must hold an encoder and an AC "
                "predictor; pair an official encoder with a predictor by training one (vjepa-bench train-ac)"
            )
        self.encoder = loaded.encoder.eval()
        self.predictor = loaded.ac_predictor.eval() if self.needs_predictor else None
        self.checkpoint_sha256 = loaded.sha256
        self.device_name = str(self.device)
        self.image_size = image_size or self.encoder.config.img_size[0]
        if self.image_size % self.encoder.config.patch_size:
            raise UsageError(f"agent.kwargs.image_size={self.image_size} is not a multiple of the patch size")
        got = (self.image_size // self.encoder.config.patch_size) ** 2
        if self.needs_predictor and got != self.predictor.tokens_per_frame:
            raise UsageError(
                f"agent.kwargs.image_size={self.image_size} gives {got} tokens per frame but the AC predictor "
                f"was trained on {self.predictor.tokens_per_frame}; use the training image size"
            )
        self._info: dict[str, Any] = {}

    @torch.inference_mode()
    def encode(self, images: np.ndarray) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 -> normalised features ``(N, P, D)`` (one duplicated tubelet per image)."""
        pixels = preprocess_frames(images, self.image_size).to(self.device)  # (N, 3, S, S)
        with inference_autocast(self.device):
            tokens = self.encoder.encode_image(pixels)  # (N, P, D)
        return layer_norm_features(tokens.float())

    def reset(self, observation: dict[str, np.ndarray], info: dict[str, Any], env: Any) -> None:
        goal = info["goal"]
        self.goal_features = self.encode(np.asarray(goal["images"]))  # (K, P, D)
        self.goal_schedule = list(goal["steps"])  # steps each goal is active
        self.steps = 0
        # Each episode its own CEM noise: the planner seed is a hash of planner.seed and the episode's seed.
        self.planner.reset_for_episode(getattr(env, "np_random_seed", None))

    def current_goal(self) -> int:
        """Index of the active goal at this time step."""
        return active_goal(self.steps, self.goal_schedule)

    def decision_energy(self, observation: dict[str, np.ndarray], goal_features: torch.Tensor) -> EnergyFn:
        """The energy of ``(S, H, 7)`` action sequences for this decision: the AC predictor's rollout from the
        encoded frame and state, L1 to the goal (``LatentRolloutEnergy``)."""
        features = self.encode(observation["image"][None])[0]  # (P, D)
        state = torch.as_tensor(observation["state"], dtype=torch.float32, device=self.device)
        return LatentRolloutEnergy(self.predictor, features, state, goal_features)

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        goal_index = self.current_goal()
        result = self.planner.plan(self.decision_energy(observation, self.goal_features[goal_index]))
        self.steps += 1
        self._info = {
            "planning_time_s": result.time_s,
            "energy": result.energy,
            "evaluations": result.evaluations,
            "goal_index": goal_index,
        }
        return result.actions[0]

    def step_info(self) -> dict[str, Any]:
        return dict(self._info)
