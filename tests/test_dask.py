"""``reproduce(scheduler=...)``: the sweep on a Dask cluster gives the serial run's results."""

import json
import sys

import pytest

from relustep.experiments.reproduce import reproduce

distributed = pytest.importorskip("distributed")


def stored_rows(out_dir):
    """Each stored result's rows, without the columns that time the run (they never repeat)."""

    def untimed(value):
        if isinstance(value, dict):
            return {key: untimed(item) for key, item in value.items() if "seconds" not in key}
        if isinstance(value, list):
            return [untimed(item) for item in value]
        return value

    return {
        path.name: untimed(json.loads(path.read_text())["rows"])
        for path in sorted((out_dir / "results").glob("*.json"))
    }


@pytest.mark.slow
def test_scheduler_runs_the_sweep_on_a_local_dask_cluster_with_the_serial_results(tmp_path):
    settings = {"only": ["analytic"], "size": "tiny", "seeds": 2, "progress": False}
    reproduce(tmp_path / "serial", **settings)
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        report, _ = reproduce(tmp_path / "dask", scheduler=cluster.scheduler_address, **settings)
        with distributed.Client(cluster) as client:
            prefixes = client.run_on_scheduler(
                lambda dask_scheduler: sorted(dask_scheduler.task_prefixes)
            )
    assert any("run_and_store" in prefix for prefix in prefixes)  # the runs went through Dask
    serial, on_dask = stored_rows(tmp_path / "serial"), stored_rows(tmp_path / "dask")
    assert sorted(serial) == ["analytic-tiny-seed0.json", "analytic-tiny-seed1.json"]
    assert on_dask == serial
    assert report.is_file()


def test_scheduler_must_be_an_address(tmp_path):
    with pytest.raises(TypeError, match="scheduler"):
        reproduce(tmp_path, only=["analytic"], size="tiny", scheduler=8786, progress=False)


def test_scheduler_without_distributed_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install distributed"):
        reproduce(tmp_path, only=["analytic"], size="tiny", scheduler="tcp://127.0.0.1:1")


def test_the_command_line_passes_the_scheduler_on(monkeypatch, tmp_path):
    import relustep.experiments.reproduce as module
    from relustep.cli import main

    seen = {}

    def fake_reproduce(out, **settings):
        seen.update(settings)
        return tmp_path / "report.md", "summary"

    monkeypatch.setattr(module, "reproduce", fake_reproduce)
    assert main(["reproduce", "--tiny", "--scheduler", "tcp://127.0.0.1:8786"]) == 0
    assert seen["scheduler"] == "tcp://127.0.0.1:8786" and seen["size"] == "tiny"
