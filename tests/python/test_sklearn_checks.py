"""scikit-learn's own estimator checks (sklearn.utils.estimator_checks) on SoftmaxRegression:
the API contract, input validation, pickling, invariances. The estimator declares no expected
failures; only the pandas checks are skipped when pandas is not installed."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from softreg import SoftmaxRegression


@parametrize_with_checks([SoftmaxRegression(), SoftmaxRegression(solver="adam", max_iter=20)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
