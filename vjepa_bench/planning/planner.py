"""``Planner``: picks the optimiser from the config, owns the random generator and the warm-start state."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from vjepa_bench.layout import GRIPPER
from vjepa_bench.planning.cem import EnergyFn, cem, require_finite_energy, score_candidates
from vjepa_bench.planning.config import PlannerConfig
from vjepa_bench.planning.gradient import refine


def episode_seed(planner_seed: int, episode_seed: int | None) -> int:
    """The planner seed of one episode: a stable hash (BLAKE2b, 63 bits) of ``planner.seed`` and the episode's
    seed, so that every episode draws its own CEM noise and the same pair always draws the same noise (across
    processes and machines). ``episode_seed`` None or negative (unknown) -> ``planner_seed`` itself."""
    if episode_seed is None or int(episode_seed) < 0:
        return int(planner_seed)
    digest = hashlib.blake2b(f"vjepa-bench planner {int(planner_seed)} {int(episode_seed)}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@dataclass(frozen=True)
class PlanResult:
    """A plan and how it was found.

    Attributes:
        actions: ``(H, 7)`` float32; row 0 is the action to execute. Gripper deadband applied.
        energy: energy of ``actions`` (evaluated once more after the deadband).
        energies: best energy per optimiser iteration: the lowest sample energy of each CEM iteration, then
            (``cem_grad``) the best so far after each Adam step.
        elite_mean_energy: mean elite energy per CEM iteration (``CEMOutput.elite_mean_energy``).
        elite_std: ``(iterations, 7)`` elite std per CEM iteration (averaged over the horizon), per action dim.
        evaluations: predictor sample-steps run forward (sequences x horizon steps, summed over all energy
            calls, including the final evaluation of ``actions``); FLOPs ~ evaluations x one predictor step.
        gradient_evaluations: sample-steps also back-propagated (``cem_grad`` only; each costs about one to
            two more forward passes).
        time_s: wall time of ``plan`` (device synchronised).
        method: the optimiser used.
    """

    actions: np.ndarray
    energy: float
    energies: list[float]
    elite_mean_energy: list[float]
    elite_std: np.ndarray
    evaluations: int
    gradient_evaluations: int
    time_s: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable diagnostics (for an agent's ``step_info``)."""
        out = asdict(self)
        out["actions"] = self.actions.tolist()
        out["elite_std"] = self.elite_std.tolist()
        return out


def apply_deadband(actions: torch.Tensor, config: PlannerConfig) -> torch.Tensor:
    """The repo's output rule: a gripper delta with ``|g| < gripper_deadband`` becomes 0. ``(H, 7) -> (H, 7)``."""
    out = actions.clone()  # (H, 7)
    gripper = out[..., GRIPPER]  # (H, 1) view
    gripper[gripper.abs() < config.gripper_deadband] = 0.0
    return out


class Planner:
    """Receding-horizon planner: ``plan(energy_fn)`` once per decision, ``reset()`` between episodes.

    The planner works on ``device``, the device of the tensors its energy takes and gives (the world model's:
    the agent that owns the model chooses it, e.g. ``agent.kwargs.device``). ``energy_fn`` maps ``(S, H, 7)``
    action sequences on ``device`` to ``(S,)`` energies, e.g. a ``LatentRolloutEnergy`` built from the current
    frame, state and goal. CEM runs under ``torch.inference_mode``; ``cem_grad`` then refines with autograd (the
    energy must be differentiable).
    """

    def __init__(self, config: PlannerConfig = PlannerConfig(), device: torch.device | str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous plan and re-seed the generator (``config.seed`` unless ``seed`` is given)."""
        self.generator.manual_seed(self.config.seed if seed is None else seed)
        self.previous: torch.Tensor | None = None  # (H, 7) last raw plan, for the warm start

    def reset_for_episode(self, episode: int | None) -> None:
        """``reset`` for a new episode with seed ``episode`` (the env's ``np_random_seed``, Gymnasium >= 1.0):
        the generator is seeded with ``episode_seed(config.seed, episode)``; None = ``config.seed``."""
        self.reset(episode_seed(self.config.seed, episode))

    def plan(self, energy_fn: EnergyFn) -> PlanResult:
        """Optimise an ``(H, 7)`` plan for ``energy_fn``; see ``PlanResult``."""
        config = self.config
        start = time.perf_counter()
        init_mean = None
        if config.warm_start and self.previous is not None:
            init_mean = torch.cat((self.previous[1:], self.previous[-1:]))  # (H, 7) shifted, last step repeated
        with torch.inference_mode():
            out = cem(energy_fn, config, self.generator, init_mean)
        plan, energies, evaluations, gradient_evaluations = out.mean, out.best_energy, out.evaluations, 0
        if config.method == "cem_grad":
            candidates = torch.cat((out.mean[None], out.elites[: config.grad_candidates - 1])).clone()  # (N, H, 7)
            refined = refine(energy_fn, config, candidates)
            plan = refined.actions  # (H, 7)
            energies = torch.cat((energies, refined.best_energy))
            evaluations += refined.evaluations
            gradient_evaluations = refined.gradient_evaluations
        with torch.inference_mode():
            self.previous = plan.detach().clone()  # (H, 7)
            actions = apply_deadband(plan.detach(), config)  # (H, 7)
            energy = score_candidates(energy_fn, actions[None], config.max_batch)[0]  # ()
            require_finite_energy(torch.isfinite(energy), "the final evaluation of the plan")
        evaluations += config.horizon
        host = [t.detach().float().cpu() for t in (actions, energy, energies, out.elite_mean_energy, out.elite_std)]
        return PlanResult(
            actions=host[0].numpy().astype(np.float32),
            energy=float(host[1]),
            energies=host[2].tolist(),
            elite_mean_energy=host[3].tolist(),
            elite_std=host[4].numpy(),
            evaluations=evaluations,
            gradient_evaluations=gradient_evaluations,
            time_s=time.perf_counter() - start,
            method=config.method,
        )
