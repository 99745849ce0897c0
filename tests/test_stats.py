import numpy as np
import pytest

from ddpg.bench.stats import area_under_curve, bootstrap_mean_ci, iqm, stratified_bootstrap_ci


@pytest.mark.parametrize("scores,expected", [
    ([1, 2, 3, 4, 5, 6, 7, 8], (3 + 4 + 5 + 6) / 4),  # n=8: cut 2 from each end
    ([10, 1, 3, 2, -50], (1 + 2 + 3) / 3),             # n=5: cut floor(1.25)=1, order-free
    ([0, 0, 1, 100], (0 + 1) / 2),                     # n=4: the outlier is cut
    ([7, 1, 2, 3, 4, 1000], (2 + 3 + 4 + 7) / 4),      # n=6: cut floor(1.5)=1, as scipy
    ([5, -1, 2], 2.0),                                 # n<4: nothing cut, the plain mean
    ([[1, 2], [3, 400]], 2.5),                         # a (runs, tasks) matrix is flattened
])
def test_iqm_is_the_25_percent_trimmed_mean(scores, expected):
    assert iqm(scores) == pytest.approx(expected)


def test_iqm_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="empty"):
        iqm([])
    with pytest.raises(ValueError, match="1 non-finite"):
        iqm([1.0, np.nan, 2.0])


def test_stratified_ci_contains_point_and_is_deterministic():
    scores = {"a": np.random.default_rng(0).normal(0, 1, 10),
              "b": np.random.default_rng(1).normal(0, 1, 7)}
    est = stratified_bootstrap_ci(scores, iqm, rng=np.random.default_rng(5))
    assert est.low < est.point < est.high
    assert est.point == pytest.approx(iqm(np.concatenate([scores["a"], scores["b"]])))
    again = stratified_bootstrap_ci(dict(reversed(scores.items())), iqm,
                                    rng=np.random.default_rng(5))
    assert again == est  # same generator state, same answer, whatever the task order


def test_stratified_ci_shrinks_with_more_runs():
    gen = np.random.default_rng(0)
    width = {}
    for runs in (5, 100):
        est = stratified_bootstrap_ci({"a": gen.normal(0, 1, runs), "b": gen.normal(3, 1, runs)},
                                      np.mean, rng=np.random.default_rng(1))
        width[runs] = est.high - est.low
    assert width[100] < width[5] / 2  # ~ 1/sqrt(runs): about 4.5x narrower


def test_stratified_resampling_stays_within_each_task():
    # Task a always scores 0, task b always 1: a resample that mixed tasks could give a mean
    # other than 0.5; stratified resampling keeps 3 runs of each, so the interval is a point.
    est = stratified_bootstrap_ci({"a": np.zeros(3), "b": np.ones(3)}, np.mean,
                                  rng=np.random.default_rng(0))
    assert est == (0.5, 0.5, 0.5)


def test_higher_level_gives_wider_interval():
    scores = {"a": np.random.default_rng(0).normal(0, 1, 20)}
    ci95 = stratified_bootstrap_ci(scores, np.mean, alpha=0.05, rng=np.random.default_rng(1))
    ci50 = stratified_bootstrap_ci(scores, np.mean, alpha=0.5, rng=np.random.default_rng(1))
    assert ci95.low < ci50.low < ci50.high < ci95.high


@pytest.mark.parametrize("kwargs,match", [
    ({"reps": 0}, "reps=0"), ({"alpha": 1.5}, "alpha=1.5")])
def test_stratified_ci_rejects_bad_levels(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stratified_bootstrap_ci({"a": np.ones(3)}, rng=np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match="empty"):
        stratified_bootstrap_ci({}, rng=np.random.default_rng(0))


def test_band_of_identical_curves_has_zero_width():
    curve = np.array([-1200.0, -800.1, -300.3, -150.7])
    band = bootstrap_mean_ci(np.tile(curve, (6, 1)), rng=np.random.default_rng(0))
    np.testing.assert_allclose(band.mean, curve)
    np.testing.assert_allclose(band.low, curve, rtol=0, atol=1e-9)
    np.testing.assert_allclose(band.high, curve, rtol=0, atol=1e-9)


def test_band_contains_mean_and_widens_with_spread():
    gen = np.random.default_rng(0)
    base = np.linspace(-1000, -200, 30)
    narrow = bootstrap_mean_ci(base + gen.normal(0, 10, (8, 30)), rng=np.random.default_rng(1))
    wide = bootstrap_mean_ci(base + gen.normal(0, 100, (8, 30)), rng=np.random.default_rng(1))
    assert np.all(narrow.low <= narrow.mean) and np.all(narrow.mean <= narrow.high)
    assert np.all(wide.high - wide.low > narrow.high - narrow.low)
    np.testing.assert_allclose(narrow.mean, base, atol=25)


def test_band_is_deterministic_given_rng():
    curves = np.random.default_rng(0).normal(size=(5, 12))
    a = bootstrap_mean_ci(curves, rng=np.random.default_rng(3))
    b = bootstrap_mean_ci(curves, rng=np.random.default_rng(3))
    c = bootstrap_mean_ci(curves, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.low, b.low)
    assert not np.array_equal(a.low, c.low)


def test_band_needs_runs_by_points():
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        bootstrap_mean_ci(np.ones(3), rng=np.random.default_rng(0))


def test_auc_of_constant_curve_is_the_constant():
    assert area_under_curve([0, 1000, 5000, 20000], [-150.0] * 4) == pytest.approx(-150.0)


def test_auc_weights_by_step_spacing():
    # 0 -> 100 over the first 10 steps, then 100 for 90 steps: (10*50 + 90*100) / 100 = 95.
    assert area_under_curve([0, 10, 100], [0, 100, 100]) == pytest.approx(95.0)
    np.testing.assert_allclose(area_under_curve([0, 10, 100], [[0, 100, 100], [1, 1, 1]]),
                               [95.0, 1.0])
    assert area_under_curve([5000], [-170.0]) == -170.0


def test_auc_rejects_unsorted_steps_and_mismatched_lengths():
    with pytest.raises(ValueError, match="increase strictly"):
        area_under_curve([0, 10, 10], [1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        area_under_curve([0, 10], [1, 2, 3])
