"""Every official annotation format, with real MP4s (one broken), frame folders and images, through to cached
features of a tiny encoder."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vjepa_bench.errors import UsageError
from vjepa_bench.models import build_encoder
from vjepa_bench.video.annotations import Sample, read_split
from vjepa_bench.video.clips import segment_clip_indices
from vjepa_bench.data.video import write_video
from vjepa_bench.video.features import ClipSpec, cache_features, load_features, sample_views

SPEC = ClipSpec(frames_per_clip=4, frame_step=2, segments=2, views=3, crop=32, fps=8.0)


def _frames(seed: int, n: int = 12, h: int = 32, w: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video")
    vids = root / "videos"
    vids.mkdir()
    for i, name in enumerate(["a", "b", "c"]):
        write_video(vids / f"{name}.mp4", _frames(i), fps=8)
    (vids / "broken.mp4").write_bytes(b"not a video at all" * 10)
    return root


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return build_encoder("vit_tiny", depth=1, embed_dim=48, num_heads=3, mlp_hidden_dim=96).eval()


def _formats(root: Path) -> dict[str, dict]:
    v = root / "videos"
    (root / "list.csv").write_text(f"{v}/a.mp4 0\n{v}/b.mp4 1\n{v}/broken.mp4 1\n")
    (root / "ssv2-labels.json").write_text(json.dumps({"Moving something left": "0", "Pushing something": "1"}))
    (root / "ssv2-val.json").write_text(json.dumps([
        {"id": "a", "label": "moving cup left", "template": "Moving [something] left", "placeholders": ["cup"]},
        {"id": "broken", "label": "pushing box", "template": "Pushing [something]", "placeholders": ["box"]}]))
    (root / "d48.json").write_text(json.dumps([{"vid_name": "b", "label": 1, "start_frame": 2, "end_frame": 10},
                                               {"vid_name": "broken", "label": 0, "start_frame": 0, "end_frame": 5}]))
    (root / "d48_vocab.json").write_text(json.dumps([["Back", "1.5 Soms", "NoTwis", "PIKE"], ["Inward", "2 Soms", "NoTwis", "TUCK"]]))
    (root / "k400.csv").write_text("label,youtube_id,time_start,time_end,split\nabseiling,yt1,0,10,val\n"
                                   "zumba,yt2,5,15,val\nzumba,gone,0,10,val\n")
    (v / "zumba").mkdir(exist_ok=True)
    (v / "yt1_000000_000010.mp4").write_bytes((v / "a.mp4").read_bytes())
    (v / "zumba" / "yt2_000005_000015.mp4").write_bytes((v / "c.mp4").read_bytes())
    cols = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp", "stop_timestamp",
            "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class", "all_nouns",
            "all_noun_classes"]
    (v / "P01" / "videos").mkdir(parents=True, exist_ok=True)
    write_video(v / "P01" / "videos" / "P01_01.MP4", _frames(5, n=40), fps=8)
    rows = [["P01_01_0", "P01", "P01_01", "", "00:00:02.50", "00:00:03.00", 20, 24, "take cup", "take", 0, "cup", 3, "", ""],
            ["P01_01_1", "P01", "P01_01", "", "00:00:04.00", "00:00:04.50", 32, 36, "open tap", "open", 2, "tap", 1, "", ""]]
    for name, body in (("ek_train.csv", rows), ("ek_val.csv", rows[:1] + [["P01_01_2", "P01", "P01_01", "", "00:00:04.00",
                                                                          "00:00:04.50", 32, 36, "take tap", "take", 0, "tap", 1, "", ""]])):
        with (root / name).open("w", newline="") as f:
            csv.writer(f).writerows([cols, *body])
    (root / "COIN.json").write_text(json.dumps({"database": {
        "a": {"recipe_type": 2, "class": "MakeTea", "subset": "testing", "annotation": []},
        "b": {"recipe_type": 0, "class": "ChangeTire", "subset": "training", "annotation": []}}}))
    (root / "jester-labels.csv").write_text("Swiping Left\nSwiping Right\n")
    (root / "jester-val.csv").write_text("101;Swiping Right\n102;Swiping Left\n")
    for vid in ("101", "102"):
        (v / vid).mkdir(exist_ok=True)
        for t, frame in enumerate(_frames(int(vid), n=6)):
            Image.fromarray(frame).save(v / vid / f"{t + 1:05d}.jpg")
    for cls in ("cat", "dog"):
        (root / "imgs" / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(_frames(7, n=1)[0]).save(root / "imgs" / cls / "x.png")
    return {
        "path_list": {"list_file": str(root / "list.csv")},
        "ssv2": {"labels_json": str(root / "ssv2-labels.json"), "split_json": str(root / "ssv2-val.json"),
                 "video_dir": str(v), "ext": ".mp4"},
        "diving48": {"split_json": str(root / "d48.json"), "vocab_json": str(root / "d48_vocab.json"), "video_dir": str(v)},
        "k400": {"split_csv": str(root / "k400.csv"), "video_dir": str(v)},
        "ek100": {"split_csv": str(root / "ek_val.csv"), "train_csv": str(root / "ek_train.csv"), "video_dir": str(v)},
        "coin": {"coin_json": str(root / "COIN.json"), "video_dir": str(v)},
        "jester": {"labels_csv": str(root / "jester-labels.csv"), "split_csv": str(root / "jester-val.csv"),
                   "video_dir": str(v)},
        "imagefolder": {"root": str(root / "imgs")},
    }


EXPECTED = {  # format -> (labels of the decodable samples, number skipped as broken, number missing)
    "path_list": ([[0], [1]], 1, 0),
    "ssv2": ([[0]], 1, 0),
    "diving48": ([[1]], 1, 0),
    "k400": ([[0], [1]], 0, 1),
    "ek100": ([[0, 1, 0], [0, 0, 2]], 0, 0),  # nouns sorted (tap=0, cup=1); (take, tap) never trained: action 2
    "coin": ([[2]], 0, 0),
    "jester": ([[1], [0]], 0, 0),
    "imagefolder": ([[0], [1]], 0, 0),
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_reader_to_features(fmt, root, encoder, tmp_path):
    split = read_split(fmt, **_formats(root)[fmt])
    labels, broken, missing = EXPECTED[fmt]
    assert split.missing == missing
    path = cache_features(split, encoder, SPEC, tmp_path / "f.h5")
    feats = load_features(path)
    assert feats.labels.tolist() == labels and feats.skipped == broken
    segments = 1 if fmt == "ek100" else SPEC.segments
    tokens = segments * (SPEC.frames_per_clip // 2) * (SPEC.crop // 16) ** 2
    assert feats.tokens.shape == (len(labels), SPEC.views, tokens, 48)
    assert np.isfinite(feats.tokens).all() and feats.tokens.std() > 0
    assert cache_features(split, encoder, SPEC, path) == path  # finished: resumes without work


def test_ek100_vocab_and_unseen_pair(root):
    split = read_split("ek100", **_formats(root)["ek100"])
    assert split.classes["verb"] == ["0", "2"] and split.extra["trained_classes"]["action"] == 2
    assert split.classes["action"] == ["0,3", "2,1", "0,1"] and split.samples[0].end_time_s == pytest.approx(1.5)


def test_bad_inputs_are_one_line_usage_errors(root, tmp_path):
    files = _formats(root)
    with pytest.raises(UsageError, match="not found"):
        read_split("ssv2", **{**files["ssv2"], "split_json": str(tmp_path / "nope.json")})
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "a", "template": "Dancing [something]"}]))
    with pytest.raises(UsageError, match="Dancing"):
        read_split("ssv2", **{**files["ssv2"], "split_json": str(tmp_path / "bad.json")})
    (tmp_path / "bad.csv").write_text("a.mp4 x\n")
    with pytest.raises(UsageError, match="bad.csv:1"):
        read_split("path_list", list_file=str(tmp_path / "bad.csv"))
    with pytest.raises(UsageError, match="unknown annotation format"):
        read_split("ucf")


def test_segment_indices_cover_the_range_in_order():
    idx = segment_clip_indices(100, 4, 3, 2)
    assert idx.shape == (2, 4) and (np.diff(idx, axis=1) == 3).all() and idx[0, -1] < 50 <= idx[1, 0]
    assert segment_clip_indices(3, 4, 2, 1).max() == 2  # short video: the last frame repeats


def test_random_clip_position_is_seeded_by_the_sample_id(tmp_path):
    write_video(tmp_path / "long.mp4", _frames(9, n=60), fps=8)
    spec = ClipSpec(frames_per_clip=4, frame_step=2, segments=1, views=1, crop=32, random_position=True)
    a, b = Sample("a", str(tmp_path / "long.mp4"), (0,)), Sample("b", str(tmp_path / "long.mp4"), (0,))
    middle = sample_views(a, ClipSpec(frames_per_clip=4, frame_step=2, segments=1, views=1, crop=32))
    assert torch.equal(sample_views(a, spec), sample_views(a, spec))
    assert not torch.equal(sample_views(a, spec), sample_views(b, spec))
    assert not torch.equal(sample_views(a, spec), middle)
