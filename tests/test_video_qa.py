"""score-qa: answer parsing, annotation files, lmms-eval and plain prediction files, against hand-computed scores."""

import json

import pytest

from vjepa_bench.cli import main
from vjepa_bench.errors import UsageError
from vjepa_bench.video.qa_annotations import read_qa_annotations
from vjepa_bench.video.qa_parse import parse_choice
from vjepa_bench.video.qa_predictions import read_predictions
from vjepa_bench.video.config import ScoreQAConfig
from vjepa_bench.video.qa_score import run_score_qa

OPTIONS = ["red ball", "blue ball", "green cube"]


@pytest.mark.parametrize("text, want", [
    ("B", 1), ("b", 1), ("(B)", 1), ("B.", 1), ("B) blue ball", 1), ("C. green cube", 2), ("Answer: C", 2),
    ("The answer is (A).", 0), ("Best option:(C) green cube", 2), ("Blue ball.", 1),
    ("I think it is the green cube", 2), ("I'd pick (B) here", 1),
    ("D", None), ("", None), (None, None), ("red ball or blue ball", None), ("either (B) or (C)", None), ("banana", None),
])
def test_parse_choice(text, want):
    assert parse_choice(text, OPTIONS) == want


def test_parse_choice_yes_no_nested_options_and_option_text_starting_with_a():
    assert [parse_choice(t, ["yes", "no"]) for t in ("Yes, it is.", "no", "The answer is no.", "It is not", "")] \
        == [0, 1, 1, None, None]
    assert parse_choice("no", ["No", "Yes"]) == 0
    assert parse_choice("it is dark red", ["dark red", "red", "blue"]) == 0  # "red" lies inside "dark red"
    assert parse_choice("A person walks", ["A person walks", "A person runs"]) == 0  # "A " is not a letter
    assert parse_choice("2", ["1", "2", "3"]) == 1


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_annotations_answers_aliases_and_errors(tmp_path):
    rows = [
        {"id": 1, "question": "q", "candidates": ["x", "y"], "answer": "y", "dim": "count"},
        {"id": "2", "options": ["A. slow", "B. fast"], "answer": "B. fast", "dim": "speed", "format": "multi-choice"},
        {"id": "3", "answer": "no", "dim": "speed", "format": "yes_no"},
        {"id": "4", "options": ["Caption A: left", "Caption B: right"], "answer": "Caption A: left", "dim": "dir",
         "format": "caption_matching"},
        {"id": "5", "options": ["x", "y", "z"], "answer": 2, "category": "c"},
    ]
    items = read_qa_annotations(_write_jsonl(tmp_path / "a.jsonl", rows), "tempcompass")
    assert [(i.id, i.answer, i.category, i.format) for i in items] == [
        ("1", 1, "count", "multi-choice"), ("2", 1, "speed", "multi-choice"), ("3", 1, "speed", "yes_no"),
        ("4", 0, "dir", "caption_matching"), ("5", 2, "c", "multi-choice")]
    assert items[1].options == ("slow", "fast") and items[3].options == ("left", "right")
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"q7": {"options": ["a cat", "a dog"], "answer": 0, "reasoning_type": "count"}}))
    assert read_qa_annotations(keyed, "tomato")[0].id == "q7"
    bad = {
        "duplicate id": [rows[4], rows[4]],
        "not one of the 3 options": [{**rows[4], "answer": "w"}],
        "JSON number": [{**rows[4], "answer": "1"}],
        "no 'category'": [{"id": "9", "options": ["x", "y"], "answer": 0}],
        "format 'open'": [{**rows[4], "format": "open"}],
        "at least two": [{**rows[4], "options": ["x"]}],
    }
    for message, content in bad.items():
        with pytest.raises(UsageError, match=message):
            read_qa_annotations(_write_jsonl(tmp_path / "bad.jsonl", content), "tempcompass")
    with pytest.raises(UsageError, match="not a QA benchmark"):
        read_qa_annotations(keyed, "videomme")


def _sample(doc_id, doc, filtered=None, resps=None):
    row = {"doc_id": doc_id, "doc": doc, "target": "ignored", "mvbench_accuracy": {"score": 1}}
    if filtered is not None:
        row["filtered_resps"] = filtered
    if resps is not None:
        row["resps"] = resps
    return row


def test_mvbench_lmms_eval_samples_hand_computed(tmp_path):
    opts = ["x", "y", "z"]
    ann = [{"id": f"mvbench_action_sequence/{i}", "candidates": opts, "answer": a, "task": "action_sequence"}
           for i, a in enumerate(["y", "x", "z"])]
    ann += [{"id": f"mvbench_moving_count/{i}", "candidates": opts, "answer": a, "task": "moving_count"}
            for i, a in enumerate(["y", "x"])]
    doc = {"video": "v.mp4", "question": "?", "candidates": opts}
    _write_jsonl(tmp_path / "samples_mvbench_action_sequence.jsonl", [
        _sample(0, doc, filtered=["(B) y"]),   # correct
        _sample(1, doc, filtered=["banana"]),  # unparsed (the logged metric says 1: ignored)
        _sample(1, doc, filtered=["A"]),       # duplicate of doc 1: not scored
    ])                                          # doc 2: missing
    _write_jsonl(tmp_path / "20250101_samples_mvbench_moving_count.jsonl", [
        _sample(0, doc, filtered=["B"]),       # correct
        _sample(1, doc, resps=[["C"]]),        # wrong (read from resps)
        _sample(7, doc, filtered=["A"]),       # not in the split
    ])
    _write_jsonl(tmp_path / "ann.jsonl", ann)
    cfg = ScoreQAConfig("mvbench", str(tmp_path / "ann.jsonl"), [str(tmp_path / "*samples_mvbench_*.jsonl")],
                        output_dir=str(tmp_path / "out"))
    results = run_score_qa(cfg)
    assert results["overall"] == {"accuracy": pytest.approx(2 / 5), "correct": 2, "total": 5, "unparsed": 1,
                                  "missing": 1, "rule_only": False}
    assert results["per_category"]["action_sequence"]["accuracy"] == pytest.approx(1 / 3)
    assert results["per_category"]["moving_count"]["accuracy"] == pytest.approx(1 / 2)
    ids = results["id_check"]
    assert not ids["matches_split"]
    assert ids["missing"] == {"count": 1, "ids": ["mvbench_action_sequence/2"]}
    assert ids["extra"] == {"count": 1, "ids": ["mvbench_moving_count/7"]}
    assert ids["duplicate"] == {"count": 1, "ids": ["mvbench_action_sequence/1"]}
    assert json.loads((tmp_path / "out" / "results.json").read_text())["overall"]["correct"] == 2


def test_tempcompass_plain_predictions_rule_only_formats(tmp_path):
    ann = [
        {"id": "t1", "options": ["A. slow", "B. fast"], "answer": "B. fast", "dim": "speed", "format": "multi-choice"},
        {"id": "t2", "answer": "no", "dim": "speed", "format": "yes_no"},
        {"id": "t3", "answer": "yes", "dim": "direction", "format": "yes_no"},
        {"id": "t4", "options": ["Caption A: moves left", "Caption B: moves right"], "answer": "Caption A: moves left",
         "dim": "direction", "format": "caption_matching"},
        {"id": "t5", "options": ["left", "right"], "answer": 1, "dim": "direction", "format": "captioning"},
    ]
    preds = [{"id": "t1", "answer": "B"}, {"id": "t2", "answer": "No, it is not."},
             {"id": "t3", "answer": "It moves left"}, {"id": "t4", "answer": "Caption B"},
             {"id": "t5", "answer": "A dog runs to the right side."}]
    results = run_score_qa(ScoreQAConfig("tempcompass", str(_write_jsonl(tmp_path / "ann.jsonl", ann)),
                                         [str(_write_jsonl(tmp_path / "pred.jsonl", preds))],
                                         output_dir=str(tmp_path / "out")))
    assert (results["overall"]["correct"], results["overall"]["unparsed"]) == (3, 1)
    assert results["overall"]["accuracy"] == pytest.approx(3 / 5) and results["overall"]["rule_only"]
    formats = results["per_format"]
    assert (formats["yes_no"]["correct"], formats["yes_no"]["unparsed"], formats["yes_no"]["rule_only"]) == (1, 1, False)
    assert formats["caption_matching"]["accuracy"] == 0.0 and formats["caption_matching"]["rule_only"]
    assert formats["captioning"]["accuracy"] == 1.0 and formats["captioning"]["rule_only"]
    assert results["per_category"]["speed"]["accuracy"] == 1.0
    assert results["per_category"]["direction"]["accuracy"] == pytest.approx(1 / 3)
    assert results["id_check"]["matches_split"]


def test_prediction_file_errors(tmp_path):
    doc = {"video_name": "video_1", "question_id": "0"}
    with pytest.raises(UsageError, match="id_template"):
        read_predictions(_write_jsonl(tmp_path / "s.jsonl", [_sample(0, doc, filtered=["A"])]), "{video_id}")
    with pytest.raises(UsageError, match="not generated text"):
        read_predictions(_write_jsonl(tmp_path / "s.jsonl", [_sample(0, doc, filtered=[[-1.5, False]])]), "{doc_id}")
    with pytest.raises(UsageError, match="neither an lmms-eval sample"):
        read_predictions(_write_jsonl(tmp_path / "s.jsonl", [{"question": "?"}]), "{doc_id}")
    ann = _write_jsonl(tmp_path / "ann.jsonl", [{"id": "a", "options": ["x", "y"], "answer": 0, "task": "t"}])
    with pytest.raises(UsageError, match="no file matches"):
        run_score_qa(ScoreQAConfig("mvbench", str(ann), [str(tmp_path / "none_*.jsonl")]))
    with pytest.raises(UsageError, match="benchmark is required"):
        run_score_qa(ScoreQAConfig())


def test_score_qa_command_perceptiontest(tmp_path, capsys):
    ann = _write_jsonl(tmp_path / "pt.jsonl", [
        {"id": "video_1_0", "options": ["one", "two", "three"], "answer": 2, "area": "memory"},
        {"id": "video_1_1", "options": ["one", "two", "three"], "answer": 0, "area": "physics"}])
    docs = [{"video_name": "video_1", "question_id": str(i), "options": ["one", "two", "three"]} for i in range(2)]
    samples = _write_jsonl(tmp_path / "samples_perceptiontest_val_mc.jsonl",
                           [_sample(0, docs[0], filtered=["C"]), _sample(1, docs[1], filtered=["B"])])
    out = tmp_path / "out"
    main(["score-qa", "benchmark=perceptiontest", f"annotations={ann}", f"predictions=[{samples}]",
          f"output_dir={out}"])
    printed = capsys.readouterr().out
    assert "perceptiontest: accuracy 0.5000 (1/2)" in printed and "missing 0, extra 0, duplicate 0" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["per_category"] == {
        "memory": {"accuracy": 1.0, "correct": 1, "total": 1, "unparsed": 0, "missing": 0},
        "physics": {"accuracy": 0.0, "correct": 0, "total": 1, "unparsed": 0, "missing": 0}}
