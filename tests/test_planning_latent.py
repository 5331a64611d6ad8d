"""Latent planning: torch state update vs the SciPy reference, the rollout energy vs a naive reference, gradients, and
paper-CEM vs gradient-refined CEM on problems built from small random AC predictors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from torch import nn

from vjepa_bench import layout
from vjepa_bench.models import build_ac_predictor, layer_norm_features
from vjepa_bench.planning import (
    FAST_CEM_GRAD,
    PAPER_CEM,
    LatentRolloutEnergy,
    Planner,
    apply_action,
    euler_xyz_to_matrix,
    matrix_to_euler_xyz,
)
from vjepa_bench.planning.benchmark import (
    compare_planners,
    format_summary,
    latent_problem,
    summarize,
)
import state_reference


class TinyACPredictor(nn.Module):
    """Test double with the AC predictor's contract: ``(z (B, T*P, D), actions, states) -> (B, T*P, D)``,
    block-causal over frames (one attention layer), conditioned on each step's action and state."""

    def __init__(self, dim: int = 32, tokens: int = 8, width: int = 32, seed: int = 0) -> None:
        super().__init__()
        self.tokens_per_frame = tokens
        self.embed = nn.Linear(dim, width)
        self.action = nn.Linear(layout.ACTION_DIM, width)
        self.state = nn.Linear(layout.STATE_DIM, width)
        self.attn = nn.MultiheadAttention(width, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.proj = nn.Linear(width, dim)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) / p.shape[-1] ** 0.5)
        self.eval()

    def forward(self, z: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        batch, n, _ = z.shape
        steps = actions.shape[1]
        cond = self.action(actions / layout.MAX_POSITION_DELTA) + self.state(states)  # (B, T, W)
        h = self.embed(z).view(batch, steps, self.tokens_per_frame, -1) + cond[:, :, None]  # (B, T, P, W)
        h = h.reshape(batch, n, -1)
        frame = torch.arange(steps, device=z.device).repeat_interleave(self.tokens_per_frame)  # (N,)
        h = h + self.attn(h, h, h, attn_mask=frame[None, :] > frame[:, None], need_weights=False)[0]
        return self.proj(h + self.mlp(h))  # (B, N, D)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one intra-op thread is fastest and fair to the other jobs on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_states(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    states = np.concatenate(
        [rng.uniform(-0.5, 0.5, (n, 3)), rng.uniform(-np.pi, np.pi, (n, 1)), rng.uniform(-1.3, 1.3, (n, 1)),
         rng.uniform(-np.pi, np.pi, (n, 1)), rng.uniform(0, 1, (n, 1))], 1
    )
    actions = np.concatenate(
        [rng.uniform(-0.075, 0.075, (n, 3)), rng.uniform(-0.25, 0.25, (n, 3)), rng.uniform(-1, 1, (n, 1))], 1
    )
    return states, actions


def wrapped(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def test_euler_matrix_matches_scipy():
    states, _ = random_states(200, 0)
    angles = torch.tensor(states[:, layout.ROTATION], dtype=torch.float64)
    np.testing.assert_allclose(
        euler_xyz_to_matrix(angles).numpy(), Rotation.from_euler("xyz", angles.numpy()).as_matrix(), atol=1e-12
    )
    back = matrix_to_euler_xyz(euler_xyz_to_matrix(angles)).numpy()
    np.testing.assert_allclose(wrapped(back - angles.numpy()), 0, atol=1e-9)


def test_apply_action_matches_the_scipy_reference():
    states, actions = random_states(500, 1)
    expected = state_reference.apply_action(states, actions)  # (N, 7) float32 via SciPy
    got = apply_action(torch.tensor(states, dtype=torch.float32), torch.tensor(actions, dtype=torch.float32))
    got = got.numpy()
    np.testing.assert_allclose(got[:, layout.POSITION], expected[:, layout.POSITION], atol=1e-6)
    np.testing.assert_allclose(wrapped(got[:, layout.ROTATION] - expected[:, layout.ROTATION]), 0, atol=1e-5)
    np.testing.assert_allclose(got[:, layout.GRIPPER], expected[:, layout.GRIPPER], atol=1e-6)
    assert got[:, layout.GRIPPER].min() >= 0 and got[:, layout.GRIPPER].max() <= 1
    # broadcasting one state against many actions
    one = apply_action(torch.tensor(states[0], dtype=torch.float32), torch.tensor(actions[:4], dtype=torch.float32))
    np.testing.assert_allclose(one.numpy()[:, :3], state_reference.apply_action(states[0], actions[:4])[:, :3], atol=1e-6)


def test_apply_action_is_differentiable():
    states, actions = random_states(8, 2)
    action = torch.tensor(actions, requires_grad=True)
    apply_action(torch.tensor(states), action)[:, :6].sum().backward()
    assert torch.isfinite(action.grad).all() and action.grad[:, layout.ROTATION].abs().sum() > 0


def make_energy(predictor, dim, seed=0):
    generator = torch.Generator().manual_seed(seed)
    context = layer_norm_features(torch.randn(predictor.tokens_per_frame, dim, generator=generator))
    goal = layer_norm_features(torch.randn(predictor.tokens_per_frame, dim, generator=generator))
    state = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.9, 0.2])
    return LatentRolloutEnergy(predictor, context, state, goal), context, state, goal


def test_rollout_energy_matches_naive_reference():
    predictor = TinyACPredictor()
    energy, context, state, goal = make_energy(predictor, 32)
    actions = torch.rand(5, 3, 7, generator=torch.Generator().manual_seed(3)) * 0.15 - 0.075  # (S, H, 7)
    with torch.inference_mode():
        batched = energy(actions)
    for s in range(actions.shape[0]):  # one sample at a time, states from the SciPy reference
        frames, states = [context], [state.numpy()]
        for t in range(actions.shape[1]):
            z = torch.cat(frames)[None]  # (1, (t+1) P, D)
            a = actions[s, : t + 1][None]
            out = predictor(z, a, torch.tensor(np.stack(states))[None])
            frames.append(layer_norm_features(out[0, -predictor.tokens_per_frame :]))
            states.append(state_reference.apply_action(states[-1], actions[s, t].numpy()))
        reference = (frames[-1] - goal).abs().mean()
        assert batched[s].item() == pytest.approx(reference.item(), abs=1e-5)


def test_rollout_uses_every_action_and_state():
    predictor = TinyACPredictor()
    energy, *_ = make_energy(predictor, 32)
    actions = torch.zeros(1, 2, 7)
    with torch.inference_mode():
        base = energy(actions)
        for t in range(2):
            moved = actions.clone()
            moved[0, t, 0] = 0.05
            assert energy(moved) != base
        rotated = actions.clone()
        rotated[0, 0, 4] = 0.2  # rotation of step 0 only acts through the imagined state of step 1
        assert energy(rotated) != base
        frames = energy.rollout(torch.zeros(4, 3, 7))
    assert frames.shape == (4, 3, 8, 32)
    torch.testing.assert_close(frames.mean(-1), torch.zeros(4, 3, 8), atol=1e-5, rtol=0)  # layer-normed


def test_rollout_energy_is_differentiable_from_inference_features():
    predictor = TinyACPredictor()
    with torch.inference_mode():  # features encoded under inference mode, as an agent does
        energy, *_ = make_energy(predictor, 32)
    actions = torch.full((3, 2, 7), 0.01, requires_grad=True)
    energy(actions).sum().backward()
    assert torch.isfinite(actions.grad).all() and actions.grad[..., layout.POSITION].abs().sum() > 0


def test_rollout_energy_checks_shapes():
    predictor = TinyACPredictor()
    context = torch.zeros(8, 32)
    with pytest.raises(ValueError, match="context_features"):
        LatentRolloutEnergy(predictor, torch.zeros(7, 32), torch.zeros(7), torch.zeros(7, 32))
    with pytest.raises(ValueError, match="goal_features"):
        LatentRolloutEnergy(predictor, context, torch.zeros(7), torch.zeros(8, 16))
    with pytest.raises(ValueError, match="context_state"):
        LatentRolloutEnergy(predictor, context, torch.zeros(6), context)
    with pytest.raises(ValueError, match="actions"):
        LatentRolloutEnergy(predictor, context, torch.zeros(7), context)(torch.zeros(3, 6))


def test_latent_chunking_matches_one_batch():
    energy, _ = latent_problem(TinyACPredictor(), 32, horizon=2)
    config = PAPER_CEM.replace(samples=100, iterations=3, horizon=2)
    whole = Planner(config).plan(energy)
    chunked = Planner(config.replace(max_batch=32)).plan(energy)
    np.testing.assert_allclose(whole.actions, chunked.actions, atol=1e-6)
    np.testing.assert_allclose(whole.energies, chunked.energies, rtol=1e-5)


def test_known_optimum_is_found():
    energy, target = latent_problem(TinyACPredictor(), 32, goal_noise=0.0, seed=3)
    result = Planner(PAPER_CEM).plan(energy)
    assert np.abs(result.actions - target.numpy()).max() < 0.005
    assert result.energy < 1e-3


@pytest.mark.parametrize("horizon", [1, 2])
def test_cem_grad_matches_paper_cem_with_5x_fewer_evaluations(horizon):
    torch.manual_seed(0)
    rows = compare_planners(TinyACPredictor(), 32, problems=3, horizon=horizon)
    paper, fast = summarize(rows)
    print(f"\nhorizon {horizon}\n{format_summary([paper, fast])}")
    assert (paper["config"], fast["config"]) == ("paper_cem", "cem_grad")
    assert fast["evaluations"] * 5 <= paper["evaluations"]
    assert (fast["evaluations"] + 2 * fast["gradient_evaluations"]) * 5 <= paper["evaluations"]
    # same final energy up to 1e-4 relative (float32 and, on GPU, bf16 noise are larger), lower on average for H>1
    assert fast["worst_gap"] <= 1e-4
    if horizon > 1:
        assert fast["mean_gap"] < 0


def test_with_real_ac_predictor_preset():
    predictor = build_ac_predictor(
        "ac_tiny", embed_dim=16, predictor_embed_dim=48, depth=2, num_heads=3, mlp_hidden_dim=96, img_size=32
    ).eval()
    energy, target = latent_problem(predictor, 16, horizon=2, goal_noise=0.0, seed=1)
    with torch.inference_mode():
        assert energy(target[None]).item() < 1e-5  # the goal is the predictor's own rollout of the target
        assert energy(torch.zeros(1, 2, 7)).item() > 1e-3
    config = PAPER_CEM.replace(samples=200, iterations=4, horizon=2)
    paper = Planner(config).plan(energy)
    fast = Planner(FAST_CEM_GRAD.replace(horizon=2)).plan(energy)
    assert np.isfinite(paper.energy) and np.isfinite(fast.energy)
    assert fast.energy <= paper.energy
