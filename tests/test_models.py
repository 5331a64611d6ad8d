"""Tests for vjepa_bench.models: manifests, golden fixtures of the official code, RoPE, AC causality,
checkpoint formats and errors, FLOPs and the models bench.  Data: tests/data/vjepa2/ (docs/conventions.md#golden)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

from vjepa_bench.assets import asset_path
from vjepa_bench.models import (
    ACPredictor,
    CheckpointError,
    VisionTransformer,
    ac_predictor_flops,
    build_ac_predictor,
    build_encoder,
    build_predictor,
    build_probe,
    encoder_flops,
    layer_norm_features,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from vjepa_bench.models.ac_predictor import block_causal_mask
from vjepa_bench.models.presets import (
    ACPredictorConfig,
    EncoderConfig,
    PredictorConfig,
    ac_predictor_config,
    encoder_config,
)
from vjepa_bench.models.rope import apply_rope, rope_segment_dim, rope_tables

DATA = Path(__file__).parent / "data" / "vjepa2"
BUNDLED = asset_path("checkpoints", "world_model.pt")
MANIFESTS = DATA / "manifests"
GOLDEN = DATA / "golden"

# manifest file stem -> builder of the matching model
MANIFEST_BUILDERS: dict[str, Callable[[], torch.nn.Module]] = {
    "encoder_vitl_256px_64f": lambda: build_encoder("vit_large"),
    "encoder_vith_256px_64f": lambda: build_encoder("vit_huge"),
    "encoder_vitg_256px_64f": lambda: build_encoder("vit_giant"),
    "encoder_vitg-384_384px_64f": lambda: build_encoder("vit_giant_384"),
    "encoder_vjepa2-ac-vitg_256px_64f": lambda: build_encoder("vit_giant_xformers"),
    "predictor_vitl_256px_64f": lambda: build_predictor("vjepa2_vitl"),
    "predictor_vith_256px_64f": lambda: build_predictor("vjepa2_vith"),
    "predictor_vitg_256px_64f": lambda: build_predictor("vjepa2_vitg"),
    "predictor_vitg-384_384px_64f": lambda: build_predictor("vjepa2_vitg_384"),
    "predictor_vjepa2-ac-vitg_256px": lambda: build_ac_predictor("vjepa2_ac_vitg"),
    "probe_ssv2_vitl": lambda: build_probe("ssv2_vitl"),
    "probe_ssv2_vitg": lambda: build_probe("ssv2_vitg"),
    "probe_ek100_vitl_example": lambda: build_probe("ek100_vitl"),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """One intra-op thread: on the shared 2-core machines this is faster than two and keeps runs stable."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _manifest(stem: str) -> dict[str, Any]:
    return json.loads((MANIFESTS / f"{stem}.json").read_text())


def _recipe_weights(model: torch.nn.Module, manifest: dict[str, Any]) -> torch.nn.Module:
    """docs/conventions.md#golden: one generator seeded 0, manifest order, randn * 0.02, +1 on LayerNorm weights."""
    keys = list(model.state_dict())
    assert keys == list(manifest["state_dict"]), "model key order differs from the manifest"
    gen = torch.Generator().manual_seed(0)
    sd = {}
    for key, shape in manifest["state_dict"].items():
        t = torch.randn(shape, generator=gen) * 0.02
        if key.endswith(("norm.weight", "norm1.weight", "norm2.weight")):
            t += 1.0
        sd[key] = t
    model.load_state_dict(sd, strict=True, assign=True)
    return model.eval()


# ------------------------------------------------------------------------------------------- manifests


def test_every_manifest_has_a_builder() -> None:
    stems = {p.stem for p in MANIFESTS.glob("*.json")}
    assert stems == set(MANIFEST_BUILDERS)


@pytest.mark.parametrize("stem", sorted(MANIFEST_BUILDERS))
def test_state_dict_matches_manifest_on_meta(stem: str) -> None:
    manifest = _manifest(stem)
    with torch.device("meta"):
        model = MANIFEST_BUILDERS[stem]()
    sd = model.state_dict()
    assert list(sd) == list(manifest["state_dict"])
    for key, shape in manifest["state_dict"].items():
        assert list(sd[key].shape) == shape, key
    assert len(sd) == manifest["num_tensors"]
    assert sum(t.numel() for t in sd.values()) == manifest["num_elements"]


def test_meta_forward_shapes_giant() -> None:
    with torch.device("meta"):
        enc = build_encoder("vit_giant")
        out = enc(torch.empty(2, 3, 16, 256, 384))
        assert out.shape == (2, 8 * 16 * 24, 1408)
        layers = enc(torch.empty(1, 3, 4, 64, 64), out_layers=[24, 29, 34, 39])
        assert [t.shape for t in layers] == [torch.Size([1, 32, 1408])] * 4
        ac = build_ac_predictor()
        assert ac.tokens_per_frame == 256
        pred = ac(torch.empty(1, 4 * 256, 1408), torch.empty(1, 4, 7), torch.empty(1, 4, 7))
        assert pred.shape == (1, 1024, 1408)


# ------------------------------------------------------------------------------------------- golden


@pytest.fixture(scope="module")
def vitl_recipe() -> VisionTransformer:
    with torch.device("meta"):
        enc = VisionTransformer(encoder_config("vit_large"), init_weights=False)
    return _recipe_weights(enc, _manifest("encoder_vitl_256px_64f"))


@pytest.mark.parametrize("fixture", ["vitl_encoder_4f_64x96", "vitl_encoder_dupframe_32x32"])
def test_golden_vitl_encoder(vitl_recipe: VisionTransformer, fixture: str) -> None:
    gold = torch.load(GOLDEN / f"{fixture}.pt")
    with torch.no_grad():
        out = vitl_recipe(gold["input"])
    assert out.shape == gold["output"].shape
    assert (out - gold["output"]).abs().max().item() < 1e-4


def test_golden_dupframe_via_encode_image(vitl_recipe: VisionTransformer) -> None:
    gold = torch.load(GOLDEN / "vitl_encoder_dupframe_32x32.pt")
    with torch.no_grad():
        out = vitl_recipe.encode_image(gold["input"][:, :, 0])
    assert (out - gold["output"]).abs().max().item() < 1e-4


def test_golden_interleaved_rope_does_not_match(vitl_recipe: VisionTransformer) -> None:
    """The tiled-frequency quirk matters: the textbook interleaved RoPE misses the fixture by far."""
    gold = torch.load(GOLDEN / "vitl_encoder_4f_64x96.pt")
    interleaved = vitl_recipe.config.replace(tiled_rope=False)
    with torch.device("meta"):
        other = VisionTransformer(interleaved, init_weights=False)
    other.load_state_dict(vitl_recipe.state_dict(), assign=True)
    with torch.no_grad():
        err = (other(gold["input"]) - gold["output"]).abs().max().item()
    assert err > 1e-2


def test_golden_ac_predictor() -> None:
    with torch.device("meta"):
        ac = ACPredictor(ac_predictor_config("vjepa2_ac_vitg"), init_weights=False)
    ac = _recipe_weights(ac, _manifest("predictor_vjepa2-ac-vitg_256px"))
    gold = torch.load(GOLDEN / "ac_predictor_T3.pt")
    with torch.no_grad():
        out = ac(gold["z"], gold["actions"], gold["states"])
    assert out.shape == (1, 768, 1408)
    assert (out - gold["output"]).abs().max().item() < 1e-4


# ------------------------------------------------------------------------------------------- rope / blocks


def test_rope_segments_and_identity() -> None:
    assert [rope_segment_dim(h) for h in (64, 80, 32)] == [20, 26, 10]
    pos = torch.arange(5)
    cos, sin = rope_tables((pos, pos, pos), 64)
    assert cos.shape == (5, 64)
    assert torch.equal(cos[0], torch.ones(64)) and torch.equal(sin[0], torch.zeros(64))
    assert torch.equal(cos[:, 60:], torch.ones(5, 4))  # last 4 dims unrotated
    x = torch.randn(5, 64)
    # interleaved frequencies form true rotations (norm preserved); tiled ones generally do not
    ci, si = rope_tables((pos, pos, pos), 64, tiled=False)
    assert torch.allclose(apply_rope(x, ci, si).norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    assert not torch.allclose(apply_rope(x, cos, sin), apply_rope(x, ci, si))


def test_block_causal_mask() -> None:
    m = block_causal_mask(3, 2)
    expected = torch.tensor([[1, 1, 0, 0, 0, 0]] * 2 + [[1, 1, 1, 1, 0, 0]] * 2 + [[1] * 6] * 2, dtype=torch.bool)
    assert torch.equal(m, expected)


def test_ac_predictor_is_block_causal() -> None:
    torch.manual_seed(0)
    ac = build_ac_predictor("ac_tiny", embed_dim=32, predictor_embed_dim=64, depth=2, num_heads=2, mlp_hidden_dim=64).eval()
    n = ac.tokens_per_frame
    assert n == 16
    z, a, s = torch.randn(1, 3 * n, 32), torch.randn(1, 3, 7), torch.randn(1, 3, 7)
    with torch.no_grad():
        base = ac(z, a, s)
        a2 = a.clone()
        a2[:, 1] += 1.0
        moved = ac(z, a2, s)
        s2 = s.clone()
        s2[:, 2] += 1.0
        moved_s = ac(z, a, s2)
    diff = (moved - base).abs().view(3, n, 32).amax(dim=(1, 2))
    assert diff[0] == 0 and diff[1] > 1e-4 and diff[2] > 1e-4
    diff_s = (moved_s - base).abs().view(3, n, 32).amax(dim=(1, 2))
    assert diff_s[0] == 0 and diff_s[1] == 0 and diff_s[2] > 1e-4
    with pytest.raises(ValueError, match="tokens_per_frame"):
        ac(torch.randn(1, n + 1, 32), a, s)


def test_encoder_inputs_and_image_helpers() -> None:
    torch.manual_seed(0)
    enc = build_encoder("vit_tiny", depth=2).eval()
    video = torch.randn(2, 3, 3, 32, 48)
    with torch.no_grad():
        single = enc.encode_image(video[:, :, 1])
        assert single.shape == (2, 6, 192)
        dup = enc(video[:, :, 1:2].expand(-1, -1, 2, -1, -1))
        assert torch.allclose(dup, single, atol=1e-6)
        both = enc(torch.randn(1, 3, 4, 32, 32), out_layers=[0, 1])
        assert isinstance(both, list) and len(both) == 2
    with pytest.raises(ValueError, match="divisible"):
        enc(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match="divisible"):
        enc(torch.randn(1, 3, 2, 30, 32))


def test_mask_predictor_sorts_by_position() -> None:
    torch.manual_seed(0)
    pred = build_predictor("predictor_tiny").eval()
    ctx_ids = torch.tensor([[0, 3, 5, 9]])
    tgt_ids = torch.tensor([[1, 7]])
    x = torch.randn(1, 4, 192)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        out = pred(x, ctx_ids, tgt_ids)
        out_perm = pred(x[:, perm], ctx_ids[:, perm], tgt_ids)
    assert out.shape == (1, 2, 192)
    assert torch.allclose(out, out_perm, atol=1e-5)


def test_probe_heads() -> None:
    torch.manual_seed(0)
    one = build_probe("probe_tiny").eval()
    x = torch.randn(2, 10, 192)
    assert one(x).shape == (2, 10)
    ek = build_probe("probe_tiny", heads=(("verb_classifier", 3), ("noun_classifier", 4), ("action_classifier", 5)), num_queries=3)
    out = ek(x)
    assert {k: v.shape[1] for k, v in out.items()} == {"verb": 3, "noun": 4, "action": 5}


def test_presets_reject_typos_and_small_pair_fits_budget() -> None:
    with pytest.raises(TypeError):
        build_encoder("vit_tiny", embed_dimm=10)
    with pytest.raises(TypeError):
        build_ac_predictor("ac_tiny", embeddim=10)
    with pytest.raises(KeyError, match="known"):
        build_encoder("vit_enormous")
    with torch.device("meta"):
        enc = build_encoder("vit_tiny")
        ac = build_ac_predictor("ac_tiny", embed_dim=enc.embed_dim)
    n_params = sum(p.numel() for m in (enc, ac) for p in m.parameters())
    assert n_params * 4 < 25e6  # fp32 bytes of the bundled world model
    assert ac.tokens_per_frame == (64 // 16) ** 2


def test_layer_norm_features() -> None:
    x = torch.randn(3, 5, 40) * 7 + 2
    y = layer_norm_features(x)
    assert torch.allclose(y.mean(-1), torch.zeros(3, 5), atol=1e-5)
    assert torch.allclose(y, torch.nn.functional.layer_norm(x, (40,), eps=1e-5))


# ------------------------------------------------------------------------------------------- checkpoints


def _prefixed(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {prefix + k: v.clone() for k, v in sd.items()}


@pytest.fixture(scope="module")
def tiny_models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "encoder": build_encoder("vit_tiny", depth=2).eval(),
        "predictor": build_predictor("predictor_tiny", img_size=256).eval(),  # official grid: not visible in weights
        "ac_predictor": build_ac_predictor("ac_tiny", depth=2, img_size=256).eval(),
        "probe": build_probe("probe_tiny", num_heads=16).eval(),
    }


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module, *inputs: torch.Tensor) -> None:
    with torch.no_grad():
        out_a, out_b = a(*inputs), b(*inputs)
    assert torch.equal(out_a, out_b)


def test_fake_official_pretrained_checkpoint(tmp_path: Path, tiny_models: dict[str, torch.nn.Module]) -> None:
    enc, pred = tiny_models["encoder"], tiny_models["predictor"]
    enc_sd = _prefixed(enc.state_dict(), "module.backbone.")
    enc_sd["module.backbone.pos_embed"] = torch.zeros(1, 4, 192)  # stray table that RoPE models ignore
    ckpt = {
        "encoder": _prefixed(enc.state_dict(), "module.backbone."),
        "target_encoder": enc_sd,
        "predictor": _prefixed(pred.state_dict(), "module.backbone."),
        "opt": {"state": {}, "param_groups": []},
        "epoch": 10,
    }
    path = tmp_path / "my-vitl.pt"
    torch.save(ckpt, path)
    loaded = load_checkpoint(path)
    assert loaded.format == "official" and loaded.meta["encoder_key"] == "target_encoder"
    assert loaded.encoder is not None and loaded.predictor is not None and loaded.ac_predictor is None
    assert len(loaded.sha256 or "") == 64
    _same_outputs(enc, loaded.encoder, torch.randn(1, 3, 2, 64, 64))
    ids = torch.arange(16).unsqueeze(0)
    _same_outputs(pred, loaded.predictor, torch.randn(1, 10, 192), ids[:, :10], ids[:, 10:])
    only = load_checkpoint(path, kind="encoder", encoder_key="encoder")
    assert only.predictor is None and only.meta["encoder_key"] == "encoder"


def test_fake_official_ac_and_probe_by_name(tmp_path: Path, tiny_models: dict[str, torch.nn.Module], monkeypatch: pytest.MonkeyPatch) -> None:
    enc, ac, probe = tiny_models["encoder"], tiny_models["ac_predictor"], tiny_models["probe"]
    torch.save({"encoder": _prefixed(enc.state_dict(), "module."), "predictor": _prefixed(ac.state_dict(), "module."),
                "epoch": 315}, tmp_path / "vjepa2-ac-vitg.pt")
    (tmp_path / "evals").mkdir()
    torch.save({"classifiers": [_prefixed(probe.state_dict(), "module.")], "epoch": 20}, tmp_path / "evals" / "ssv2-vitl-16x2x3.pt")
    monkeypatch.setenv("VJEPA_BENCH_CHECKPOINTS", str(tmp_path))
    loaded = load_checkpoint("vjepa2_ac_vitg")
    assert loaded.name == "vjepa2-ac-vitg" and loaded.ac_predictor is not None
    assert loaded.ac_predictor.tokens_per_frame == 256
    z = torch.randn(1, 2 * 256, 192)
    _same_outputs(ac, loaded.ac_predictor, z, torch.randn(1, 2, 7), torch.randn(1, 2, 7))
    probes = load_checkpoint("ssv2-vitl-16x2x3", kind="probe")
    assert probes.probe is not None and probes.encoder is None
    _same_outputs(probe, probes.probe, torch.randn(2, 7, 192))
    with pytest.raises(CheckpointError, match="holds no ac_predictor"):
        load_checkpoint("ssv2-vitl-16x2x3", kind="ac_predictor")


def official_to_hf(
    encoder: dict[str, torch.Tensor] | None = None,
    predictor: dict[str, torch.Tensor] | None = None,
    probe: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Inverse of ``hf_to_official``: how an HF snapshot names our weights."""
    out: dict[str, torch.Tensor] = {}

    def split(prefix: str, value: torch.Tensor, names: tuple[str, ...], suffix: str) -> None:
        for name, chunk in zip(names, value.chunk(len(names), dim=0)):
            out[f"{prefix}{name}{suffix}"] = chunk.clone()

    for k, v in (encoder or {}).items():
        if m := re.match(r"blocks\.(\d+)\.attn\.qkv(\.\w+)$", k):
            split(f"encoder.layer.{m[1]}.attention.", v, ("query", "key", "value"), m[2])
            continue
        k2 = re.sub(r"^blocks\.(\d+)\.attn\.", r"encoder.layer.\1.attention.", k)
        k2 = re.sub(r"^blocks\.", "encoder.layer.", k2)
        k2 = re.sub(r"^patch_embed\.", "encoder.embeddings.patch_embeddings.", k2)
        out[re.sub(r"^norm\.", "encoder.layernorm.", k2)] = v
    masks = []
    for k, v in (predictor or {}).items():
        if k.startswith("mask_tokens."):
            masks.append((int(k.split(".")[1]), v))
            continue
        if m := re.match(r"predictor_blocks\.(\d+)\.attn\.qkv(\.\w+)$", k):
            split(f"predictor.layer.{m[1]}.attention.", v, ("query", "key", "value"), m[2])
            continue
        k2 = re.sub(r"^predictor_blocks\.(\d+)\.attn\.", r"predictor.layer.\1.attention.", k)
        k2 = re.sub(r"^predictor_blocks\.", "predictor.layer.", k2)
        k2 = re.sub(r"^predictor_embed\.", "predictor.embeddings.predictor_embeddings.", k2)
        k2 = re.sub(r"^predictor_norm\.", "predictor.layernorm.", k2)
        out[re.sub(r"^predictor_proj\.", "predictor.proj.", k2)] = v
    if masks:
        out["predictor.embeddings.mask_tokens"] = torch.stack([v for _, v in sorted(masks, key=lambda t: t[0])])
    for k, v in (probe or {}).items():
        if m := re.match(r"pooler\.blocks\.(\d+)\.attn\.qkv(\.\w+)$", k):
            split(f"pooler.self_attention_layers.{m[1]}.self_attn.", v, ("q_proj", "k_proj", "v_proj"), m[2])
            continue
        if m := re.match(r"pooler\.cross_attention_block\.xattn\.kv(\.\w+)$", k):
            split("pooler.cross_attention_layer.cross_attn.", v, ("k_proj", "v_proj"), m[1])
            continue
        k2 = re.sub(r"^pooler\.blocks\.(\d+)\.attn\.proj\.", r"pooler.self_attention_layers.\1.self_attn.out_proj.", k)
        k2 = re.sub(r"^pooler\.blocks\.(\d+)\.norm(\d)\.", r"pooler.self_attention_layers.\1.layer_norm\2.", k2)
        k2 = re.sub(r"^pooler\.blocks\.", "pooler.self_attention_layers.", k2)
        k2 = re.sub(r"^pooler\.cross_attention_block\.xattn\.q\.", "pooler.cross_attention_layer.cross_attn.q_proj.", k2)
        k2 = re.sub(r"^pooler\.cross_attention_block\.norm(\d)\.", r"pooler.cross_attention_layer.layer_norm\1.", k2)
        k2 = re.sub(r"^pooler\.cross_attention_block\.", "pooler.cross_attention_layer.", k2)
        out[re.sub(r"^linear\.", "classifier.", k2)] = v
    return out


def hf_config_from(encoder: EncoderConfig, predictor: PredictorConfig | None = None) -> dict[str, Any]:
    """An HF-style ``config.json`` dict describing our configs (inverse of ``configs_from_hf``)."""
    cfg: dict[str, Any] = {
        "model_type": "vjepa2",
        "architectures": ["VJEPA2Model"],
        "hidden_size": encoder.embed_dim,
        "num_hidden_layers": encoder.depth,
        "num_attention_heads": encoder.num_heads,
        "mlp_ratio": encoder.mlp_hidden_dim / encoder.embed_dim,
        "patch_size": encoder.patch_size,
        "tubelet_size": encoder.tubelet_size,
        "in_chans": encoder.in_chans,
        "crop_size": encoder.img_size[0],
        "frames_per_clip": 64,  # what real snapshots hold (a nominal clip length, not read)
        "layer_norm_eps": encoder.norm_eps,
        "qkv_bias": encoder.qkv_bias,
        "hidden_act": "gelu",
    }
    if predictor is not None:
        cfg.update(
            pred_hidden_size=predictor.predictor_embed_dim,
            pred_num_hidden_layers=predictor.depth,
            pred_num_attention_heads=predictor.num_heads,
            pred_mlp_ratio=predictor.mlp_hidden_dim / predictor.predictor_embed_dim,
            pred_num_mask_tokens=predictor.num_mask_tokens,
        )
    return cfg


def test_fake_hf_snapshot(tmp_path: Path, tiny_models: dict[str, torch.nn.Module]) -> None:
    from safetensors.torch import save_file

    enc, pred = tiny_models["encoder"], tiny_models["predictor"]
    snap = tmp_path / "vjepa2-tiny-hf"
    snap.mkdir()
    # HF keeps one crop_size/frames_per_clip for encoder and predictor: describe both at the predictor's grid
    hf_cfg = hf_config_from(enc.config.replace(img_size=256), pred.config)
    (snap / "config.json").write_text(json.dumps(hf_cfg))
    hf_sd = official_to_hf(enc.state_dict(), pred.state_dict())
    assert "encoder.layer.0.attention.query.weight" in hf_sd and "predictor.embeddings.mask_tokens" in hf_sd
    assert not any("qkv" in k for k in hf_sd)
    save_file({k: v.contiguous() for k, v in hf_sd.items()}, str(snap / "model.safetensors"))
    loaded = load_checkpoint(snap)
    assert loaded.format == "hf" and loaded.encoder is not None and loaded.predictor is not None
    assert loaded.predictor.config == pred.config
    _same_outputs(enc, loaded.encoder, torch.randn(1, 3, 2, 32, 64))
    ids = torch.arange(16).unsqueeze(0)
    _same_outputs(pred, loaded.predictor, torch.randn(1, 8, 192), ids[:, ::2], ids[:, 1::2])


def test_own_format_roundtrip(tmp_path: Path, tiny_models: dict[str, torch.nn.Module]) -> None:
    enc, ac, probe = tiny_models["encoder"], tiny_models["ac_predictor"], tiny_models["probe"]
    path = save_checkpoint(tmp_path / "wm" / "world_model.pt", encoder=enc, ac_predictor=ac, probes=[probe], meta={"steps": 5})
    assert sorted(p.name for p in path.parent.iterdir()) == ["world_model.pt"]  # no temp file left behind
    loaded = load_checkpoint(path)
    assert loaded.format == "vjepa_bench" and loaded.meta["steps"] == 5
    assert loaded.encoder is not None and loaded.encoder.config == enc.config
    assert loaded.ac_predictor is not None and loaded.ac_predictor.config == ac.config
    _same_outputs(enc, loaded.encoder, torch.randn(1, 3, 2, 64, 64))
    _same_outputs(ac, loaded.ac_predictor, torch.randn(1, 256, 192), torch.randn(1, 1, 7), torch.randn(1, 1, 7))
    _same_outputs(probe, loaded.probes[0], torch.randn(1, 5, 192))
    fresh = build_encoder("vit_tiny", depth=2)
    load_weights(fresh, path)
    _same_outputs(enc, fresh.eval(), torch.randn(1, 3, 2, 32, 32))


def test_configs_saved_with_the_removed_options_still_load() -> None:
    old_ac = {**ac_predictor_config("ac_tiny").to_dict(), "tubelet_size": 2, "num_frames": 32}
    assert ACPredictorConfig.from_dict(old_ac) == ac_predictor_config("ac_tiny")
    assert ac_predictor_config("ac_tiny").matches(old_ac)  # a train state saved before still resumes
    assert not ac_predictor_config("ac_tiny", depth=2).matches(old_ac)
    tiny = encoder_config("vit_tiny")
    assert EncoderConfig.from_dict({**tiny.to_dict(), "num_frames": 2}) == tiny
    with pytest.raises(TypeError):  # any other unknown key is still refused
        EncoderConfig.from_dict({**tiny.to_dict(), "num_framez": 2})
    with pytest.raises(TypeError):
        ac_predictor_config("ac_tiny", num_frames=32)  # no longer an option
    saved = torch.load(BUNDLED, map_location="cpu", weights_only=False)["models"]
    assert not {"num_frames", "tubelet_size"} & set(saved["ac_predictor"]["config"])  # written after the change
    loaded = load_checkpoint(BUNDLED)
    assert loaded.ac_predictor.config.img_size == tuple(saved["ac_predictor"]["config"]["img_size"])
    assert loaded.encoder.config.tubelet_size == saved["encoder"]["config"]["tubelet_size"]


def test_missing_name_error_says_file_dir_and_url(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint("vjepa2_ac_vitg", checkpoint_dir=tmp_path)
    msg = str(err.value)
    assert "vjepa2-ac-vitg.pt" in msg and str(tmp_path) in msg
    assert "https://dl.fbaipublicfiles.com/vjepa2/vjepa2-ac-vitg.pt" in msg
    with pytest.raises(CheckpointError, match="known names"):
        load_checkpoint("no_such_model", checkpoint_dir=tmp_path)


def test_bad_files_give_clear_errors(tmp_path: Path, tiny_models: dict[str, torch.nn.Module]) -> None:
    enc = tiny_models["encoder"]
    good = save_checkpoint(tmp_path / "good.pt", encoder=enc)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated") as err:
        load_checkpoint(truncated)
    assert "truncated.pt" in str(err.value)
    text = tmp_path / "notes.pt"
    text.write_text("just some notes, not weights")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": {"a": 1}, "step": 3}, other)
    with pytest.raises(CheckpointError, match="not a V-JEPA checkpoint"):
        load_checkpoint(other)
    # wrong model: a deeper encoder has keys the file lacks, a different width gives shape mismatches
    with pytest.raises(CheckpointError) as err:
        load_weights(build_encoder("vit_tiny", depth=3), good)
    assert "missing keys" in str(err.value) and "blocks.2.norm1.weight" in str(err.value)
    with pytest.raises(CheckpointError) as err:
        load_weights(build_encoder("vit_tiny", depth=1), good)
    assert "unexpected keys" in str(err.value) and "blocks.1.attn.qkv.weight" in str(err.value)
    with pytest.raises(CheckpointError) as err:
        load_weights(build_encoder("vit_tiny", depth=2, mlp_hidden_dim=512), good)
    assert "blocks.0.mlp.fc1.weight" in str(err.value) and "(768, 192)" in str(err.value) and "(512, 192)" in str(err.value)
    snap = tmp_path / "hf"
    snap.mkdir()
    (snap / "config.json").write_text("{}")
    (snap / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\"")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(snap)


# ------------------------------------------------------------------------------------------- flops / bench


def test_flops_helpers() -> None:
    cfg = encoder_config("vit_tiny")
    n, d, hid = 16, 192, 768
    per_block = 2 * n * d * 3 * d + 2 * n * d * d + 4 * n * d * hid + 4 * n * n * d
    expected = 2 * n * (3 * 2 * 16 * 16) * d + cfg.depth * per_block
    assert encoder_flops(cfg, 1, 2, 64, 64) == expected
    ac = ac_predictor_config("ac_tiny")
    assert ac_predictor_flops(ac, 2, 3) == 2 * ac_predictor_flops(ac, 1, 3)


def test_bench_models_returns_json() -> None:
    from vjepa_bench.bench.models import bench_models

    out = bench_models("vit_tiny", "ac_tiny", batch=1, frames=2, device="cpu", repeats=1, threads=1)
    json.dumps(out)
    assert out["tokens_per_frame"] == 16 and out["image_size"] == 64
    for key in ("encoder", "ac_predictor"):
        assert out[key]["forward_s"] > 0 and out[key]["tokens_per_s"] > 0 and out[key]["gflops_per_forward"] > 0
    assert "bf16_matmul_peak_tflops" not in out  # CUDA only


def test_bf16_autocast_forward_runs() -> None:
    """The RoPE tables follow the activation dtype, so mixed precision works (bf16 autocast on CPU here)."""
    from vjepa_bench.models import inference_autocast

    torch.manual_seed(0)
    enc = build_encoder("vit_tiny", depth=2).eval()
    ac = build_ac_predictor("ac_tiny", depth=2).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = enc.encode_image(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = enc.encode_image(x)
            pred = ac(z, torch.randn(2, 1, 7), torch.randn(2, 1, 7))
    assert z.dtype == torch.bfloat16 and pred.shape == (2, 16, 192)
    assert (z.float() - ref).abs().max().item() < 0.2
    with inference_autocast("cpu"):  # no-op off CUDA
        assert not torch.is_autocast_enabled()
