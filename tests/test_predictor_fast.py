"""The AC predictor's fast path against its reference path: cached RoPE tables, the de-interleaved RoPE, the
context embedded once for a batch that shares it (and its one-step attention merged per sample), in-place
residuals, oneDNN matmuls with packed weights; random seeded weights, float32, CPU."""

from __future__ import annotations

import copy
import io
import platform

import pytest
import torch
import torch.nn.functional as F

from vjepa_bench.models import ac_predictor, blocks, build_ac_predictor
from vjepa_bench.models.ac_predictor import shared_context_attention
from vjepa_bench.models.rope import (
    RopeTables,
    apply_rope,
    apply_rope_fast,
    deinterleave_permutation,
    rope_tables,
)
from vjepa_bench.planning import LatentRolloutEnergy
from vjepa_bench.planning.benchmark import BENCH_STATE, compare_predictor_paths

ATOL = 1e-5


def _predictor(seed: int = 0, **overrides):
    """A small AC predictor whose every parameter is random (biases and LayerNorms included, unlike the init)."""
    config = dict(embed_dim=32, predictor_embed_dim=48, depth=2, num_heads=3, mlp_hidden_dim=96, img_size=64)
    config.update(overrides)
    predictor = build_ac_predictor("ac_tiny", **config).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in predictor.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            p.copy_(1 + 0.1 * noise if name.endswith("norm1.weight") or name.endswith("norm2.weight") else 0.2 * noise)
    return predictor


def _inputs(predictor, batch: int, steps: int, shared: bool, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    n, d = predictor.tokens_per_frame, predictor.embed_dim
    if shared:  # one context for the whole batch, as LatentRolloutEnergy passes it
        z = torch.randn(1, steps * n, d, generator=generator).expand(batch, -1, -1)
    else:
        z = torch.randn(batch, steps * n, d, generator=generator)
    actions = 0.1 * torch.randn(batch, steps, 7, generator=generator)
    states = torch.randn(batch, steps, 7, generator=generator)
    return z, actions, states


# ------------------------------------------------------------------------------------------- RoPE tables


@pytest.mark.parametrize("tiled", [True, False])
@pytest.mark.parametrize("head_dim", [64, 16])
def test_fast_rope_equals_apply_rope(tiled: bool, head_dim: int) -> None:
    generator = torch.Generator().manual_seed(0)
    pos = [torch.randint(0, 9, (40,), generator=generator) for _ in range(3)]
    pos[0][:10] = 0  # some tokens at t = 0, as the AC predictor's first step
    cos, sin = rope_tables(tuple(pos), head_dim, tiled)
    tables = RopeTables(cos, sin)
    x = torch.randn(2, 40, 4, head_dim, generator=generator)  # (B, N, groups, hd)
    expected = apply_rope(x.transpose(1, 2), cos, sin).transpose(1, 2)  # (B, N, groups, hd)
    perm = deinterleave_permutation(head_dim)
    got = apply_rope_fast(x[..., perm], tables.fast(torch.float32, 4))
    assert torch.allclose(got, expected[..., perm], atol=1e-6, rtol=0)
    bias = torch.randn(4, head_dim, generator=generator)  # a bias added before RoPE, rotated on its own
    rotated_bias = apply_rope_fast(bias[:, perm].expand(40, 4, head_dim), tables.fast(torch.float32, 4))
    with_bias = apply_rope_fast(x[..., perm], tables.fast(torch.float32, 4), rotated_bias)
    expected = apply_rope((x + bias).transpose(1, 2), cos, sin).transpose(1, 2)
    assert torch.allclose(with_bias, expected[..., perm], atol=1e-5, rtol=0)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_cached_tables_equal_fresh_ones(steps: int) -> None:
    """The predictor's cached tables are rope_tables' values (tiled frequencies; action/state tokens rotated on
    the temporal segment only), and the cached per-dtype forms are those values converted."""
    predictor = _predictor(img_size=64)
    tables, mask = predictor._step_tables(steps, torch.device("cpu"))
    c = predictor.config
    rows, cols = c.grid
    n = rows * cols
    ids = torch.arange(n)
    t = torch.arange(steps).repeat_interleave(n).view(steps, n)
    cos_p, sin_p = rope_tables((t, (ids // cols).expand(steps, n), (ids % cols).expand(steps, n)), c.head_dim)
    t_cond = torch.arange(steps).repeat_interleave(2).view(steps, 2)
    cos_c, sin_c = rope_tables((t_cond, None, None), c.head_dim)
    assert torch.equal(tables.cos, torch.cat((cos_c, cos_p), 1).flatten(0, 1))
    assert torch.equal(tables.sin, torch.cat((sin_c, sin_p), 1).flatten(0, 1))
    assert (mask is None) == (steps == 1)
    cos16, sin16 = tables.full(torch.bfloat16)
    assert torch.equal(cos16, tables.cos.to(torch.bfloat16)) and torch.equal(sin16, tables.sin.to(torch.bfloat16))
    fast = tables.fast(torch.float32, 6)
    perm = deinterleave_permutation(c.head_dim)
    assert torch.equal(fast.cos, tables.cos[:, perm].unsqueeze(1).expand(-1, 6, -1))
    half = c.head_dim // 2
    sin = tables.sin[:, perm]
    assert torch.count_nonzero(sin[:, : fast.lo]) == 0 and torch.count_nonzero(sin[:, fast.hi : half]) == 0
    assert torch.equal(fast.sin_even[:, 0], -sin[:, fast.lo : fast.hi])
    assert torch.equal(fast.sin_odd[:, 0], sin[:, half + fast.lo : half + fast.hi])
    if steps == 1:  # t = 0 everywhere: the temporal segment is not rotated
        assert fast.lo == (c.head_dim // 3) // 2


def test_rope_cache_is_reused_and_rebuilt_for_a_new_shape() -> None:
    predictor = _predictor()
    cpu = torch.device("cpu")
    z, actions, states = _inputs(predictor, 3, 1, shared=True)
    with torch.inference_mode():
        predictor(z, actions, states)
    tables, mask = predictor._step_tables(1, cpu)
    fast = tables.fast(torch.float32, 2 * predictor.config.num_heads)
    with torch.inference_mode():
        predictor(z, actions, states)  # a second forward reuses everything
    again = predictor._step_tables(1, cpu)
    assert again[0] is tables and again[1] is mask
    assert tables.fast(torch.float32, 2 * predictor.config.num_heads) is fast
    assert tables.full(torch.float32) is tables.full(torch.float32)
    assert tables.fast(torch.bfloat16, 6) is not fast  # another dtype: another entry
    assert tables.fast(torch.bfloat16, 6).cos.dtype == torch.bfloat16
    z2, actions2, states2 = _inputs(predictor, 3, 2, shared=False)
    with torch.inference_mode():
        predictor(z2, actions2, states2)
    two, mask2 = predictor._step_tables(2, cpu)
    assert two is not tables and two.cos.shape[0] == 2 * tables.cos.shape[0] and mask2 is not None
    assert predictor._step_tables(1, cpu)[0] is tables  # the first shape's entry is still there, unchanged
    for steps in range(3, 21):  # a bounded cache: cleared when it overflows, then rebuilt on demand
        predictor._step_tables(steps, cpu)
    assert len(predictor._cache) <= 17
    rebuilt = predictor._step_tables(1, cpu)[0]
    assert torch.equal(rebuilt.cos, tables.cos) and torch.equal(rebuilt.sin, tables.sin)


# ------------------------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("loudness", [1.0, 30.0])
@pytest.mark.parametrize("patches", [1, 9])
def test_shared_context_attention_equals_attention_over_the_whole_sequence(loudness: float, patches: int) -> None:
    """Against SDPA over the batch's full sequences; ``loudness`` scales the queries so some scores reach ~100
    and one side (a sample's own keys, or the shared ones) takes nearly all of a query's weight."""
    generator = torch.Generator().manual_seed(3)
    batch, cond, heads, hd = 5, 2, 3, 16
    q_c, k_c, v_c = (torch.randn(batch, cond, heads, hd, generator=generator) for _ in range(3))
    q_p, k_p, v_p = (torch.randn(patches, heads, hd, generator=generator) for _ in range(3))
    q_c, q_p = loudness * q_c, loudness * q_p
    k_c[0] *= 3  # sample 0's own keys dominate, the rest compete with the shared ones

    def whole(c: torch.Tensor, p: torch.Tensor) -> torch.Tensor:  # (B, c + n, H, hd) -> head-major
        return torch.cat((c, p.expand(batch, -1, -1, -1)), dim=1).transpose(1, 2)

    expected = F.scaled_dot_product_attention(whole(q_c, q_p), whole(k_c, k_p), whole(v_c, v_p)).transpose(1, 2)
    with torch.inference_mode():
        got = shared_context_attention(q_c, k_c, v_c, q_p, k_p, v_p)
    assert got.shape == (batch, cond + patches, heads, hd)
    assert (got - expected).abs().max().item() <= ATOL


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN's linear: x86-64 wheels")
def test_onednn_linear_works_with_the_pinned_torch() -> None:
    """The CPU fast path's matmuls run through oneDNN with the torch the README installs."""
    assert blocks.onednn_linear_works()


@pytest.mark.skipif(not blocks.onednn_linear_works(), reason="this torch build has no working oneDNN linear op")
def test_onednn_linear_equals_f_linear_and_repacks_a_changed_weight() -> None:
    generator = torch.Generator().manual_seed(4)
    layer = torch.nn.Linear(24, 40)
    x = torch.randn(3, 7, 24, generator=generator)
    with torch.inference_mode():
        first = blocks.linear(x, layer.weight, layer.bias, owner=layer)
        assert blocks.derived_weights(layer)._entries["onednn"][0] is layer.weight  # packed, cached on the owner
        assert (first - F.linear(x, layer.weight, layer.bias)).abs().max().item() <= ATOL
        fused = blocks.linear(x, layer.weight, layer.bias, gelu=True, owner=layer)
        assert (fused - F.gelu(F.linear(x, layer.weight, layer.bias))).abs().max().item() <= ATOL
    with torch.no_grad():
        layer.weight.mul_(-2)  # in place: a new version
    with torch.inference_mode():
        assert (blocks.linear(x, layer.weight, layer.bias, owner=layer) - F.linear(x, layer.weight, layer.bias)).abs().max().item() <= ATOL
    layer.weight.data = torch.randn(40, 24, generator=generator)  # replaced storage, same Parameter object
    with torch.inference_mode():
        assert (blocks.linear(x, layer.weight, layer.bias, owner=layer) - F.linear(x, layer.weight, layer.bias)).abs().max().item() <= ATOL
    leaf = x.clone().requires_grad_()  # under autograd: the plain op, so gradients flow
    blocks.linear(leaf, layer.weight, layer.bias, gelu=True, owner=layer).sum().backward()
    assert leaf.grad is not None and layer.weight.grad is not None


def test_fast_forward_follows_weights_changed_after_a_call() -> None:
    """The caches (de-interleaved qkv rows, packed weights) are rebuilt when the weights change, e.g. a training
    step or ``load_state_dict`` between planning calls."""
    predictor = _predictor()
    z, actions, states = _inputs(predictor, 6, 1, shared=True)
    with torch.inference_mode():
        before = predictor(z, actions, states)
    predictor.load_state_dict(_predictor(seed=7).state_dict())
    with torch.inference_mode():
        after, reference = predictor(z, actions, states), predictor.forward_reference(z, actions, states)
    assert (after - reference).abs().max().item() <= ATOL
    assert (after - before).abs().max().item() > 0.1
    twin = copy.deepcopy(predictor)  # the caches are not copied (oneDNN's packed weights have no storage)...
    saved = io.BytesIO()
    torch.save(predictor, saved)  # ...nor pickled
    saved.seek(0)
    loaded = torch.load(saved, weights_only=False)
    with torch.inference_mode():
        for other in (twin, loaded):
            assert (other(z, actions, states) - after).abs().max().item() <= 1e-6


# ------------------------------------------------------------------------------------------- whole predictor


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("batch", [1, 3, 16])
@pytest.mark.parametrize("shared", [True, False])
def test_fast_forward_equals_reference(steps: int, batch: int, shared: bool) -> None:
    predictor = _predictor()
    z, actions, states = _inputs(predictor, batch, steps, shared)
    z_before = z.clone()
    with torch.inference_mode():
        reference = predictor.forward_reference(z, actions, states)
        fast = predictor(z, actions, states)  # the default path
        plain = predictor.forward_fast(z.contiguous(), actions, states)  # the same context, not shared
    assert predictor.fast and fast.shape == reference.shape == (batch, steps * predictor.tokens_per_frame, 32)
    assert (fast - reference).abs().max().item() <= ATOL
    assert (plain - reference).abs().max().item() <= ATOL
    assert torch.equal(z, z_before)  # in-place residuals never touch the input
    with torch.no_grad():
        assert (predictor(z, actions, states, fast=False) - reference).abs().max().item() == 0


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("shared", [True, False])
def test_a_batch_run_in_chunks_equals_one_run(monkeypatch, steps: int, shared: bool) -> None:
    """7 samples of 18 tokens per step against a budget of 40 tokens per step: 4 chunks of 2, 2, 2 and 1."""
    predictor = _predictor()
    z, actions, states = _inputs(predictor, 7, steps, shared)
    with torch.inference_mode():
        whole = predictor(z, actions, states)
        reference = predictor.forward_reference(z, actions, states)
    monkeypatch.setattr(ac_predictor, "CPU_CHUNK_TOKENS", 40 * steps)
    calls = []
    inner = predictor._forward_fast
    monkeypatch.setattr(predictor, "_forward_fast", lambda *args: calls.append(args[0].shape[0]) or inner(*args))
    with torch.inference_mode():
        chunked = predictor(z, actions, states)
    assert calls == [2, 2, 2, 1]
    assert (chunked - whole).abs().max().item() <= 1e-6
    assert (chunked - reference).abs().max().item() <= ATOL
    a = actions.clone().requires_grad_()  # under autograd (cem_grad) the batch runs at once, gradients flow
    predictor(z, a, states).square().mean().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_fast_forward_equals_reference_at_the_bundled_width() -> None:
    """ac_tiny's real widths (192, 3 heads of 64, MLP 768) at 64 px, a planner-sized shared batch."""
    predictor = _predictor(embed_dim=192, predictor_embed_dim=192, depth=4, num_heads=3, mlp_hidden_dim=768)
    z, actions, states = _inputs(predictor, 32, 1, shared=True)
    with torch.inference_mode():
        reference = predictor.forward_reference(z, actions, states)
        diff = (predictor(z, actions, states) - reference).abs().max().item()
    # float32 rounding grows with the values (outputs up to ~3.4 here; the kernels differ between CPUs)
    assert diff <= ATOL * max(1.0, reference.abs().max().item())


@pytest.mark.parametrize("steps", [1, 2])
def test_fast_gradients_equal_reference(steps: int) -> None:
    """cem_grad back-propagates through the predictor: the fast path (not in place under autograd) matches."""
    predictor = _predictor()
    z, actions, states = _inputs(predictor, 4, steps, shared=True)
    grads, outputs = [], []
    for fast in (False, True):
        a = actions.clone().requires_grad_()
        out = predictor(z, a, states, fast=fast)
        out.square().mean().backward()
        grads.append(a.grad)
        outputs.append(out.detach())
    assert (outputs[0] - outputs[1]).abs().max().item() <= ATOL
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)
    weight_grads = {}
    for fast in (False, True):  # training: the weights' gradients flow through the permuted qkv and folded bias
        predictor.zero_grad()
        predictor(z, actions, states, fast=fast).square().mean().backward()
        weight_grads[fast] = [p.grad.clone() for p in predictor.predictor_blocks.parameters()]
    for ref, fast in zip(weight_grads[False], weight_grads[True]):
        assert torch.allclose(ref, fast, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("horizon", [1, 2])
def test_rollout_energy_equal_on_both_paths(horizon: int) -> None:
    predictor = _predictor()
    generator = torch.Generator().manual_seed(2)
    context = torch.randn(predictor.tokens_per_frame, 32, generator=generator)
    goal = torch.randn(predictor.tokens_per_frame, 32, generator=generator)
    energy = LatentRolloutEnergy(predictor, context, torch.tensor(BENCH_STATE), goal)
    actions = 0.05 * torch.randn(20, horizon, 7, generator=generator)
    results = {}
    for fast in (False, True):
        predictor.fast = fast
        with torch.inference_mode():
            results[fast] = (energy.rollout(actions), energy(actions))
    predictor.fast = True
    assert (results[True][0] - results[False][0]).abs().max().item() <= ATOL
    assert (results[True][1] - results[False][1]).abs().max().item() <= ATOL


def test_compare_predictor_paths_reports_both() -> None:
    predictor = _predictor()
    context = torch.randn(predictor.tokens_per_frame, 32)
    out = compare_predictor_paths(predictor, context, torch.tensor(BENCH_STATE), samples=8, repeats=1)
    assert out["batch"] == 8 and out["reference_seconds"] > 0 and out["fast_seconds"] > 0
    assert out["speedup"] == pytest.approx(out["reference_seconds"] / out["fast_seconds"])
    assert 0 <= out["max_abs_difference"] <= ATOL
    assert predictor.fast and not predictor.training


@pytest.mark.parametrize("steps", [1, 2])
def test_fast_forward_under_bf16_autocast(steps: int) -> None:
    """As on CUDA (inference_autocast): per-dtype tables, bf16 activations; as close to fp32 as the reference."""
    predictor = _predictor()
    z, actions, states = _inputs(predictor, 5, steps, shared=True)
    with torch.inference_mode():
        exact = predictor.forward_reference(z, actions, states)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            reference = predictor.forward_reference(z, actions, states)
            fast = predictor(z, actions, states)
    assert fast.dtype == reference.dtype == torch.bfloat16
    reference_error = (reference.float() - exact).abs().max().item()
    assert (fast.float() - exact).abs().max().item() <= 3 * reference_error
