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


def test_reordered_columns_are_matched_by_name_and_unknown_ones_named(iris):
    X, y = iris
    est = SoftmaxRegression().fit(X, y)
    shuffled = X[[X.columns[2], X.columns[0], X.columns[3], X.columns[1]]]
    np.testing.assert_array_equal(est.predict_proba(shuffled), est.predict_proba(X))
    np.testing.assert_array_equal(est.predict(X[X.columns[::-1]]), est.predict(X))
    renamed = X.rename(columns={X.columns[0]: "something else"})
    with pytest.raises(ValueError, match=r"not seen at fit: \['something else'\]; features seen "
                                         r"at fit missing: \['sepal length \(cm\)'\]"):
        est.predict_proba(renamed)
    with pytest.raises(ValueError, match=r"missing: \['petal width \(cm\)'\]"):
        est.predict(X[X.columns[:3]])
    # An array has no names to match: taken by position, with scikit-learn's warning.
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(X.to_numpy())


def test_model_file_keeps_names_label_dtype_and_parameters(iris, tmp_path):
    import softreg
    from sklearn.base import clone

    X, y = iris
    codes = y.astype("category").cat.codes.to_numpy()
    for labels in (codes.astype(np.int32), codes * 2.0 - 1.0, codes == 1, y.to_numpy()):
        est = SoftmaxRegression(C=3.0, scale="standard", tol=1e-6, class_weight="balanced")
        est.fit(X, labels)
        est.save_model(tmp_path / "m.srm")
        back = softreg.load_model(tmp_path / "m.srm")
        assert back.classes_.dtype == est.classes_.dtype
        np.testing.assert_array_equal(back.classes_, est.classes_)
        np.testing.assert_array_equal(back.feature_names_in_, est.feature_names_in_)
        assert back.get_params() == est.get_params()
        np.testing.assert_array_equal(back.predict(X[X.columns[::-1]]), est.predict(X))
        # clone and refit train as the original did: the same model.
        again = clone(back).fit(X, labels)
        np.testing.assert_array_equal(again.coef_, est.coef_)
    # A dict of class weights keyed by the labels' own type survives.
    est = SoftmaxRegression(class_weight={0: 2.0, 2: 0.5}, random_state=7).fit(X, codes)
    est.save_model(tmp_path / "w.srm")
    assert softreg.load_model(tmp_path / "w.srm").get_params() == est.get_params()


def test_float32_frame_stays_float32(iris):
    X, y = iris
    est = SoftmaxRegression().fit(X.astype(np.float32), y)
    assert est.training_info_["dtype"] == "float32"
