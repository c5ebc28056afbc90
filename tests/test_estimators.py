"""ReLURegressor and MLPClassifier: scikit-learn conventions, reproducibility, save/load and
every kind of bad input."""

import numpy as np
import pytest
from conftest import regression_data

import relustep
from relustep import steps


def classification_data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] + X[:, 1] ** 2 > 1, "b", np.where(X[:, 2] > 0, "a", "c"))
    return X, y


ESTIMATORS = [
    (relustep.ReLURegressor, regression_data),
    (relustep.MLPClassifier, classification_data),
]


@pytest.mark.parametrize("Estimator, data", ESTIMATORS)
def test_fitted_attributes_follow_scikit_learn(Estimator, data):
    X, y = data()
    model = Estimator((8, 5), epochs=3, batch_size=32, random_state=0)
    assert not hasattr(model, "coefs_")
    assert model.fit(X, y) is model
    shapes = [w.shape for w in model.coefs_]
    n_out = 1 if Estimator is relustep.ReLURegressor else 3
    assert shapes == [(X.shape[1], 8), (8, 5), (5, n_out)]
    assert [b.shape for b in model.intercepts_] == [(8,), (5,), (n_out,)]
    assert model.n_features_in_ == X.shape[1] and model.n_iter_ == 3
    assert model.t_ == 3 * int(np.ceil(len(X) / 32)) == len(model.history_)
    assert np.isfinite(model.loss_)


@pytest.mark.parametrize("Estimator, data", ESTIMATORS)
def test_same_seed_same_bits(Estimator, data):
    X, y = data()
    runs = [
        Estimator((7,), step="momentum", epochs=4, batch_size=20, random_state=3).fit(X, y)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].parameters_, runs[1].parameters_)
    for key in ("loss", "step_size", "n_forward", "n_backward"):
        assert runs[0].history_[key] == runs[1].history_[key]
    assert runs[0].history_["epochs"]["train_loss"] == runs[1].history_["epochs"]["train_loss"]
    other = Estimator((7,), step="momentum", epochs=4, batch_size=20, random_state=4).fit(X, y)
    assert not np.array_equal(runs[0].parameters_, other.parameters_)


@pytest.mark.parametrize("Estimator, data", ESTIMATORS)
def test_save_and_load_give_identical_predictions(Estimator, data, tmp_path):
    X, y = data()
    model = Estimator((6,), step="nesterov", epochs=2, random_state=0).fit(X, y)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = relustep.load(path)
    assert type(loaded) is Estimator
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params() == model.get_params()
    assert loaded.history_["loss"] == model.history_["loss"]
    with np.load(path, allow_pickle=False) as data_file:
        assert "config" in data_file.files
    loaded.partial_fit(X, y)  # a loaded model can go on training
    assert loaded.n_iter_ == 3


def test_save_with_step_object_and_float32(tmp_path):
    X, y = regression_data()
    model = relustep.ReLURegressor(
        (5,), step=steps.Adam(lr=0.01, beta1=0.8), dtype="float32", epochs=2, random_state=0
    ).fit(X, y)
    assert model.parameters_.dtype == np.float32
    model.save(tmp_path / "m.npz")
    loaded = relustep.load(tmp_path / "m.npz")
    assert loaded.step.beta1 == 0.8 and loaded.parameters_.dtype == np.float32
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_load_rejects_other_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a relustep model"):
        relustep.load(tmp_path / "x.npz")


def test_regressor_learns_and_scores():
    X, y = regression_data(n=400)
    model = relustep.ReLURegressor((32,), step="adam", epochs=60, batch_size=32, random_state=0)
    model.fit(X, y)
    assert model.score(X, y) > 0.8
    assert model.predict(X).shape == (400,)
    assert model.history_["epochs"]["train_loss"][-1] < model.history_["epochs"]["train_loss"][0]


def test_regressor_several_outputs():
    X, y = regression_data(q=3)
    model = relustep.ReLURegressor((10,), epochs=2, random_state=0).fit(X, y)
    assert model.predict(X).shape == (len(X), 3) and model.n_outputs_ == 3
    with pytest.raises(ValueError, match="target column"):
        model.partial_fit(X, y[:, :2])


def test_classifier_probabilities_and_labels():
    X, y = classification_data()
    model = relustep.MLPClassifier(
        (16,), step=steps.Adam(lr=0.01), epochs=30, batch_size=16, random_state=0
    ).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == ["a", "b", "c"]
    assert set(model.predict(X)) <= {"a", "b", "c"}
    assert model.score(X, y) > 0.8
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))


def test_partial_fit_continues_and_needs_classes():
    X, y = classification_data()
    model = relustep.MLPClassifier((5,), batch_size=50, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        model.partial_fit(X, y)
    model.partial_fit(X[:50], y[:50], classes=["a", "b", "c"])
    model.partial_fit(X[50:], y[50:])
    assert model.n_iter_ == 2 and model.t_ == 1 + 2
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X[:3], ["a", "b", "z"])


def test_validation_data_is_scored_each_epoch():
    X, y = regression_data()
    model = relustep.ReLURegressor((5,), epochs=3, random_state=0)
    model.fit(X[:80], y[:80], validation_data=(X[80:], y[80:]))
    val = model.history_["epochs"]["val_loss"]
    assert len(val) == 3 and all(np.isfinite(val))
    plain = relustep.ReLURegressor((5,), epochs=2, random_state=0).fit(X, y)
    assert all(np.isnan(plain.history_["epochs"]["val_loss"]))


def test_divergence_stops_and_keeps_finite_parameters():
    X, y = regression_data()
    model = relustep.ReLURegressor((8,), step=steps.Constant(lr=1e6), epochs=50, random_state=0)
    with pytest.raises(relustep.DivergenceError, match="restored"):
        model.fit(X, y * 1e3)
    assert np.all(np.isfinite(model.parameters_))
    assert np.all(np.isfinite(model.history_["loss"]))
    assert model.t_ == len(model.history_) > 0
    assert np.all(np.isfinite(model.predict(X)))


def test_get_set_params_and_repr():
    model = relustep.ReLURegressor((4,), epochs=5)
    assert model.get_params()["epochs"] == 5
    model.set_params(epochs=7, step="constant")
    assert model.epochs == 7 and "epochs=7" in repr(model)
    with pytest.raises(ValueError, match="learning_rate"):
        model.set_params(learning_rate=0.1)


def test_not_fitted_error():
    with pytest.raises(relustep.NotFittedError, match="not fitted"):
        relustep.ReLURegressor().predict(np.ones((2, 3)))


# ---- bad input: each gets an error that names the argument --------------------------------------
X_GOOD, Y_GOOD = regression_data(n=20)


@pytest.mark.parametrize(
    "X, y, argument, error",
    [
        (np.where(np.eye(20, 4) > 0, np.nan, X_GOOD), Y_GOOD, "X", ValueError),
        (np.where(np.eye(20, 4) > 0, np.inf, X_GOOD), Y_GOOD, "X", ValueError),
        (X_GOOD, np.where(np.arange(20) == 3, np.nan, Y_GOOD), "y", ValueError),
        (X_GOOD[:, 0], Y_GOOD, "X", ValueError),
        (X_GOOD[None], Y_GOOD, "X", ValueError),
        (X_GOOD.astype(str), Y_GOOD, "X", TypeError),
        (X_GOOD.astype(complex), Y_GOOD, "Complex data not supported: X", ValueError),
        (np.empty((0, 4)), np.empty(0), "X", ValueError),
        (X_GOOD, Y_GOOD[:-1], "same number of rows", ValueError),
        (X_GOOD, Y_GOOD[:, None, None], "y", ValueError),
        (None, Y_GOOD, "X", TypeError),
    ],
)
def test_bad_data_is_named(X, y, argument, error):
    with pytest.raises(error, match=argument):
        relustep.ReLURegressor((3,), epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "settings, argument, error",
    [
        ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes", ValueError),
        ({"hidden_layer_sizes": (4, -2)}, "hidden_layer_sizes", ValueError),
        ({"hidden_layer_sizes": "big"}, "hidden_layer_sizes", TypeError),
        ({"hidden_layer_sizes": (4.5,)}, "hidden_layer_sizes", TypeError),
        ({"epochs": 0}, "epochs", ValueError),
        ({"epochs": -3}, "epochs", ValueError),
        ({"epochs": 2.5}, "epochs", TypeError),
        ({"batch_size": 0}, "batch_size", ValueError),
        ({"step": "adagrad"}, "step", ValueError),
        ({"step": 0.1}, "step", TypeError),
        ({"solver": "lbfgs"}, "solver", ValueError),
        ({"l2": -0.1}, "l2", ValueError),
        ({"l2": float("nan")}, "l2", ValueError),
        ({"negative_slope": -0.1}, "negative_slope", ValueError),
        ({"record_optimality": -1}, "record_optimality", ValueError),
        ({"epoch_loss": "mean"}, "epoch_loss", ValueError),
        ({"record_optimality": 0.5}, "record_optimality", TypeError),
        ({"dtype": "int32"}, "dtype", ValueError),
        ({"random_state": "seed"}, "random_state", TypeError),
        ({"random_state": -1}, "random_state", ValueError),
    ],
)
def test_bad_settings_are_named(settings, argument, error):
    with pytest.raises(error, match=argument):
        relustep.ReLURegressor(**{"epochs": 1, **settings}).fit(X_GOOD, Y_GOOD)


def test_bad_input_after_fit_is_named():
    model = relustep.ReLURegressor((3,), epochs=1, random_state=0).fit(X_GOOD, Y_GOOD)
    with pytest.raises(ValueError, match="X has 2 features"):
        model.predict(X_GOOD[:, :2])
    with pytest.raises(ValueError, match="X"):
        model.predict(np.full((2, 4), np.nan))
    with pytest.raises(TypeError, match="validation_data"):
        model.fit(X_GOOD, Y_GOOD, validation_data=X_GOOD)
    with pytest.raises(ValueError, match=r"validation_data\[0\]"):
        model.fit(X_GOOD, Y_GOOD, validation_data=(X_GOOD[:, :3], Y_GOOD))


@pytest.mark.parametrize(
    "y, argument, error",
    [
        (np.zeros(20), "at least 2 classes", ValueError),
        (np.linspace(0, 1, 20), "fractions", ValueError),
        (np.where(np.arange(20) < 10, 0.0, np.nan), "NaN", ValueError),
        (np.zeros((20, 2)), "1-D", ValueError),
        (np.array([None] * 20), "y is an object array holding NoneType", TypeError),
    ],
)
def test_bad_labels_are_named(y, argument, error):
    with pytest.raises(error, match=argument):
        relustep.MLPClassifier((3,), epochs=1).fit(X_GOOD, y)


def test_record_optimality_scores_each_step_against_the_exact_line_search():
    X, y = regression_data()
    model = relustep.ReLURegressor(
        (6,), step="constant", epochs=2, batch_size=40, record_optimality=True, random_state=0
    ).fit(X, y)
    ratios = np.array(model.history_["optimality"])
    assert len(ratios) == model.t_ and np.all(np.isfinite(ratios))
    assert np.all(ratios <= 1 + 1e-9)  # no step beats the best step along its own direction
    exact = relustep.ReLURegressor(
        (6,), step="exact", epochs=1, batch_size=40, record_optimality=True, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(exact.history_["optimality"], 1.0, rtol=1e-6)


def test_epoch_loss_batches_is_the_mean_of_the_batch_losses():
    X, y = regression_data(n=100)
    model = relustep.ReLURegressor(
        (5,), epochs=2, batch_size=30, epoch_loss="batches", random_state=0
    ).fit(X, y)
    sizes = np.array([30, 30, 30, 10])
    losses = np.array(model.history_["loss"]).reshape(2, 4)
    np.testing.assert_allclose(
        model.history_["epochs"]["train_loss"], losses @ sizes / 100, rtol=1e-14
    )
    full = relustep.ReLURegressor((5,), epochs=2, batch_size=30, random_state=0).fit(X, y)
    np.testing.assert_array_equal(full.parameters_, model.parameters_)  # same training
