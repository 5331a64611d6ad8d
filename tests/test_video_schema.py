"""video-eval, make-sim-motion and score-qa on their typed schemas: the CLI parses once, bad keys, types and values
are one-line errors naming the key, and the commands receive the dataclass."""

import pytest

from vjepa_bench.cli import main
from vjepa_bench.schema import from_values
from vjepa_bench.video.config import MakeSimMotionConfig, ScoreQAConfig, VideoEvalConfig

BAD = [
    (["video-eval", "clips.frame=3"], "clips.frame is not a setting of ClipSpec; known: frames_per_clip"),
    (["video-eval", "wrong=1"], "wrong is not a setting of VideoEvalConfig"),
    (["video-eval", "grid.epochs=abc"], "grid.epochs: Value 'abc' of type 'str' could not be converted to Integer"),
    (["video-eval", "benchmark=nope"], "Could not find 'benchmark/nope'; choose one of: coin, diving48, ek100"),
    (["video-eval", "benchmark=k400"], "missing mandatory value: data_dir"),
    (["video-eval", "format=ucf"], "format='ucf': unknown annotation format"),
    (["video-eval", "head_selection=best"], "head_selection must be one of"),
    (["video-eval", "clips.views=2"], "clips.views must be 1 or 3"),
    (["video-eval", "grid.heldout_fraction=1.0"], "grid.heldout_fraction=1.0: must be in [0, 1)"),
    (["video-eval", "submission.sls_pt=-1"], "submission.sls_pt=-1: must be an integer >= 0"),
    (["video-eval", "features.merge=sum", "features.layers=[0]"], "features.merge must be one of"),
    (["video-eval", "benchmark=ek100", "data_dir=/d", "probe_checkpoint=p.pt"], "released EK100 probes also read"),
    (["make-sim-motion", "clips=0"], "clips=0: must be an integer >= 1"),
    (["make-sim-motion", "frames=x"], "frames: Value 'x' of type 'str' could not be converted to Integer"),
    (["make-sim-motion", "out_dir="], "out_dir is required"),
    (["make-sim-motion", "size=64"], "size is not a setting of MakeSimMotionConfig"),
    (["score-qa", "benchmark=foo"], "benchmark='foo' is not a QA benchmark"),
    (["score-qa", "annotations=[1,2]"], "annotations: Cannot convert 'list' to string"),
    (["score-qa"], "benchmark is required"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_settings_are_one_line_errors_naming_the_key(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written: the errors come before any work
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    text = str(exit_.value.code)
    assert text.startswith(f"vjepa-bench {argv[0]}: ") and "\n" not in text and message in text, text
    assert not any(tmp_path.iterdir())


def test_commands_receive_their_dataclass(monkeypatch, tmp_path, capsys):
    seen = {}
    results = {"benchmark": "diving48", "top1": 0.5, "top5": 1.0, "head_selection": "selected_on_heldout_train",
               "max_over_heads_on_eval": {"top1": 0.5}, "skipped_broken": {"train": 0, "eval": 0}, "wall_s": 0.0}
    monkeypatch.setattr("vjepa_bench.video.command.run_video_eval", lambda cfg: seen.setdefault("cfg", cfg) and results)
    main(["video-eval", "benchmark=diving48", f"data_dir={tmp_path}", "clips.crop=224", f"output_dir={tmp_path}"])
    assert "diving48: top-1 0.500 top-5 1.000" in capsys.readouterr().out
    cfg = seen["cfg"]
    assert isinstance(cfg, VideoEvalConfig) and cfg.clips.crop == 224 and cfg.clips.segments == 4
    assert cfg.features.layers == (17, 19, 21, 23) and cfg.grid.lrs == (1e-3, 3e-4, 1e-4)
    assert cfg.train_files["split_json"] == f"{tmp_path}/Diving48_V2_train.json"  # interpolations resolved


def test_from_values_builds_the_schemas():
    assert from_values(MakeSimMotionConfig, {"clips": 9, "out_dir": "x"}).clips == 9
    assert from_values(ScoreQAConfig, {"benchmark": "tomato"}).predictions == []
    with pytest.raises(Exception, match="grid.lr is not a setting of GridConfig"):
        from_values(VideoEvalConfig, {"data_dir": "d", "grid": {"lr": 1}})
