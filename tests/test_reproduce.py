"""The main job's machinery: per-seed results on disk, resuming, Ctrl-C, parallel jobs, HTML."""

import pytest
import toy_section

from relustep.experiments import SECTIONS
from relustep.experiments.reproduce import reproduce


@pytest.fixture
def toy(monkeypatch, tmp_path):
    monkeypatch.setitem(SECTIONS, "toy", "toy_section")
    monkeypatch.setitem(SECTIONS, "other", "other_toy_section")
    tmp_path.mkdir(exist_ok=True)
    return tmp_path


def calls(out, name="toy"):
    path = out / f"{name}-calls.txt"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def test_report_has_summary_sections_and_resumes(toy):
    report, summary = reproduce(toy, only=["toy"], size="tiny", seeds=3, progress=False)
    assert sorted(calls(toy)) == ["0", "1", "2"]
    text = report.read_text()
    assert "| values are positive | **mixed** | mean 1.5; won 3 of 3 (100%)" in summary
    assert summary in text and "## Toy" in text and "*A toy claim.*" in text
    assert "| 2 | 2.5 |" in text and "[Toy](#toy)" in text
    assert text.index("## Summary") < text.index("## Contents") < text.index("## Toy")
    assert "**How a claim is judged.**" in text and "sign test" in text
    assert "<table>" in (toy / "report.html").read_text()
    reproduce(toy, only=["toy"], size="tiny", seeds=3, progress=False)
    assert len(calls(toy)) == 3  # nothing ran again
    reproduce(toy, only=["toy"], size="quick", seeds=1, progress=False)
    assert len(calls(toy)) == 4  # another size is another result
    reproduce(toy, only=["toy"], size="tiny", seeds=1, force=True, progress=False)
    assert len(calls(toy)) == 5
    assert "Provisional" in (toy / "report.md").read_text()


def test_only_updates_its_sections_inside_the_full_report(toy):
    reproduce(toy, only=["toy", "other"], size="tiny", seeds=3, progress=False)
    assert "## Other toy" in (toy / "report.md").read_text()
    report, summary = reproduce(toy, only=["toy"], size="tiny", seeds=3, force=True, progress=False)
    text = report.read_text()
    assert "## Toy" in text and "## Other toy" in text  # the other section is kept
    assert "[Other toy](#other-toy)" in summary
    assert len(calls(toy)) == 6 and len(calls(toy, "other")) == 3  # only "toy" ran again
    assert text.index("## Toy") < text.index("## Other toy")  # in the order of SECTIONS


def test_estimates_are_printed_before_sections_start(toy, capsys):
    reproduce(toy, only=["toy"], size="tiny", seeds=2, progress=True)
    assert "toy: 2 seed(s), about 2 s of one core" in capsys.readouterr().err


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
