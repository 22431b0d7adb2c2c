import numpy as np
import pytest

from ppi.evaluation.predict import selection_metric


def test_selection_metric_of_each_task():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.8, 0.4])
    assert selection_metric("pair", y, p) == (pytest.approx(1.0), "aupr")
    classes = np.array([0, 1, 1])
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert selection_metric("single", classes, probs) == (pytest.approx(2 / 3), "accuracy")


def test_selection_metric_multi_label():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6], [0.1, 0.3]])
    score, name = selection_metric("single", y, p)
    assert name == "aupr_macro" and score == pytest.approx(1.0)
