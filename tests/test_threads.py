"""The command line and ``relustep reproduce`` run BLAS on the threads relustep chooses."""

import pytest
import toy_section
from threadpoolctl import threadpool_info

from relustep import _threads
from relustep.cli import main
from relustep.estimators.mlp import ReLURegressor
from relustep.experiments import SECTIONS
from relustep.experiments.reproduce import reproduce


def blas_thread_counts():
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


@pytest.fixture
def no_thread_variables(monkeypatch):
    for name in _threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_one_thread_unless_the_user_chose(monkeypatch, no_thread_variables):
    assert _threads.chosen_blas_threads() == _threads.SMALL_PRODUCT_THREADS == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert _threads.chosen_blas_threads() is None


def test_blas_threads_limits_inside_the_block_only():
    before = blas_thread_counts()
    with _threads.blas_threads(1):
        assert blas_thread_counts() == {1}
    assert blas_thread_counts() == before
    with _threads.blas_threads(None):
        assert blas_thread_counts() == before


def test_train_fits_on_the_chosen_threads(tmp_path, monkeypatch, no_thread_variables):
    seen = []
    real_fit = ReLURegressor.fit

    def fit(self, *args, **kwargs):
        seen.append(blas_thread_counts())
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(ReLURegressor, "fit", fit)
    argv = ["train", "--dataset", "diabetes", "--epochs", "1", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    assert seen == [{1}]


def test_reproduce_runs_each_section_on_the_chosen_threads(
    tmp_path, monkeypatch, no_thread_variables
):
    seen = []
    real_run = toy_section.SECTION.run

    def run(**kwargs):
        seen.append(blas_thread_counts())
        return real_run(**kwargs)

    monkeypatch.setitem(SECTIONS, "toy", "toy_section")
    monkeypatch.setattr(toy_section.SECTION, "run", run)
    reproduce(tmp_path, only=["toy"], size="tiny", seeds=2, progress=False)
    assert seen == [{1}, {1}]
