"""Planner spec tests on toy energies with known optima: CEM, bounds, gripper rules, determinism, chunking."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from vjepa_bench.devices import resolve_device
from vjepa_bench.errors import UsageError
from vjepa_bench.layout import ACTION_DIM, GRIPPER, POSITION, ROTATION
from vjepa_bench.planning import (
    FAST_CEM_GRAD,
    PAPER_CEM,
    Planner,
    PlannerConfig,
    initial_std,
)
from vjepa_bench.planning import config as config_module

SMALL = PlannerConfig(samples=200, iterations=8, topk=10)


class Recorder:
    """Wraps an energy and keeps every batch of actions it is called with."""

    def __init__(self, energy):
        self.energy = energy
        self.batches: list[torch.Tensor] = []

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        self.batches.append(actions.detach().clone())
        return self.energy(actions)

    @property
    def all(self) -> torch.Tensor:
        return torch.cat([b.reshape(-1, ACTION_DIM) for b in self.batches])


def reach_l1(target):
    """Energy = || sum of position deltas - target ||_1 (the gripper and rotation do not matter)."""
    target = torch.as_tensor(target, dtype=torch.float32)

    def energy(actions):  # (S, H, 7) -> (S,)
        return (actions[..., POSITION].sum(1) - target).abs().sum(-1)

    return energy


def test_documented_defaults_match_code():
    rows = re.findall(r"^(\w[\w /_*]*?)\s{2,}(\S+)\s{2,}\S", config_module.__doc__, re.MULTILINE)
    documented = {}
    for names, value in rows:
        if names == "field":
            continue
        for name in names.split(" / "):
            documented[name.strip()] = value
    defaults = {f.name: f.default for f in dataclasses.fields(PlannerConfig)}
    assert set(documented) | {"momentum_std", "momentum_mean_gripper", "momentum_std_gripper"} >= set(defaults)
    for name, value in documented.items():
        if name == "momentum_*_gripper":
            for full in ("momentum_mean_gripper", "momentum_std_gripper"):
                assert defaults[full] == float(value)
            continue
        name = {"momentum_mean": "momentum_mean", "_std": "momentum_std"}.get(name, name)
        expected = {"None": None, "True": True, "False": False}.get(value, value)
        assert str(defaults[name]) == str(expected), name


def test_paper_preset():
    assert (PAPER_CEM.samples, PAPER_CEM.iterations, PAPER_CEM.topk, PAPER_CEM.horizon) == (800, 10, 10, 1)
    assert PAPER_CEM.method == "cem" and PAPER_CEM.max_position_delta == 0.075 and not PAPER_CEM.plan_rotation
    assert (PAPER_CEM.gripper_clip, PAPER_CEM.gripper_deadband, PAPER_CEM.init_gripper_std) == (0.75, 0.25, 1.0)
    assert PAPER_CEM.momentum_mean == PAPER_CEM.momentum_std == 0.15


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"method": "mppi"}, "method"),
        ({"samples": 0}, "samples"),
        ({"topk": 1}, "topk"),
        ({"samples": 5, "topk": 6}, "topk"),
        ({"horizon": 0}, "horizon"),
        ({"momentum_mean": 1.0}, "momentum_mean"),
        ({"momentum_std_gripper": -0.1}, "momentum_std_gripper"),
        ({"max_position_delta": 0.0}, "max_position_delta"),
        ({"gripper_deadband": 0.8}, "gripper_deadband"),
        ({"max_batch": 0}, "max_batch"),
        ({"init_position_std": float("nan")}, "init_position_std"),
        ({"method": "cem_grad", "grad_candidates": 12}, "grad_candidates"),
        ({"iterations": 2.5}, "iterations"),
    ],
)
def test_config_validation(changes, field):
    with pytest.raises(UsageError, match=rf"planner\.{field}="):
        PlannerConfig(**changes)


def test_gradient_settings_are_checked_only_for_the_gradient_method():
    assert PlannerConfig(method="cem", grad_candidates=12).grad_candidates == 12  # unused by plain CEM


def test_config_rejects_unknown_field():
    with pytest.raises(TypeError):
        PlannerConfig(sample=10)  # typo of `samples`


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UsageError, match="device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA"):
            resolve_device("cuda")


def test_paper_cem_finds_target_to_5mm():
    target = [0.031, -0.052, 0.017]
    result = Planner(PAPER_CEM).plan(reach_l1(target))
    assert result.actions.shape == (1, ACTION_DIM) and result.actions.dtype == np.float32
    assert np.abs(result.actions[0, POSITION] - target).max() < 0.005
    assert result.energy < 0.005
    assert len(result.energies) == len(result.elite_mean_energy) == 10 and result.elite_std.shape == (10, ACTION_DIM)
    assert result.energies[-1] <= result.energies[0]
    # the elite spread shrinks as CEM converges
    assert result.elite_std[-1, POSITION].max() < 0.1 * result.elite_std[0, POSITION].min()
    assert result.evaluations == 800 * 10 + 1 and result.gradient_evaluations == 0
    json.dumps(result.to_dict())


def test_multistep_quadratic_waypoints():
    waypoints = torch.tensor([[0.05, 0.0, -0.02], [0.08, -0.04, -0.03], [0.1, -0.05, 0.02]])  # (H, 3)

    def energy(actions):  # (S, H, 7): squared distance of every imagined position to its waypoint
        return ((actions[..., POSITION].cumsum(1) - waypoints) ** 2).sum((1, 2))

    result = Planner(PAPER_CEM.replace(horizon=3)).plan(energy)
    positions = np.cumsum(result.actions[:, POSITION], 0)
    assert np.abs(positions - waypoints.numpy()).max() < 0.005
    assert result.evaluations == 800 * 10 * 3 + 3


def test_box_bound_is_respected():
    recorder = Recorder(reach_l1([0.3, -0.2, 0.01]))  # far outside the box in x and y
    result = Planner(SMALL).plan(recorder)
    samples = recorder.all
    assert samples[:, POSITION].abs().max() <= 0.075 + 1e-7
    assert result.actions[0, 0] == pytest.approx(0.075, abs=1e-3)
    assert result.actions[0, 1] == pytest.approx(-0.075, abs=1e-3)
    assert result.actions[0, 2] == pytest.approx(0.01, abs=5e-3)
    narrow = Recorder(reach_l1([0.3, -0.2, 0.01]))
    Planner(SMALL.replace(max_position_delta=0.02)).plan(narrow)
    assert narrow.all[:, POSITION].abs().max() <= 0.02 + 1e-7


def test_rotation_zero_unless_planned():
    recorder = Recorder(reach_l1([0.01, 0.02, 0.03]))
    result = Planner(SMALL).plan(recorder)
    assert torch.all(recorder.all[:, ROTATION] == 0) and np.all(result.actions[:, ROTATION] == 0)

    target_rotation = torch.tensor([0.1, -0.05, 0.3])  # z beyond the 0.25 rad bound

    def energy(actions):
        return (actions[:, 0, ROTATION] - target_rotation).abs().sum(-1) + actions[:, 0, POSITION].abs().sum(-1)

    recorder = Recorder(energy)
    result = Planner(SMALL.replace(plan_rotation=True)).plan(recorder)
    assert recorder.all[:, ROTATION].abs().max() <= 0.25 + 1e-7
    np.testing.assert_allclose(result.actions[0, ROTATION], [0.1, -0.05, 0.25], atol=5e-3)


def test_gripper_rules():
    def gripper_energy(goal):
        return lambda actions: (actions[:, 0, GRIPPER.start] - goal).abs()

    recorder = Recorder(gripper_energy(1.0))
    result = Planner(SMALL).plan(recorder)
    first = recorder.batches[0][:, 0, GRIPPER.start]
    assert first.abs().max() <= 0.75 + 1e-7  # clipped to +-0.75
    clipped = (first.abs() == 0.75).float().mean().item()
    assert 0.35 < clipped < 0.55  # init std 1: P(|N(0, 1)| > 0.75) = 0.45
    assert result.actions[0, GRIPPER.start] == pytest.approx(0.75, abs=1e-3)
    # deadband: a planned |g| < 0.25 is output as 0, larger values are kept
    assert Planner(SMALL).plan(gripper_energy(0.2)).actions[0, GRIPPER.start] == 0.0
    assert Planner(SMALL).plan(gripper_energy(-0.4)).actions[0, GRIPPER.start] == pytest.approx(-0.4, abs=5e-3)
    assert Planner(SMALL.replace(gripper_deadband=0.1)).plan(gripper_energy(0.2)).actions[0, 6] == pytest.approx(
        0.2, abs=5e-3
    )
    # not planned: exactly zero everywhere
    recorder = Recorder(gripper_energy(1.0))
    Planner(SMALL.replace(plan_gripper=False)).plan(recorder)
    assert torch.all(recorder.all[:, GRIPPER] == 0)
    assert initial_std(SMALL)[GRIPPER].item() == 1.0
    assert initial_std(SMALL)[POSITION].tolist() == pytest.approx([0.075] * 3)


def test_gripper_momenta_are_separate():
    energy = reach_l1([0.02, 0.01, -0.03])  # independent of the gripper: the elites are the same
    slow = Planner(SMALL.replace(momentum_mean_gripper=0.9, momentum_std_gripper=0.9)).plan(energy)
    fast = Planner(SMALL.replace(momentum_mean_gripper=0.0, momentum_std_gripper=0.0)).plan(energy)
    np.testing.assert_array_equal(slow.actions[:, POSITION], fast.actions[:, POSITION])
    assert slow.elite_std[-1, GRIPPER.start] > fast.elite_std[-1, GRIPPER.start]
    other = Planner(SMALL.replace(momentum_mean=0.9)).plan(energy)
    assert not np.array_equal(other.actions[:, POSITION], fast.actions[:, POSITION])


def test_init_position_std_is_used():
    recorder = Recorder(reach_l1([0.0, 0.0, 0.0]))
    Planner(SMALL.replace(init_position_std=0.01, iterations=1)).plan(recorder)
    assert recorder.batches[0][:, 0, POSITION].std().item() == pytest.approx(0.01, rel=0.15)


def test_deterministic_for_a_seed():
    energy = reach_l1([0.02, 0.03, -0.01])
    config = SMALL.replace(iterations=3, seed=7)
    a, b = Planner(config).plan(energy), Planner(config).plan(energy)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert a.energies == b.energies
    c = Planner(config.replace(seed=8)).plan(energy)
    assert not np.array_equal(a.actions, c.actions)
    planner = Planner(config)
    planner.plan(energy)
    second = planner.plan(energy)
    assert not np.array_equal(second.actions, a.actions)  # the generator advances between decisions
    planner.reset()
    np.testing.assert_array_equal(planner.plan(energy).actions, a.actions)  # reset re-seeds
    planner.reset(seed=8)
    np.testing.assert_array_equal(planner.plan(energy).actions, c.actions)


@pytest.mark.parametrize("method", ["cem", "cem_grad"])
def test_chunking_matches_one_batch(method):
    def energy(actions):  # a smooth, differentiable toy energy
        return ((actions[..., POSITION].cumsum(1) - 0.03) ** 2).sum((1, 2)) + (actions[..., 6] - 0.5).abs().sum(1)

    calls = []

    def counted(actions):
        calls.append(actions.shape[0])
        return energy(actions)

    config = SMALL.replace(method=method, horizon=2, iterations=3, grad_steps=5)
    whole = Planner(config).plan(counted)
    assert max(calls) == 200
    calls.clear()
    chunked = Planner(config.replace(max_batch=7)).plan(counted)
    assert max(calls) == 7
    np.testing.assert_array_equal(whole.actions, chunked.actions)
    assert whole.energies == chunked.energies


def test_warm_start_shifts_previous_plan():
    config = PlannerConfig(
        samples=16, iterations=1, topk=4, horizon=3, init_position_std=1e-6, plan_gripper=False
    )
    energy = reach_l1([0.0, 0.0, 0.0])
    previous = torch.zeros(3, ACTION_DIM)
    previous[:, POSITION] = torch.tensor([[0.01, 0.0, 0.0], [0.02, 0.0, 0.0], [0.03, 0.0, 0.0]])
    warm = Planner(config.replace(warm_start=True))
    warm.previous = previous
    np.testing.assert_allclose(warm.plan(energy).actions[:, 0], [0.02, 0.03, 0.03], atol=1e-4)
    cold = Planner(config)
    cold.previous = previous
    np.testing.assert_allclose(cold.plan(energy).actions[:, 0], [0.0, 0.0, 0.0], atol=1e-4)
    warm.reset()
    assert warm.previous is None


def test_cem_grad_beats_small_budget_on_quadratic():
    waypoints = torch.tensor([[0.04, -0.01, 0.02], [0.07, -0.03, 0.05]])

    def energy(actions):
        return ((actions[..., POSITION].cumsum(1) - waypoints) ** 2).sum((1, 2))

    paper = Planner(PAPER_CEM.replace(horizon=2)).plan(energy)
    fast = Planner(FAST_CEM_GRAD.replace(horizon=2)).plan(energy)
    assert fast.method == "cem_grad" and fast.gradient_evaluations == 4 * 60 * 2
    cem_evaluations, grad_evaluations = 64 * 3 * 2, 4 * (60 + 1) * 2  # samples x iterations x horizon; Adam
    assert fast.evaluations == cem_evaluations + grad_evaluations + 2
    assert fast.evaluations * 5 <= paper.evaluations
    assert fast.energy <= paper.energy + 1e-8
    assert len(fast.energies) == 3 + 61 and len(fast.elite_mean_energy) == 3
