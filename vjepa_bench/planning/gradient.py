"""Gradient refinement of candidate plans: projected Adam through a differentiable energy.

Shapes: N candidates, H horizon steps, A = 7 action dims, Ap planned dims. The candidates are optimised in
parallel (one batched energy call per step, each candidate's energy depends only on its own actions), in
normalised coordinates ``x = a / bound`` projected back to the box ``[-1, 1]`` after every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vjepa_bench.layout import ACTION_DIM
from vjepa_bench.planning.cem import EnergyFn, action_bound, planned_dims, require_finite_energy
from vjepa_bench.planning.config import PlannerConfig

LR_FLOOR = 0.01
"""The learning rate decays by a cosine from ``grad_lr`` to ``LR_FLOOR * grad_lr``."""
ADAM_BETAS = (0.5, 0.9)
"""Short Adam memories: the L1 energy is piecewise linear, its gradient changes abruptly near the minimum, and
the default (0.9, 0.999) keeps early large gradients in ``v`` and crawls along flat directions (measured on
the tiny-predictor problems of ``planning.benchmark``: final energies 2-5x further above CEM's)."""


@dataclass(frozen=True)
class RefineOutput:
    """Result of ``refine``."""

    actions: torch.Tensor  # (H, A) best plan seen over all candidates and steps
    best_energy: torch.Tensor  # (steps + 1,) best energy so far over all candidates, after each evaluation
    evaluations: int  # forward sample-steps: N * (steps + 1) * H
    gradient_evaluations: int  # sample-steps back-propagated: N * steps * H


def _energy_and_grad(
    energy_fn: EnergyFn, x: torch.Tensor, dims: torch.Tensor, bound: torch.Tensor, max_batch: int | None, grad: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    energies, grads = [], []
    for chunk in x.split(max_batch or x.shape[0]):  # (n, H, Ap) views of x
        actions = torch.zeros(*chunk.shape[:2], ACTION_DIM, device=x.device).index_copy(2, dims, chunk * bound)
        energy = energy_fn(actions).float()  # (n,)
        if grad:
            grads.append(torch.autograd.grad(energy.sum(), chunk)[0])  # (n, H, Ap)
        energies.append(energy.detach())
    return torch.cat(energies), torch.cat(grads) if grad else None  # (N,), (N, H, Ap)


def refine(energy_fn: EnergyFn, config: PlannerConfig, candidates: torch.Tensor) -> RefineOutput:
    """Refine ``candidates (N, H, 7)`` by ``config.grad_steps`` projected Adam steps on ``energy_fn``.

    Learning rate ``config.grad_lr`` (in units of each dim's bound), cosine-decayed to ``LR_FLOOR`` times that.
    Returns the lowest-energy plan evaluated (the candidates included). Must run outside ``inference_mode``.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("refine needs autograd: call it outside torch.inference_mode")
    device = candidates.device
    dims = torch.tensor(planned_dims(config), device=device)  # (Ap,)
    bound = action_bound(config, device)[dims]  # (Ap,)
    x = (candidates[..., dims] / bound).clamp(-1.0, 1.0).detach().clone().requires_grad_(True)  # (N, H, Ap)
    optimizer = torch.optim.Adam([x], lr=config.grad_lr, betas=ADAM_BETAS)
    best_x = x.detach().clone()  # (N, H, Ap)
    best_e = torch.full((x.shape[0],), math.inf, device=device)  # (N,)
    history = []
    finite = torch.ones((), dtype=torch.bool, device=device)
    steps = config.grad_steps
    for step in range(steps + 1):
        last = step == steps
        with torch.set_grad_enabled(not last):
            energies, grad = _energy_and_grad(energy_fn, x, dims, bound, config.max_batch, not last)  # (N,)
        finite &= torch.isfinite(energies).all()
        better = energies < best_e  # (N,)
        best_e = torch.where(better, energies, best_e)  # (N,)
        best_x = torch.where(better[:, None, None], x.detach(), best_x)  # (N, H, Ap)
        history.append(best_e.min())
        if last:
            break
        lr = config.grad_lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        x.grad = grad
        optimizer.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
    require_finite_energy(finite, "gradient refinement")
    winner = best_e.argmin()  # ()
    actions = torch.zeros(candidates.shape[1], ACTION_DIM, device=device)  # (H, A)
    actions[:, dims] = best_x[winner] * bound
    n, horizon = candidates.shape[:2]
    return RefineOutput(
        actions=actions,
        best_energy=torch.stack(history),
        evaluations=n * (steps + 1) * horizon,
        gradient_evaluations=n * steps * horizon,
    )
