"""Probe heads: a released-format probe file loads and gives the probe module's logits; the grid learns."""

import numpy as np
import torch

from vjepa_bench.models import build_probe, load_checkpoint
from vjepa_bench.video.probe_grid import GridConfig, evaluate_heads, train_heads, view_averaged_probs


def test_released_probe_file_gives_the_same_logits(tmp_path):
    torch.manual_seed(0)
    probe = build_probe("probe_tiny", num_heads=16).eval()  # released probes have 16 attention heads
    released = {"classifiers": [{f"module.{k}": v.clone() for k, v in probe.state_dict().items()}],
                "opt": None, "scaler": None, "epoch": 20, "batch_size": 256, "world_size": 8}
    torch.save(released, tmp_path / "ssv2-tiny.pt")
    loaded = load_checkpoint(tmp_path / "ssv2-tiny.pt", kind="probe").probe
    tokens = torch.randn(2, 3, 32, 192)  # 2 samples, 3 views, 32 tokens
    with torch.no_grad():
        torch.testing.assert_close(loaded(tokens[:, 0]), probe(tokens[:, 0]), rtol=0, atol=0)
        want = torch.softmax(probe(tokens.flatten(0, 1)), -1).reshape(2, 3, -1).mean(1).numpy()
    np.testing.assert_allclose(view_averaged_probs(loaded, tokens), want, rtol=1e-5, atol=1e-6)


def test_grid_separates_learnable_classes():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    centres = rng.normal(size=(3, 16)).astype(np.float32) * 2
    tokens = centres[labels][:, None, None, :] + rng.normal(size=(60, 2, 4, 16)).astype(np.float32) * 0.3
    grid = GridConfig(lrs=(1e-2, 1e-5), wds=(0.01,), epochs=15, batch_size=16, depth=1, num_heads=2, heldout_fraction=0.2)
    heads, held = train_heads(grid, tokens, labels, 3)
    result = evaluate_heads(heads, grid, tokens, labels, held, tokens, labels)
    assert len(result["heads"]) == 2 and len(held) == 12
    assert result["heads"][0]["top1"] > 0.9 > result["heads"][1]["top1"]  # the tiny LR barely moves
    assert result["selected_on_heldout_train"]["head"] == 0 == result["max_over_heads_on_eval"]["head"]
    assert result["heads"][0]["train_top1"] > 0.9  # scored on the 48 samples it trained on

