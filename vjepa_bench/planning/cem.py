"""The cross-entropy method over (horizon, 7) action sequences, as one batched tensor function.

Shapes: S samples, H horizon steps, A = 7 action dims, Ap planned dims, K elites, I iterations.
Only the planned dims are sampled (position always; rotation and gripper when configured); the others are
exactly 0. Nothing in the loop moves data to the host; a non-finite energy is reported once, after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from vjepa_bench.layout import ACTION_DIM, GRIPPER, POSITION, ROTATION
from vjepa_bench.planning.config import PlannerConfig

EnergyFn = Callable[[torch.Tensor], torch.Tensor]
"""Maps action sequences ``(S, H, 7)`` to energies ``(S,)`` (lower is better)."""


class NonFiniteEnergy(RuntimeError):
    """The world model gave a NaN or infinite energy: its plan would be meaningless. The message starts with
    "world model produced non-finite energy"; a caller may add which checkpoint it was."""


def require_finite_energy(finite: torch.Tensor, where: str) -> None:
    """Raise :class:`NonFiniteEnergy` unless the boolean ``finite`` is true (one host sync)."""
    if not bool(finite):
        raise NonFiniteEnergy(
            f"world model produced non-finite energy (NaN or infinity) during {where}; its weights or inputs are "
            "broken: check the checkpoint (re-train or download it again) and the observations"
        )


def planned_dims(config: PlannerConfig) -> list[int]:
    """Indices of the action dims the planner optimises, in layout order."""
    dims = list(range(ACTION_DIM)[POSITION])
    if config.plan_rotation:
        dims += list(range(ACTION_DIM)[ROTATION])
    if config.plan_gripper:
        dims += list(range(ACTION_DIM)[GRIPPER])
    return dims


def action_bound(config: PlannerConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """Per-dim box half-width ``(A,)``: samples are clipped to ``[-bound, bound]``; 0 for dims not planned."""
    bound = torch.zeros(ACTION_DIM)
    bound[POSITION] = config.max_position_delta
    if config.plan_rotation:
        bound[ROTATION] = config.max_rotation_delta
    if config.plan_gripper:
        bound[GRIPPER] = config.gripper_clip
    return bound.to(device)


def initial_std(config: PlannerConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """Initial sampling std ``(A,)``; 0 for dims not planned."""
    std = torch.zeros(ACTION_DIM)
    std[POSITION] = config.init_position_std or config.max_position_delta
    if config.plan_rotation:
        std[ROTATION] = config.init_rotation_std or config.max_rotation_delta
    if config.plan_gripper:
        std[GRIPPER] = config.init_gripper_std
    return std.to(device)


def _momenta(config: PlannerConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    m_mean = torch.full((ACTION_DIM,), config.momentum_mean)
    m_std = torch.full((ACTION_DIM,), config.momentum_std)
    m_mean[GRIPPER] = config.momentum_mean_gripper
    m_std[GRIPPER] = config.momentum_std_gripper
    return m_mean.to(device), m_std.to(device)  # (A,), (A,)


def score_candidates(energy_fn: EnergyFn, actions: torch.Tensor, max_batch: int | None) -> torch.Tensor:
    """``energy_fn`` over ``(S, H, A)`` in chunks of at most ``max_batch`` sequences -> ``(S,)``."""
    if max_batch is None or actions.shape[0] <= max_batch:
        return energy_fn(actions)  # (S,)
    return torch.cat([energy_fn(chunk) for chunk in actions.split(max_batch)])  # (S,)


@dataclass(frozen=True)
class CEMOutput:
    """Result of ``cem``; all tensors on the planner's device."""

    mean: torch.Tensor  # (H, A) final sampling mean: the plan
    elites: torch.Tensor  # (K, H, A) last iteration's elites, best first
    best_energy: torch.Tensor  # (I,) lowest sample energy per iteration
    elite_mean_energy: torch.Tensor  # (I,) mean elite energy per iteration
    elite_std: torch.Tensor  # (I, A) elite std per iteration, averaged over the horizon
    evaluations: int  # predictor sample-steps: S * I * H


def cem(
    energy_fn: EnergyFn,
    config: PlannerConfig,
    generator: torch.Generator,
    init_mean: torch.Tensor | None = None,
    init_std: torch.Tensor | None = None,
) -> CEMOutput:
    """Minimise ``energy_fn`` over ``(H, 7)`` action sequences with the CEM of docs/conventions.md#cem.

    Each iteration draws S sequences from N(mean, std) in the planned dims, clips them to the per-dim box
    (``action_bound``), scores all of them (one ``energy_fn`` call unless ``config.max_batch`` chunks it),
    keeps the K lowest and moves ``mean <- (1 - m) elite_mean + m mean``, ``std <- (1 - m_s) elite_std + m_s std``
    with separate momenta for the gripper. Runs on ``generator.device``; deterministic for a given generator
    state on CPU.

    Args:
        energy_fn: ``(S, H, 7) -> (S,)``.
        config: sizes, bounds, momenta.
        generator: source of all randomness, on the device to plan on.
        init_mean: ``(H, 7)`` initial mean (e.g. the shifted previous plan); zeros if None.
        init_std: ``(H, 7)`` initial std; ``initial_std(config)`` if None.
    """
    device = generator.device
    horizon, samples, topk = config.horizon, config.samples, config.topk
    dims = torch.tensor(planned_dims(config), device=device)  # (Ap,)
    bound = action_bound(config, device)  # (A,)
    m_mean, m_std = _momenta(config, device)  # (A,), (A,)
    mean = torch.zeros(horizon, ACTION_DIM, device=device) if init_mean is None else init_mean.to(device)  # (H, A)
    std = initial_std(config, device).expand(horizon, ACTION_DIM) if init_std is None else init_std.to(device)
    mean = mean * (bound > 0)  # (H, A) dims not planned stay exactly 0
    std = std * (bound > 0)  # (H, A)
    best, elite_mean_energy, spread = [], [], []
    finite = torch.ones((), dtype=torch.bool, device=device)
    for _ in range(config.iterations):
        noise = torch.randn(samples, horizon, len(dims), generator=generator, device=device)  # (S, H, Ap)
        sampled = mean[:, dims] + std[:, dims] * noise  # (S, H, Ap)
        actions = torch.zeros(samples, horizon, ACTION_DIM, device=device).index_copy(2, dims, sampled)  # (S, H, A)
        actions = torch.maximum(torch.minimum(actions, bound), -bound)  # (S, H, A) per-dim box
        energies = score_candidates(energy_fn, actions, config.max_batch).float()  # (S,)
        finite &= torch.isfinite(energies).all()
        elite_energies, elite_idx = torch.topk(energies, topk, largest=False, sorted=True)  # (K,), (K,)
        elites = actions[elite_idx]  # (K, H, A)
        elite_std = elites.std(0)  # (H, A) unbiased
        mean = (1 - m_mean) * elites.mean(0) + m_mean * mean  # (H, A)
        std = (1 - m_std) * elite_std + m_std * std  # (H, A)
        best.append(elite_energies[0])
        elite_mean_energy.append(elite_energies.mean())
        spread.append(elite_std.mean(0))  # (A,)
    require_finite_energy(finite, "CEM")
    return CEMOutput(
        mean=mean,
        elites=elites,
        best_energy=torch.stack(best),  # (I,)
        elite_mean_energy=torch.stack(elite_mean_energy),  # (I,)
        elite_std=torch.stack(spread),  # (I, A)
        evaluations=samples * config.iterations * horizon,
    )
