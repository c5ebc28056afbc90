"""The main job's machinery: per-seed results on disk, resuming, Ctrl-C, parallel jobs, HTML."""

import pytest
import toy_section

from relustep.experiments import SECTIONS
from relustep.experiments.reproduce import reproduce


@pytest.fixture
def toy(monkeypatch, tmp_path):
    monkeypatch.setitem(SECTIONS, "toy", "toy_section")
    tmp_path.mkdir(exist_ok=True)
    return tmp_path


def calls(out):
    path = out / "toy-calls.txt"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def test_report_has_summary_sections_and_resumes(toy):
    report, summary = reproduce(toy, only=["toy"], size="tiny", seeds=3, progress=False)
    assert sorted(calls(toy)) == ["0", "1", "2"]
    text = report.read_text()
    assert "| Toy | values are positive | **supported** | mean 1.5 |" in summary
    assert summary in text and "## Toy" in text and "*A toy claim.*" in text
    assert "| 2 | 2.5 |" in text
    assert "<table>" in (toy / "report.html").read_text()
    reproduce(toy, only=["toy"], size="tiny", seeds=3, progress=False)
    assert len(calls(toy)) == 3  # nothing ran again
    reproduce(toy, only=["toy"], size="quick", seeds=1, progress=False)
    assert len(calls(toy)) == 4  # another size is another result
    reproduce(toy, only=["toy"], size="tiny", seeds=1, force=True, progress=False)
    assert len(calls(toy)) == 5


def test_interrupted_run_keeps_finished_seeds(toy, monkeypatch):
    monkeypatch.setattr(toy_section, "INTERRUPT_AT_SEED", 2)
    with pytest.raises(KeyboardInterrupt):
        reproduce(toy, only=["toy"], size="tiny", seeds=4, progress=False)
    assert sorted(path.name for path in (toy / "results").iterdir()) == [
        "toy-tiny-seed0.json",
        "toy-tiny-seed1.json",
    ]
    monkeypatch.setattr(toy_section, "INTERRUPT_AT_SEED", None)
    reproduce(toy, only=["toy"], size="tiny", seeds=4, progress=False)
    assert calls(toy) == ["0", "1", "2", "3"]


def test_jobs_run_in_other_processes(toy):
    report, _ = reproduce(toy, only=["toy"], size="tiny", seeds=2, jobs=2, progress=False)
    pids = {line.split()[1] for line in (toy / "toy-calls.txt").read_text().splitlines()}
    import os

    assert str(os.getpid()) not in pids
    assert "| 1 | 1.5 |" in report.read_text()


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"only": ["nope"]}, "only"),
        ({"size": "huge"}, "size"),
        ({"seeds": 0}, "seeds"),
        ({"jobs": 0}, "jobs"),
    ],
)
def test_bad_arguments_are_named(toy, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        reproduce(toy, **{"only": ["toy"], **kwargs})
