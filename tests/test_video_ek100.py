"""EK100 anticipation through video-eval (tiny official-format CSVs and MP4s, the vit_tiny encoder), the challenge
files of the validation and the label-free test split, and the multi-layer feature option."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from vjepa_bench.cli import main
from vjepa_bench.data.video import write_video
from vjepa_bench.errors import UsageError
from vjepa_bench.models import build_encoder
from vjepa_bench.video.config import VideoEvalConfig
from vjepa_bench.video.evaluate import run_video_eval
from vjepa_bench.video.annotations import read_ek100_test
from vjepa_bench.video.features import LayerSpec, encode_views, load_features
from vjepa_bench.video.metrics import class_mean_recall
from vjepa_bench.video.probe_grid import GridConfig, train_heads, view_averaged_head_probs
from vjepa_bench.video.submission import SubmissionSpec, write_submission

COLUMNS = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp", "stop_timestamp",
           "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class", "all_nouns",
           "all_noun_classes"]


def _row(nid: str, video: str, start_s: float, verb: int, noun: int) -> list:
    stamp = f"00:00:{start_s:05.2f}"
    return [nid, video[:3], video, "", stamp, stamp, 0, 0, "", "", verb, "", noun, "", ""]


@pytest.fixture(scope="module")
def ek100(tmp_path_factory):
    root = tmp_path_factory.mktemp("ek100")
    rng = np.random.default_rng(0)
    for video in ("P01_01", "P02_01", "P03_01", "P04_101"):  # P04_101: a test-split video
        write_video(root / "videos" / video[:3] / "videos" / f"{video}.MP4",
                    rng.integers(0, 255, (96, 48, 64, 3), dtype=np.uint8), fps=8)
    train = [_row(f"P0{p}_01_{i}", f"P0{p}_01", 2.0 + 2 * i, (i + p) % 3, (3, 5)[i % 2])
             for p in (1, 2) for i in range(5)]
    val = [_row("P01_01_v0", "P01_01", 5.0, 0, 5), _row("P03_01_v0", "P03_01", 3.0, 1, 5),
           _row("P03_01_v1", "P03_01", 7.0, 2, 9)]  # noun 9 never trained: the pair (2, 9) has no action index
    for name, rows in (("EPIC_100_train.csv", train), ("EPIC_100_validation.csv", val)):
        with (root / name).open("w", newline="") as f:
            csv.writer(f).writerows([COLUMNS, *rows])
    (root / "unseen.csv").write_text("participant_id\nP03\n")
    (root / "tail_verbs.csv").write_text("verb\n2\n")
    return root


def test_ek100_anticipation_official_then_compat(ek100, tmp_path, capsys):
    out = tmp_path / "run"
    main(["video-eval", "benchmark=ek100", f"data_dir={ek100}", f"output_dir={out}",
          f"eval_files.unseen_csv={ek100 / 'unseen.csv'}", f"eval_files.tail_verbs_csv={ek100 / 'tail_verbs.csv'}",
          "clips.frames_per_clip=4", "clips.fps=4.0", "clips.crop=32", "grid.lrs=[1.0e-3,1.0e-4]", "grid.wds=[0.01]",
          "grid.epochs=2", "grid.batch_size=4", "grid.depth=1", "grid.num_heads=3", "grid.heldout_fraction=0.2",
          "features.layers=[2,5]"])
    assert "ek100: class-mean recall@5 (official): verb" in capsys.readouterr().out
    official = json.loads((out / "results.json").read_text())
    assert official["ek100_mode"] == "official" and official["metric"] == "class-mean recall@5"
    assert set(official["recall5"]) == {"verb", "noun", "action"}
    assert all(0.0 <= v <= 1.0 for v in official["recall5"].values())
    assert official["samples"] == {"train": 10, "eval": 3} and official["skipped_broken"] == {"train": 0, "eval": 0}
    assert official["features"] == {"layers": [2, 5], "merge": "concat"}
    assert official["trained_classes"] == {"verb": 3, "noun": 2, "action": 6}
    head = official["heads"][0]
    assert len(official["heads"]) == 2 and head["groups"]["unseen"]["action"]["num_samples_used"] == 2
    assert head["groups"]["tail"]["verb"]["num_samples_used"] == 1
    assert head["groups"]["overall"]["action"]["num_samples_used"] == 3
    tokens = load_features(out / "features_eval.h5").tokens
    assert tokens.shape == (3, 1, 2 * (4 // 2) * (32 // 16) ** 2, 192)  # two layers' tokens concatenated
    check_submission(out / "ek100_submission.json", official, (0, 0, 0), top_actions=6)
    assert "test_submission" not in official and not (out / "ek100_test_submission.json").exists()

    cfg = VideoEvalConfig(
        benchmark="ek100", format="ek100", train_files=official_files(ek100, "train"),
        eval_files={**official_files(ek100, "validation"), "unseen_csv": str(ek100 / "unseen.csv"),
                    "tail_verbs_csv": str(ek100 / "tail_verbs.csv")},
        output_dir=str(out), ek100_mode="vjepa2_compat", features=LayerSpec((2, 5)),
        submission=SubmissionSpec(sls_pt=2, sls_tl=1, sls_td=3, top_actions=4))
    cfg = replace(cfg, clips=replace(cfg.clips, frames_per_clip=4, fps=4.0, crop=32, frame_step=1),
                  grid=replace(cfg.grid, lrs=(1e-3, 1e-4), wds=(0.01,), epochs=2, batch_size=4, depth=1, num_heads=3,
                               heldout_fraction=0.2))
    compat = run_video_eval(cfg)  # the cached features are reused
    assert compat["ek100_mode"] == "vjepa2_compat"
    assert compat["heads"][0]["groups"]["overall"]["action"]["num_samples_used"] == 2  # the untrained pair dropped
    for c, o in zip(compat["heads"], official["heads"]):
        assert c["action_recall5"] >= o["action_recall5"]
    check_submission(out / "ek100_submission.json", compat, (2, 1, 3), top_actions=4)


VAL_IDS = ["P01_01_v0", "P03_01_v0", "P03_01_v1"]
VAL_VERBS, VAL_NOUNS = [0, 1, 2], [1, 1, 2]  # in vocabulary order: nouns (3, 5), and 9 never trained


def check_submission(path, results: dict, sls: tuple[int, int, int], top_actions: int) -> None:
    """The challenge file field by field, and its scores are the selected head's (they give its recall)."""
    sub = json.loads(path.read_text())
    assert list(sub) == ["version", "challenge", "sls_pt", "sls_tl", "sls_td", "results"]
    assert (sub["version"], sub["challenge"]) == ("0.2", "action_anticipation")
    assert (sub["sls_pt"], sub["sls_tl"], sub["sls_td"]) == sls
    assert results["submission"] == {"file": str(path), "head": results[results["head_selection"]]["head"],
                                     "entries": 3}
    assert list(sub["results"]) == VAL_IDS
    trained_pairs = {f"{(i + p) % 3},{(3, 5)[i % 2]}" for p in (1, 2) for i in range(5)}
    for entry in sub["results"].values():
        assert list(entry) == ["verb", "noun", "action"]
        assert list(entry["verb"]) == ["0", "1", "2"] and list(entry["noun"]) == ["3", "5"]  # official class ids
        assert all(isinstance(x, float) for part in entry.values() for x in part.values())
        assert sum(entry["verb"].values()) == pytest.approx(1.0) and sum(entry["noun"].values()) == pytest.approx(1.0)
        actions = list(entry["action"].values())
        assert len(actions) == top_actions and set(entry["action"]) <= trained_pairs
        assert actions == sorted(actions, reverse=True) and sum(actions) <= 1.0 + 1e-6
    pairs = sorted(trained_pairs, key=lambda a: tuple(map(int, a.split(","))))  # the head's action order
    checks = [("verb", VAL_VERBS, None), ("noun", VAL_NOUNS, None)]
    if top_actions == len(pairs):  # every action score written: the action recall can be recomputed too
        checks.append(("action", [pairs.index("0,5"), pairs.index("1,5"), len(pairs)], pairs))
    for name, labels, order in checks:
        scores = np.array([[sub["results"][i][name][c] for c in (order or sub["results"][i][name])] for i in VAL_IDS])
        recall = class_mean_recall(scores, np.array(labels), 5, results["ek100_mode"])["recall"]
        assert recall == pytest.approx(results["recall5"][name])


def test_submission_scores_are_the_selected_heads_probabilities(tmp_path):
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(5, 2, 4, 16)).astype(np.float32)  # 5 samples, 2 views
    labels = np.stack([rng.integers(0, 3, 5), rng.integers(0, 2, 5), rng.integers(0, 4, 5)], axis=1)
    grid = GridConfig(lrs=(1e-3,), wds=(0.01,), epochs=1, batch_size=4, depth=1, num_heads=2, heldout_fraction=0.0)
    head = train_heads(grid, tokens, labels, {"verb": 3, "noun": 2, "action": 4})[0][0]
    ids = {"verb": [4, 7, 9, 11], "noun": [0, 300], "action": ["4,0", "4,300", "7,0", "9,300", "11,0"]}
    path = write_submission(tmp_path / "sub.json", head, tokens, [f"n{i}" for i in range(5)], ids,
                            SubmissionSpec(sls_pt=1, top_actions=2))
    sub = json.loads(path.read_text())
    verb, noun, action = view_averaged_head_probs(head, tokens)
    for i in range(5):
        entry = sub["results"][f"n{i}"]
        assert list(entry["verb"]) == ["4", "7", "9"] and list(entry["noun"]) == ["0", "300"]  # the trained ones
        np.testing.assert_allclose(list(entry["verb"].values()), verb[i], rtol=1e-6)
        np.testing.assert_allclose(list(entry["noun"].values()), noun[i], rtol=1e-6)
        best = np.argsort(-action[i], kind="stable")[:2]
        assert entry["action"] == pytest.approx({ids["action"][j]: float(action[i, j]) for j in best})
    assert (sub["sls_pt"], sub["sls_tl"], sub["sls_td"]) == (1, 0, 0)
    with pytest.raises(UsageError, match="submission.sls_tl"):
        SubmissionSpec(sls_tl=-1).validate()


TEST_COLUMNS = ["narration_id", "participant_id", "video_id", "start_timestamp", "stop_timestamp", "start_frame",
                "stop_frame"]  # the official test timestamps CSV: no narration, no verb or noun
TEST_IDS = ["P04_101_0", "P04_101_1", "P01_01_t0"]  # P01_01_t0: the time of the validation action P01_01_v0


def _write_test_csv(path, columns=TEST_COLUMNS) -> None:
    rows = [(nid, nid[:3], nid.rsplit("_", 1)[0], f"00:00:{start:05.2f}", f"00:00:{start + 1:05.2f}", 0, 0)
            for nid, start in zip(TEST_IDS, (3.0, 10.5, 5.0))]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([columns, *[[dict(zip(TEST_COLUMNS, r))[c] for c in columns] for r in rows]])


def test_ek100_test_split_challenge_file(ek100, tmp_path, capsys):
    out, test_csv = tmp_path / "run", tmp_path / "EPIC_100_test_timestamps.csv"
    _write_test_csv(test_csv)
    main(["video-eval", "benchmark=ek100", f"data_dir={ek100}", f"output_dir={out}", f"submission.test_csv={test_csv}",
          "submission.top_actions=4", "submission.sls_pt=2", "eval_files.anticipation_s=1.5",
          "clips.frames_per_clip=4", "clips.fps=4.0", "clips.crop=32", "grid.lrs=[1.0e-3,1.0e-4]", "grid.wds=[0.01]",
          "grid.epochs=2", "grid.batch_size=4", "grid.depth=1", "grid.num_heads=3", "grid.heldout_fraction=0.2"])
    path = out / "ek100_test_submission.json"
    assert f"test-split challenge file {path} (3 entries)" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    head = results[results["head_selection"]]["head"]
    assert results["test_submission"] == {"file": str(path), "head": head, "entries": 3, "skipped_broken": 0}
    sub = json.loads(path.read_text())
    assert list(sub) == ["version", "challenge", "sls_pt", "sls_tl", "sls_td", "results"]
    assert (sub["version"], sub["challenge"], sub["sls_pt"], sub["sls_tl"], sub["sls_td"]) == (
        "0.2", "action_anticipation", 2, 0, 0)
    assert list(sub["results"]) == TEST_IDS  # every test narration, in the CSV's order

    # The test clips are cut as the validation ones (the eval split's anticipation time, 1.5 s): the clip at the
    # validation action's time has the validation clip's features, and the same scores.
    test = load_features(out / "features_test.h5")
    assert test.ids == TEST_IDS and test.labels.shape == (3, 0)
    np.testing.assert_array_equal(test.tokens[2], load_features(out / "features_eval.h5").tokens[0])
    assert sub["results"]["P01_01_t0"] == json.loads((out / "ek100_submission.json").read_text())["results"]["P01_01_v0"]
    assert not np.array_equal(test.tokens[0], test.tokens[2])

    # The scores are the selected head's view-averaged probabilities on the test clips (the heads retrained from
    # the cached training features are the run's: same grid, same seed).
    train = load_features(out / "features_train.h5")
    heads, _ = train_heads(GridConfig(**results["grid"]), train.tokens, train.labels, {"verb": 3, "noun": 2, "action": 6})
    verb, noun, action = view_averaged_head_probs(heads[head], test.tokens)
    pairs = ["0,3", "0,5", "1,3", "1,5", "2,3", "2,5"]  # the head's action order: the trained pairs, sorted
    for i, nid in enumerate(TEST_IDS):
        entry = sub["results"][nid]
        assert list(entry["verb"]) == ["0", "1", "2"] and list(entry["noun"]) == ["3", "5"]
        np.testing.assert_allclose(list(entry["verb"].values()), verb[i], rtol=1e-5)
        np.testing.assert_allclose(list(entry["noun"].values()), noun[i], rtol=1e-5)
        best = np.argsort(-action[i], kind="stable")[:4]
        assert list(entry["action"]) == [pairs[j] for j in best]
        np.testing.assert_allclose(list(entry["action"].values()), action[i, best], rtol=1e-5)


def test_ek100_test_csv_errors(ek100, tmp_path):
    bad = tmp_path / "test.csv"
    _write_test_csv(bad, [c for c in TEST_COLUMNS if c != "start_timestamp"])
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        main(["video-eval", "benchmark=ek100", f"data_dir={ek100}", f"output_dir={out}", f"submission.test_csv={bad}"])
    text = str(exit_.value.code)
    assert text.startswith(f"vjepa-bench video-eval: {bad}: missing column(s) ['start_timestamp']") and "\n" not in text
    assert "official EK100 test timestamps CSV (submission.test_csv)" in text
    assert not (out / "features_train.h5").exists()  # refused before any video is decoded
    _write_test_csv(tmp_path / "ok.csv")
    sample = read_ek100_test(str(tmp_path / "ok.csv"), str(ek100 / "videos"), file_format=1,
                             anticipation_s=0.5).samples[0]
    assert (sample.id, sample.path, sample.end_time_s, sample.labels) == (
        "P04_101_0", str(ek100 / "videos" / "P04" / "P04_101.MP4"), 2.5, ())
    with pytest.raises(UsageError, match="submission.test_csv: only EK100"):
        VideoEvalConfig(submission=SubmissionSpec(test_csv=str(bad)))


def official_files(root, split: str) -> dict:
    return {"split_csv": str(root / f"EPIC_100_{split}.csv"), "train_csv": str(root / "EPIC_100_train.csv"),
            "video_dir": str(root / "videos")}


def test_layer_spec_concat_mean_and_errors():
    torch.manual_seed(0)
    encoder = build_encoder("vit_tiny", depth=3, embed_dim=48, num_heads=3, mlp_hidden_dim=96).eval()
    views = torch.randn(2, 1, 3, 4, 32, 32)  # 2 views, 1 segment
    with torch.no_grad():
        per_layer = encoder(views.flatten(0, 1), out_layers=[0, 2])
    final = encode_views(encoder, views)
    concat = encode_views(encoder, views, LayerSpec((0, -1)))
    mean = encode_views(encoder, views, LayerSpec((0, 2), "mean"))
    assert final.shape == (2, 8, 48) and concat.shape == (2, 16, 48)
    torch.testing.assert_close(concat[:, 8:], final)
    torch.testing.assert_close(mean, (per_layer[0] + per_layer[1]) / 2)
    with pytest.raises(UsageError, match=r"features.layers=\[3\]"):
        LayerSpec((3,)).validate(3)
    with pytest.raises(UsageError, match="features.merge"):
        LayerSpec((0,), "sum")
    with pytest.raises(UsageError, match="ek100_mode"):
        run_video_eval(VideoEvalConfig(ek100_mode="strict"))
