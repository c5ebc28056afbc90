"""Every estimator trains through the one loop of relustep.train, and the package's parts import
each other one way only."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import relustep
from relustep import steps, train
from relustep.history import STEP_KEYS, History
from relustep.models import DenseReLUNetwork
from relustep.progress import ProgressBar
from relustep.train import DivergenceError, Stepper

PACKAGE = Path(relustep.__file__).parent
DIGITS = relustep.datasets.load("digits").X_train[:60] / 16


def regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X.sum(axis=1)


ESTIMATORS = {
    "ReLURegressor": lambda: relustep.ReLURegressor((4,), epochs=2, batch_size=10, random_state=0),
    "ReLURegressor-analytic": lambda: relustep.ReLURegressor(
        (4,), solver="analytic", epochs=2, random_state=0
    ),
    "MLPClassifier": lambda: relustep.MLPClassifier((4,), epochs=2, batch_size=10, random_state=0),
    "RBM": lambda: relustep.RBM(4, epochs=2, batch_size=10, random_state=0),
    "RBM-online": lambda: relustep.RBM(4, epochs=2, batch_size=1, random_state=0),
    "Autoencoder": lambda: relustep.Autoencoder(4, epochs=2, batch_size=10, random_state=0),
    "DeepAutoencoder": lambda: relustep.DeepAutoencoder(
        (6, 3), pretrain_epochs=1, epochs=2, batch_size=10, random_state=0
    ),
}


def fit(name, estimator):
    if name.startswith("ReLURegressor"):
        return estimator.fit(*regression())
    if name == "MLPClassifier":
        X, y = regression()
        return estimator.fit(X, (y > 0).astype(int))
    return estimator.fit(DIGITS)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_every_estimator_records_through_the_one_loop(name, monkeypatch):
    calls = []
    real_run_epochs = train.run_epochs

    def counting(task, stepper, **kwargs):
        calls.append(type(task).__name__)
        return real_run_epochs(task, stepper, **kwargs)

    monkeypatch.setattr("relustep.estimators._base.run_epochs", counting)
    monkeypatch.setattr("relustep.solvers.analytic.run_epochs", counting)
    model = fit(name, ESTIMATORS[name]())
    assert calls, "the estimator trained without the one loop"
    history = model.history_
    assert set(STEP_KEYS) <= set(history.step_keys)
    assert {len(history[key]) for key in history.step_keys} == {len(history)}
    epochs = history["epochs"]
    assert {len(values) for values in epochs.values()} == {model.n_iter_}
    assert epochs["step"][-1] == len(history) == model.t_
    assert math.isfinite(model.loss_)
    assert all(isinstance(count, int) for count in history["n_forward"])
    assert isinstance(history.total("n_backward"), int)


@pytest.mark.parametrize("name", ["ReLURegressor", "RBM", "RBM-online", "Autoencoder"])
def test_progress_shows_on_verbose(name, monkeypatch, capsys):
    monkeypatch.setitem(ProgressBar.__init__.__kwdefaults__, "delay", 0.0)  # show at once
    estimator = ESTIMATORS[name]()
    fit(name, estimator)
    assert capsys.readouterr().err == ""
    fit(name, estimator.set_params(verbose=True))
    assert type(estimator).__name__ in capsys.readouterr().err


def test_pass_counts_are_integers():
    model = relustep.ReLURegressor((4,), step="qlab", epochs=2, batch_size=10, random_state=0)
    model.fit(*regression())
    assert model.history_.total("n_forward") == 2 * len(model.history_)
    assert type(model.history_.total("n_forward")) is int


# -- divergence: the last accepted point, exactly --------------------------------------------------
class Exploding(steps.StepRule):
    """A constant step that becomes huge at step ``at`` (counted from 1)."""

    name = ""

    def __init__(self, at):
        self.at = at

    def size(self, line):
        return 1e200 if self.n_steps == self.at else 0.01


@pytest.mark.parametrize("at", [1, 3, 6])
def test_divergence_restores_the_point_before_the_bad_step_bit_for_bit(at):
    net = DenseReLUNetwork(3, (4,), 1)
    X, y = regression()
    y = y[:, None]
    theta = net.init_parameters(np.random.default_rng(0))
    expected = theta.copy()
    rule = Exploding(at)
    rule.start(theta.size)
    stepper = Stepper(theta, rule, History())
    gradient = np.empty_like(theta)
    objective = train.BatchObjective(net, X, y)
    with pytest.raises(DivergenceError, match="diverged"):
        for step in range(1, 10):
            stepper.step(objective)
            if step < at:  # the plain arithmetic of the steps before the bad one
                net.loss_and_gradient(expected, X, y, gradient)
                expected -= 0.01 * gradient
    np.testing.assert_array_equal(theta, expected)


def test_finite_divergence_stops_with_the_last_good_parameters():
    X, y = regression(50)
    model = relustep.ReLURegressor(
        (8,), step=steps.Constant(1e6), epochs=5, batch_size=10, random_state=0
    )
    with pytest.raises(DivergenceError, match="diverged"):
        model.fit(X, 10 * y)
    assert np.all(np.abs(model.parameters_) < train.PARAMETER_LIMIT)
    assert model.history_["loss"][-1] < train.LOSS_GROWTH * max(model.history_["loss"][0], 1)


def test_autoencoder_finite_divergence_is_caught():
    model = relustep.Autoencoder(
        8, visible="linear", step=steps.Constant(1e6), epochs=5, batch_size=10, random_state=0
    )
    with pytest.raises(DivergenceError):
        model.fit(DIGITS * 16)
    assert np.all(np.isfinite(model.parameters_))


def test_rbm_partial_fit_checks_its_parameters_after_the_step():
    rbm = relustep.RBM(4, visible="linear", step=steps.Constant(1e30), random_state=0)
    with pytest.raises(DivergenceError, match="parameter"):
        rbm.partial_fit(DIGITS[:10] * 16)
    initial = rbm.network_.init_parameters(np.random.default_rng(0))
    np.testing.assert_array_equal(rbm.parameters_, initial)


def test_minimize_stops_on_a_nan_gradient_with_a_message():
    def nan_gradient(x):
        return float(x @ x), np.full_like(x, np.nan)

    result = relustep.minimize(nan_gradient, np.ones(3), maxiter=10)
    assert not result.success and "gradient" in result.message
    np.testing.assert_array_equal(result.x, np.ones(3))


# -- the parts import each other one way ---------------------------------------------------------
def imports_of(path: Path) -> set[str]:
    """Every relustep module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("relustep")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(
    "importer, forbidden",
    [
        ("relustep.models", ("relustep.steps", "relustep.train", "relustep.estimators")),
        ("relustep.steps", ("relustep.models", "relustep.estimators", "relustep.solvers")),
        ("relustep.kernels", ("relustep.models", "relustep.steps", "relustep.train")),
        ("relustep.objective", ("relustep.models", "relustep.steps", "relustep.train")),
        ("relustep.train", ("relustep.models", "relustep.estimators", "relustep.solvers")),
    ],
)
def test_models_and_step_rules_do_not_know_each_other(importer, forbidden):
    offending = {
        (module, name)
        for module, names in MODULES.items()
        if in_package(module, importer)
        for name in names
        if any(in_package(name, package) for package in forbidden)
    }
    assert not offending


def test_no_import_cycles_between_modules():
    known = set(MODULES)

    def resolve(name):  # "relustep.steps.base.Line" -> "relustep.steps.base"
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    graph = {
        module: {resolve(name) for name in names} - {module, "relustep", ""}
        for module, names in MODULES.items()
    }
    graph = {
        module: {n for n in targets if not module.startswith(n + ".")}
        for module, targets in graph.items()
    }
    visiting, done = [], set()

    def visit(module):
        if module in done:
            return
        assert module not in visiting, f"import cycle: {' -> '.join([*visiting, module])}"
        visiting.append(module)
        for target in graph.get(module, ()):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in graph:
        visit(module)
