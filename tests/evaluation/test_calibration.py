import numpy as np
import pytest

from ppi.errors import InputError
from ppi.evaluation.calibration import expected_calibration_error, prior_shift, realistic_metrics
from ppi.evaluation.metrics import binary_metrics


def test_ece_is_zero_when_each_bin_matches_its_rate_and_large_when_overconfident():
    y = np.array([1] * 3 + [0] * 7 + [1] * 9 + [0] * 1)
    p = np.array([0.3] * 10 + [0.9] * 10)
    assert expected_calibration_error(y, p) == pytest.approx(0.0)
    assert expected_calibration_error(y, 1 - p) == pytest.approx(0.6)


def test_prior_shift_round_trips_and_moves_towards_the_new_prior():
    p = np.array([0.1, 0.5, 0.9])
    low = prior_shift(p, 0.5, 0.01)
    assert np.all(low < p)
    assert prior_shift(low, 0.01, 0.5) == pytest.approx(p)


def test_realistic_prevalence_equals_a_set_with_that_many_negatives():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(50), np.zeros(50)].astype(int)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    got = realistic_metrics(y, p, prevalence=50 / 500)  # each negative counts 9 times
    big_y = np.r_[y[:50], np.tile(y[50:], 9)]
    big_p = np.r_[p[:50], np.tile(p[50:], 9)]
    want = binary_metrics(big_y, big_p)
    assert got["realistic_aupr"] == pytest.approx(want["aupr"])
    assert got["realistic_aupr"] < binary_metrics(y, p)["aupr"]
    assert got["realistic_prevalence"] == 0.1 and 0 <= got["realistic_ece"] <= 1


def test_prevalence_outside_zero_one_is_an_input_error():
    with pytest.raises(InputError, match=r"positive fraction in \(0, 1\)"):
        realistic_metrics([0, 1], [0.2, 0.8], prevalence=1.0)
