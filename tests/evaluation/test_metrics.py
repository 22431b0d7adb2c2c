import json
import math

import numpy as np
import pytest

from ppi.errors import InputError
from ppi.evaluation.metrics import (
    binary_metrics,
    load_metrics,
    multiclass_metrics,
    multilabel_metrics,
    save_metrics,
)

# Binary example: preds at 0.5 are [1, 0, 1, 0, 1, 0] -> TP=2, FN=1, FP=1, TN=2.
# Sorted by score: 0.9 P, 0.8 P, 0.6 N, 0.4 P, 0.3 N, 0.1 N.
BIN_Y = [1, 1, 0, 0, 1, 0]
BIN_P = [0.9, 0.4, 0.6, 0.1, 0.8, 0.3]


def test_binary_metrics_hand_computed():
    m = binary_metrics(BIN_Y, BIN_P)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 3 / 9
    assert m["mcc"] == pytest.approx(1 / 3)
    # positive/negative pairs ranked correctly: 0.9 -> 3, 0.8 -> 3, 0.4 -> 2 of 9
    assert m["auroc"] == pytest.approx(8 / 9)
    # precision at each positive's rank: 1/1, 2/2, 3/4
    assert m["aupr"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert (m["n"], m["positives"], m["positive_fraction"]) == (6, 3, 0.5)
    assert m["threshold"] == 0.5
    assert all(type(v) in (int, float) for v in m.values())


def test_binary_metrics_threshold_is_inclusive():
    m = binary_metrics([1, 0, 1], [0.7, 0.7, 0.2], threshold=0.7)
    # preds [1, 1, 0]: TP=1, FP=1, FN=1
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["threshold"] == 0.7


@pytest.mark.parametrize("label", [0, 1])
def test_binary_metrics_single_class_gives_nan_ranking_scores(label):
    m = binary_metrics([label] * 4, [0.1, 0.6, 0.8, 0.3])
    assert math.isnan(m["auroc"]) and math.isnan(m["aupr"])
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["mcc"] == 0.0
    assert m["positive_fraction"] == float(label)


def test_binary_metrics_rejects_bad_input():
    with pytest.raises(InputError, match="not logits"):
        binary_metrics([0, 1], [-2.0, 3.0])
    with pytest.raises(InputError, match="labels 0 or 1, got 2"):
        binary_metrics([0, 2], [0.1, 0.9])
    with pytest.raises(InputError, match="got 3 and 2"):
        binary_metrics([0, 1, 1], [0.1, 0.9])
    with pytest.raises(InputError, match="NaN or inf"):
        binary_metrics([0, 1], [0.1, float("nan")])
    with pytest.raises(InputError, match="non-zero"):
        binary_metrics([], [])


# Multiclass example: argmax preds [0, 1, 1, 1, 2, 0] for labels [0, 0, 1, 1, 2, 2].
MC_Y = np.array([0, 0, 1, 1, 2, 2])
MC_P = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.1, 0.8],
        [0.5, 0.2, 0.3],
    ]
)


def test_multiclass_metrics_hand_computed():
    m = multiclass_metrics(MC_Y, MC_P, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    per = m["per_class"]
    assert per["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert per["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert per["c"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # Gorodkin's MCC: (c*s - sum p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)),
    # c=4 correct, s=6, predicted counts [2, 3, 1], true counts [2, 2, 2].
    assert m["mcc"] == pytest.approx((4 * 6 - 12) / math.sqrt((36 - 14) * (36 - 12)))
    # one-vs-rest AUROC: a 7/8, b 7/8, c 7.5/8 (one tie at 0.3)
    assert m["auroc"] == pytest.approx((7 / 8 + 7 / 8 + 7.5 / 8) / 3)
    assert (m["n"], m["num_classes"]) == (6, 3)


def test_multiclass_two_classes_auroc_is_binary_auroc_of_class_one():
    p1 = np.array(BIN_P)
    m = multiclass_metrics(np.array(BIN_Y), np.stack([1 - p1, p1], axis=1), ["no", "yes"])
    assert m["auroc"] == pytest.approx(8 / 9)


def test_multiclass_auroc_skips_absent_classes_and_nan_when_none():
    # class 2 never occurs: macro AUROC over classes 0 and 1 only
    m = multiclass_metrics(MC_Y[:4], MC_P[:4], ["a", "b", "c"])
    auroc_a = 1.0  # positives 0.7, 0.3 vs negatives 0.1, 0.2: 4 of 4 pairs
    auroc_b = 3 / 4  # positives 0.8, 0.5 vs negatives 0.2, 0.6: 3 of 4 pairs
    assert m["auroc"] == pytest.approx((auroc_a + auroc_b) / 2)
    assert m["per_class"]["c"]["support"] == 0
    one = multiclass_metrics(np.array([1, 1]), MC_P[:2], ["a", "b", "c"])
    assert math.isnan(one["auroc"])


def test_multiclass_metrics_rejects_bad_input():
    with pytest.raises(InputError, match=r"class indices in \[0, 3\), got 0..3"):
        multiclass_metrics(np.array([0, 3]), MC_P[:2], ["a", "b", "c"])
    with pytest.raises(InputError, match="integer class indices"):
        multiclass_metrics(np.array([0.0, 1.0]), MC_P[:2], ["a", "b", "c"])
    with pytest.raises(InputError, match="expected 3 class names"):
        multiclass_metrics(MC_Y, MC_P, ["a", "b"])


# Multilabel example; class z has no positives.
ML_Y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
ML_P = np.array([[0.9, 0.45, 0.1], [0.4, 0.7, 0.2], [0.6, 0.4, 0.6], [0.1, 0.3, 0.1]])


def test_multilabel_metrics_hand_computed():
    m = multilabel_metrics(ML_Y, ML_P, ["x", "y", "z"])
    # preds [[1,0,0],[0,1,0],[1,0,1],[0,0,0]]: TP=3, FP=1 (z), FN=1 (y)
    assert m["micro_f1"] == pytest.approx(3 / 4)
    # per-class F1: x 1, y 2/3, z 0 (one false positive)
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert m["subset_accuracy"] == pytest.approx(3 / 4)
    # AUROC x 1, y 3/4; AP x 1, y (1 + 2/3) / 2; z is excluded from both means
    assert m["auroc_macro"] == pytest.approx((1 + 3 / 4) / 2)
    assert m["aupr_macro"] == pytest.approx((1 + 5 / 6) / 2)
    assert m["per_class"]["y"]["aupr"] == pytest.approx(5 / 6)
    assert m["per_class"]["x"]["positives"] == 2
    assert math.isnan(m["per_class"]["z"]["aupr"])


def test_multilabel_metrics_all_single_class_gives_nan():
    m = multilabel_metrics(np.zeros((3, 2), int), np.full((3, 2), 0.2), ["a", "b"])
    assert math.isnan(m["auroc_macro"]) and math.isnan(m["aupr_macro"])
    assert m["subset_accuracy"] == 1.0


def test_multilabel_metrics_rejects_shape_mismatch():
    with pytest.raises(InputError, match="one shape"):
        multilabel_metrics(ML_Y[:, :2], ML_P, ["x", "y", "z"])


def test_save_metrics_writes_sorted_json_with_null_for_nan(tmp_path):
    path = tmp_path / "out" / "metrics.json"
    save_metrics(
        {"test": binary_metrics([1, 1], [0.3, 0.9]), "b": np.float32(0.5), "a": [np.int64(2)]},
        path,
    )
    text = path.read_text()
    assert "NaN" not in text and '"auroc": null' in text
    data = json.loads(text)
    assert list(data) == ["a", "b", "test"]
    assert data["a"] == [2] and data["b"] == 0.5
    assert data["test"]["aupr"] is None
    assert list(data["test"]) == sorted(data["test"])
    assert text.startswith('{\n  "a"')
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temp file left
    assert load_metrics(path) == data


def test_load_metrics_missing_and_corrupt(tmp_path):
    assert load_metrics(tmp_path / "none.json") == {}
    bad = tmp_path / "metrics.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="metrics.json: expected a JSON object"):
        load_metrics(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="got list"):
        load_metrics(bad)
