"""pandas input, as scikit-learn accepts it: DataFrames with string column names keep
feature_names_in_ and are checked against it at prediction; a Series is a valid y."""
import numpy as np
import pytest
from sklearn.datasets import load_iris

from softreg import SoftmaxRegression

pd = pytest.importorskip("pandas", reason="pandas is not installed (requirements/test.txt has it)")


@pytest.fixture(scope="module")
def iris():
    data = load_iris(as_frame=True)
    return data.data, data.target.map(dict(enumerate(data.target_names)))


def test_dataframe_keeps_feature_names_and_predicts_as_the_array(iris):
    X, y = iris
    est = SoftmaxRegression().fit(X, y)
    np.testing.assert_array_equal(est.feature_names_in_, np.array(X.columns, dtype=object))
    assert est.n_features_in_ == 4
    from_array = SoftmaxRegression().fit(X.to_numpy(), y.to_numpy())
    assert not hasattr(from_array, "feature_names_in_")
    np.testing.assert_allclose(est.predict_proba(X), from_array.predict_proba(X.to_numpy()),
                               rtol=1e-12, atol=1e-15)
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    assert est.score(X, y) > 0.95


def test_reordered_or_renamed_columns_are_an_error(iris):
    X, y = iris
    est = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(X[X.columns[::-1]])
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict_proba(X.rename(columns={X.columns[0]: "something else"}))


def test_float32_frame_stays_float32(iris):
    X, y = iris
    est = SoftmaxRegression().fit(X.astype(np.float32), y)
    assert est.training_info_["dtype"] == "float32"
