"""Every benchmark config: the paper's clip sampling and probe settings as composed, then ``video-eval`` through to
features and results on tiny official-format files (train and eval splits, short MP4s, one broken video each)."""

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf
from PIL import Image

from vjepa_bench.cli import CONFIG_MODULE, main
from vjepa_bench.data.video import write_video
from vjepa_bench.models import AttentiveProbe, ProbeConfig, build_encoder, save_checkpoint
from vjepa_bench.schema import register_schemas
from vjepa_bench.video.features import load_features
from vjepa_bench.video.metrics import topk_accuracy
from vjepa_bench.video.probe_grid import view_averaged_probs

L4 = [17, 19, 21, 23]  # ViT-L blocks read by the Diving-48 and Jester probes
K400_GRID = ([5e-3, 3e-3, 1e-3, 3e-4, 1e-4], [0.8, 0.4, 0.1, 0.01])

# benchmark -> (frames, step, segments, views, crop), (lrs, wds, epochs, batch), feature layers
PAPER = {
    "ssv2": ((16, 4, 2, 3, 256), (*K400_GRID, 20, 256), None),
    "diving48": ((32, 2, 4, 3, 256), ([1e-3, 3e-4, 1e-4], [0.8], 100, 128), L4),
    "k400": ((16, 4, 8, 3, 256), (*K400_GRID, 20, 256), None),
    "coin": ((32, 4, 8, 3, 256), (*K400_GRID, 20, 128), None),
    "jester": ((32, 2, 4, 3, 256), ([1e-3, 3e-4, 1e-4], [0.8], 100, 128), L4),
    "imagenet": ((16, 1, 1, 1, 256), ([2e-3, 1e-3, 5e-4], [8e-3, 2e-3, 5e-4], 20, 1024), None),
    "path_list": ((16, 4, 8, 3, 256), (*K400_GRID, 20, 256), None),
    "ek100": ((32, 1, 1, 1, 256), (K400_GRID[0], [1e-4, 1e-3, 1e-2, 1e-1], 20, 128), None),
    "sim_motion": ((8, 2, 1, 1, 128), ([1e-3, 3e-4, 1e-4], [0.01, 0.1], 20, 16), None),
}
BENCHMARKS = sorted(set(PAPER) - {"sim_motion"})  # sim_motion runs end to end in test_video_sim_motion.py


@pytest.mark.parametrize("name", sorted(PAPER))
def test_config_holds_the_paper_protocol(name):
    register_schemas()
    with initialize_config_module(CONFIG_MODULE, version_base=None):
        cfg = compose("video_eval", overrides=[f"benchmark={name}", "data_dir=/data"])
    clips, grid = cfg.clips, cfg.grid
    (frames, step, segments, views, crop), (lrs, wds, epochs, batch), layers = PAPER[name]
    assert cfg.benchmark == name and cfg.output_dir == f"runs/video_eval/{name}"
    assert (clips.frames_per_clip, clips.frame_step, clips.segments, clips.views, clips.crop) == (
        frames, step, segments, views, crop)
    assert (list(grid.lrs), list(grid.wds), grid.epochs, grid.batch_size) == (lrs, wds, epochs, batch)
    assert (grid.depth, grid.num_heads) == ((1, 3) if name == "sim_motion" else (4, 16))
    found = OmegaConf.select(cfg, "features.layers")
    assert (None if found is None else list(found)) == layers


def _video(path: Path, seed: int, n: int = 12, fps: float = 8) -> Path:
    return write_video(path, np.random.default_rng(seed).integers(0, 255, (n, 32, 48, 3), dtype=np.uint8), fps=fps)


def _broken(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"truncated download" * 8)


def _csv(path: Path, rows: list[list]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


# Each writer makes a train split of 4 videos (2 classes) and an eval split of 2 videos plus a broken one.
def _ssv2(d: Path) -> None:
    (d / "something-something-v2-labels.json").write_text(json.dumps({"Pushing something": "0",
                                                                      "Lifting something up": "1"}))
    templates = ["Pushing [something]", "Lifting [something] up"]
    for split, ids in (("train", range(4)), ("validation", range(4, 7))):
        (d / f"something-something-v2-{split}.json").write_text(json.dumps([
            {"id": str(i), "label": "x", "template": templates[i % 2], "placeholders": ["cup"]} for i in ids]))
    for i in range(6):
        _video(d / "videos" / f"{i}.mp4", i).rename(d / "videos" / f"{i}.webm")  # PyAV reads the container, not the name
    _broken(d / "videos" / "6.webm")


def _diving48(d: Path) -> None:
    (d / "Diving48_vocab.json").write_text(json.dumps([["Back", "15som", "NoTwis", "PIKE"],
                                                       ["Inward", "25som", "NoTwis", "TUCK"]]))
    for split, ids in (("train", range(4)), ("test", range(4, 7))):
        (d / f"Diving48_V2_{split}.json").write_text(json.dumps([
            {"vid_name": f"v{i}", "label": i % 2, "start_frame": 0, "end_frame": 10} for i in ids]))
    for i in range(6):
        _video(d / "rgb" / f"v{i}.mp4", i)
    _broken(d / "rgb" / "v6.mp4")


def _k400(d: Path) -> None:
    labels = ["abseiling", "zumba"]
    head = ["label", "youtube_id", "time_start", "time_end", "split"]
    _csv(d / "train.csv", [head, *[[labels[i % 2], f"yt{i}", 0, 10, "train"] for i in range(4)]])
    _csv(d / "validate.csv", [head, *[[labels[i % 2], f"yt{i}", 0, 10, "val"] for i in range(4, 8)]])
    for i in range(6):  # train clips in per-label folders, validation clips flat
        folder = d / "videos" / ("train" if i < 4 else "val") / (labels[i % 2] if i < 4 else "")
        _video(folder / f"yt{i}_000000_000010.mp4", i)
    _broken(d / "videos" / "val" / "yt6_000000_000010.mp4")  # yt7 is listed but gone from YouTube: missing


def _coin(d: Path) -> None:
    db = {f"c{i}": {"recipe_type": 10 + i % 2, "class": ["MakeTea", "ChangeTire"][i % 2],
                    "subset": "training" if i < 4 else "testing", "start": 0.0, "end": 1.5, "duration": 1.5,
                    "video_url": "", "annotation": [{"id": "1", "segment": [0.0, 1.0], "label": "boil"}]}
          for i in range(7)}
    (d / "COIN.json").write_text(json.dumps({"database": db}))
    for i in range(6):
        _video(d / "videos" / f"c{i}.mp4", i)
    _broken(d / "videos" / "c6.mp4")


def _jester(d: Path) -> None:
    names = ["Swiping Left", "Swiping Right"]
    (d / "jester-v1-labels.csv").write_text("\n".join(names) + "\n")
    (d / "jester-v1-train.csv").write_text("".join(f"{i};{names[i % 2]}\n" for i in range(4)))
    (d / "jester-v1-validation.csv").write_text("".join(f"{i};{names[i % 2]}\n" for i in range(4, 7)))
    rng = np.random.default_rng(0)
    for i in range(6):
        (d / "20bn-jester-v1" / str(i)).mkdir(parents=True)
        for t in range(6):
            Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(
                d / "20bn-jester-v1" / str(i) / f"{t + 1:05d}.jpg")
    _broken(d / "20bn-jester-v1" / "6" / "00001.jpg")


def _imagenet(d: Path) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", 2), ("val", 1)):
        for cls in ("n01440764", "n01443537"):
            (d / split / cls).mkdir(parents=True)
            for k in range(count):
                Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(d / split / cls / f"{k}.JPEG")
    _broken(d / "val" / "n01443537" / "broken.JPEG")


def _path_list(d: Path) -> None:
    paths = [str(_video(d / "clips" / f"{i}.mp4", i)) for i in range(6)]
    _broken(d / "clips" / "6.mp4")
    (d / "train.csv").write_text("".join(f"{p} {i % 2}\n" for i, p in enumerate(paths[:4])))
    (d / "val.csv").write_text(f"{paths[4]} 0\nclips/5.mp4 1\nclips/6.mp4 0\n")  # relative to the list's folder


def _ek100(d: Path) -> None:
    head = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp", "stop_timestamp",
            "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class", "all_nouns",
            "all_noun_classes"]

    def row(nid: str, video: str, start: float, verb: int, noun: int) -> list:
        stamp = f"00:00:{start:05.2f}"
        return [nid, video[:3], video, stamp, stamp, stamp, 0, 0, "take cup", "take", verb, "cup", noun, "", ""]

    _csv(d / "EPIC_100_train.csv", [head, *[row(f"P01_01_{i}", "P01_01", 2.5 + i, i % 2, 3 + i % 2) for i in range(4)]])
    _csv(d / "EPIC_100_validation.csv", [head, row("P02_01_0", "P02_01", 2.5, 0, 3), row("P02_01_1", "P02_01", 4.5, 1, 4),
                                         row("P03_01_0", "P03_01", 2.5, 1, 3)])
    for video in ("P01_01", "P02_01"):
        _video(d / "videos" / video[:3] / "videos" / f"{video}.MP4", int(video[2]), n=56)
    _broken(d / "videos" / "P03" / "videos" / "P03_01.MP4")


WRITERS = {"ssv2": _ssv2, "diving48": _diving48, "k400": _k400, "coin": _coin, "jester": _jester,
           "imagenet": _imagenet, "path_list": _path_list, "ek100": _ek100}
TINY = ["clips.frames_per_clip=4", "clips.crop=32", "grid.epochs=2", "grid.batch_size=4", "grid.depth=1",
        "grid.num_heads=3", "grid.heldout_fraction=0.25", "cpu_threads=1"]


@pytest.mark.parametrize("name", BENCHMARKS)
def test_video_eval_runs_every_benchmark_config(name, tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    WRITERS[name](data)
    layers = ["features.layers=[-3,-1]"] if PAPER[name][2] else []  # vit_tiny has 6 blocks; two of them here
    extra = ["clips.fps=4.0"] if name == "ek100" else []
    main(["video-eval", f"benchmark={name}", f"data_dir={data}", f"output_dir={out}", *TINY, *layers, *extra])
    assert f"{name}: " in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    (_, _, segments, views, _), (lrs, wds, _, _), _ = PAPER[name]
    assert results["benchmark"] == name
    assert results["samples"] == {"train": 4, "eval": 2}
    assert results["skipped_broken"] == {"train": 0, "eval": 1}
    assert results["missing_videos"] == {"train": 0, "eval": 1 if name == "k400" else 0}
    assert (results["clips"]["segments"], results["clips"]["views"]) == (segments, views)
    assert len(results["heads"]) == len(lrs) * len(wds)
    score = results["recall5"]["action"] if name == "ek100" else results["top1"]
    assert 0.0 <= score <= 1.0
    with h5py.File(out / "features_eval.h5", "r") as f:
        tokens_per_clip = (4 // 2) * (32 // 16) ** 2 * (2 if layers else 1)
        assert f["tokens"].shape == (3, views, segments * tokens_per_clip, 192)
        assert f["broken"][:].tolist() == [False, False, True]


def test_a_released_probe_file_is_scored_without_training(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    _ssv2(data)
    torch.manual_seed(0)
    probes = [AttentiveProbe(ProbeConfig(192, (("linear", 2),), num_heads=16, depth=2)).eval() for _ in range(2)]
    released = {"classifiers": [{f"module.{k}": v for k, v in p.state_dict().items()} for p in probes],
                "opt": None, "scaler": None, "epoch": 20, "batch_size": 256, "world_size": 8}
    torch.save(released, tmp_path / "ssv2-probe.pt")
    probe = f"probe_checkpoint={tmp_path}/ssv2-probe.pt"
    main(["video-eval", "benchmark=ssv2", f"data_dir={data}", f"output_dir={out}", probe, *TINY])
    assert "ssv2: top-1" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert not (out / "features_train.h5").exists()  # no training pass over the train videos
    assert results["head_selection"] == "classifier_0_of_probe_checkpoint" and "grid" not in results
    assert results["samples"] == {"train": 0, "eval": 2} and results["skipped_broken"]["eval"] == 1
    feats = load_features(out / "features_eval.h5")
    top1 = [topk_accuracy(view_averaged_probs(p, feats.tokens), feats.labels[:, 0], 1) for p in probes]
    assert [h["top1"] for h in results["heads"]] == top1 and results["top1"] == top1[0]
    assert results["max_over_heads_on_eval"]["top1"] == max(top1)
    with pytest.raises(SystemExit, match="probe_checkpoint=.*classifier 0 maps width 192 to \\[2\\] classes"):
        main(["video-eval", "benchmark=ssv2", f"data_dir={data}", f"output_dir={out}", probe,
              f"train_files.labels_json={_three_labels(data)}", *TINY])  # a 3-class benchmark: wrong probe


def _three_labels(d: Path) -> Path:
    path = d / "labels3.json"
    path.write_text(json.dumps({"Pushing something": "0", "Lifting something up": "1", "Dropping something": "2"}))
    return path


def test_encoder_from_a_checkpoint_and_decoding_in_workers(tmp_path):
    data, out = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    _k400(data)
    torch.manual_seed(1)
    encoder = build_encoder("vit_tiny", depth=2, embed_dim=48, num_heads=3, mlp_hidden_dim=96)
    path = save_checkpoint(tmp_path / "encoder.pt", encoder=encoder)
    main(["video-eval", "benchmark=k400", f"data_dir={data}", f"output_dir={out}", f"checkpoint={path}",
          "num_workers=2", *TINY])
    results = json.loads((out / "results.json").read_text())
    assert results["encoder"] == str(path) and results["skipped_broken"] == {"train": 0, "eval": 1}
    feats = load_features(out / "features_eval.h5")
    assert feats.tokens.shape[-1] == 48  # the checkpoint's encoder, not the 192-wide default
