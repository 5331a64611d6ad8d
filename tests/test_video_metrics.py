"""Video metrics against hand-computed cases."""

import math

import numpy as np
import pytest

from vjepa_bench.video.metrics import challenge_json, class_mean_recall, ek100_groups, ranked, topk_accuracy


def test_topk_ties_go_to_the_lower_class_index():
    scores = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.1, 0.2, 0.3]])
    assert ranked(scores, 2).tolist() == [[0, 1], [0, 1], [2, 1]]
    assert topk_accuracy(scores, np.array([0, 1, 2]), k=1) == pytest.approx(2 / 3)
    assert topk_accuracy(scores, np.array([0, 1, 2]), k=2) == 1.0
    assert topk_accuracy(scores, np.array([2, 2, 0]), k=2) == 0.0


def test_class_mean_recall_counts_only_present_classes():
    scores = np.array([[0.9, 0.1, 0.0, 0.0], [0.1, 0.9, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0]])
    labels = np.array([0, 0, 1])  # classes 2 and 3 absent: not averaged
    out = class_mean_recall(scores, labels, k=1)
    assert out["recall"] == pytest.approx((0.5 + 0.0) / 2)
    assert out["num_classes_used"] == 2 and out["num_samples_used"] == 3 and out["mode"] == "official"
    only_0 = class_mean_recall(scores, labels, k=1, classes=[0, 3])
    assert only_0["recall"] == pytest.approx(0.5) and only_0["num_samples_used"] == 2


def test_class_mean_recall_ties_go_to_the_lower_class_index():
    scores = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.3, 0.3, 0.3]])  # all rows tied at the top
    out = class_mean_recall(scores, np.array([0, 1, 2]), k=1)
    assert out["recall"] == pytest.approx((1.0 + 0.0 + 0.0) / 3)  # class 0 wins every tie
    assert class_mean_recall(scores, np.array([0, 1, 2]), k=2)["recall"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)


def test_official_and_vjepa2_compat_differ_where_masking_and_filtering_matter():
    scores = np.array([
        [0.1, 0.2, 0.9, 0.0],  # label 0: top-1 is 2 (miss); masked to {0, 1}: top-1 is 1 (miss)
        [0.9, 0.1, 0.0, 0.0],  # label 0: hit in both
        [0.0, 0.5, 0.0, 0.8],  # label 1: top-1 is 3 (miss); masked: 1 (hit)
        [0.3, 0.2, 0.1, 0.0],  # label 4: a class the head cannot output; dropped by compat
    ])
    labels = np.array([0, 0, 1, 4])
    official = class_mean_recall(scores, labels, k=1)
    compat = class_mean_recall(scores, labels, k=1, mode="vjepa2_compat")
    assert official["recall"] == pytest.approx((0.5 + 0.0 + 0.0) / 3)
    assert (official["num_classes_used"], official["num_samples_used"]) == (3, 4)
    assert compat["recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert (compat["num_classes_used"], compat["num_samples_used"], compat["mode"]) == (2, 3, "vjepa2_compat")


def test_ek100_groups_and_challenge_json():
    rng = np.random.default_rng(0)
    verb, noun, action = rng.random((4, 3)), rng.random((4, 5)), rng.random((4, 6))
    labels = {"verb": np.array([0, 1, 2, 0]), "noun": np.array([4, 4, 1, 0]), "action": np.array([0, 1, 2, 3])}
    groups = ek100_groups({"verb": verb, "noun": noun, "action": action}, labels,
                          np.array(["P01", "P02", "P01", "P03"]), unseen=["P03"], tail={"verb": [2], "noun": []}, k=1)
    assert groups["unseen"]["verb"]["num_samples_used"] == 1
    assert groups["tail"]["action"]["num_samples_used"] == 1  # sample 2, whose verb is a tail class
    assert "noun" not in groups["tail"]
    top1 = verb.argmax(axis=1)
    hand = np.mean([np.mean(top1[[0, 3]] == 0), float(top1[1] == 1), float(top1[2] == 2)])
    assert groups["overall"]["verb"]["recall"] == pytest.approx(hand)
    sub = challenge_json(["n1", "n2", "n3", "n4"], verb, noun, action, [10, 11, 12], list(range(5)),
                         [f"{v},{n}" for v, n in zip(range(6), range(6))], top_actions=2)
    assert sub["challenge"] == "action_anticipation" and len(sub["results"]) == 4
    assert len(sub["results"]["n1"]["verb"]) == 3 and len(sub["results"]["n1"]["action"]) == 2
    assert max(sub["results"]["n1"]["action"].values()) == pytest.approx(action[0].max())


def test_empty_and_bad_mode():
    assert math.isnan(topk_accuracy(np.zeros((0, 3)), np.zeros(0, int)))
    with pytest.raises(ValueError, match="mode"):
        class_mean_recall(np.zeros((1, 2)), np.zeros(1, int), mode="nope")
