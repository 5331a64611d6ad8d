"""sim_motion end to end: make-sim-motion at a tiny size, then video-eval with the random vit_tiny encoder."""

import json

from vjepa_bench.cli import main


def test_make_sim_motion_then_video_eval(tmp_path, capsys):
    data, out = tmp_path / "sim_motion", tmp_path / "run"
    main(["make-sim-motion", f"out_dir={data}", "clips=27", "frames=8", "image_size=32"])
    validation = json.loads((data / "something-something-v2-validation.json").read_text())
    train = json.loads((data / "something-something-v2-train.json").read_text())
    assert (len(train), len(validation)) == (19, 8) and len(list((data / "videos").glob("*.mp4"))) == 27
    (data / "videos" / f"{validation[0]['id']}.mp4").write_bytes(b"truncated")  # one broken eval video
    main(["video-eval", "benchmark=sim_motion", f"data_dir={data}", f"output_dir={out}", "clips.frames_per_clip=4",
          "clips.crop=32", "grid.epochs=3", "grid.batch_size=8", "grid.lrs=[1.0e-3,1.0e-4]", "grid.wds=[0.01]"])
    assert "sim_motion: top-1" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert 0.0 <= results["top1"] <= results["top5"] <= 1.0
    assert results["head_selection"] == "selected_on_heldout_train"
    assert results["top1"] == results["selected_on_heldout_train"]["top1"]
    assert results["max_over_heads_on_eval"]["top1"] == max(h["top1"] for h in results["heads"])
    assert len(results["heads"]) == 2
    assert results["skipped_broken"] == {"train": 0, "eval": 1}
    assert results["samples"] == {"train": 19, "eval": 7} and results["missing_videos"] == {"train": 0, "eval": 0}
