"""The results store of ``relustep reproduce``: damaged results are recomputed (and the run says
so), and many writers and readers may share one store."""

import json
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import toy_section  # noqa: F401  (the section the toy fixture registers)

from relustep.experiments import SECTIONS
from relustep.experiments._store import DamagedResultWarning, load_rows, save_rows
from relustep.experiments.reproduce import reproduce, result_path
from relustep.history import History

META = {"section": "toy", "size": "tiny", "seed": 0}


def stored_text(rows=None) -> str:
    rows = [{"seed": 0, "value": 0.5}] if rows is None else rows
    return json.dumps({"meta": META, "rows": rows})


DAMAGED = {
    "invalid UTF-8": b"\xff\xfe" + stored_text().encode(),
    "empty": b"",
    "cut short": stored_text().encode()[:25],
    "a JSON list": json.dumps([META, []]).encode(),
    "no rows": json.dumps({"meta": META}).encode(),
    "no meta": json.dumps({"rows": []}).encode(),
    "rows not a list": json.dumps({"meta": META, "rows": {"seed": 0}}).encode(),
    "a row not an object": stored_text([{"seed": 0}, 3]).encode(),
    "an array of an unknown dtype": stored_text(
        [{"a": {"__array__": [1], "dtype": "nope"}}]
    ).encode(),
    "a history not an object": stored_text([{"h": {"__history__": [1, 2]}}]).encode(),
}


def test_rows_round_trip_with_arrays_and_histories(tmp_path):
    history = History(data={"loss": [1.0, 0.5]})
    rows = [{"x": np.arange(3.0), "n": np.int64(4), "history": history, "name": "a"}]
    save_rows(tmp_path / "r.json", rows, META)
    (restored,) = load_rows(tmp_path / "r.json", META)
    np.testing.assert_array_equal(restored["x"], np.arange(3.0))
    assert restored["n"] == 4 and restored["name"] == "a"
    assert restored["history"]["loss"] == [1.0, 0.5]
    assert load_rows(tmp_path / "r.json", {**META, "seed": 1}) is None  # made otherwise
    assert load_rows(tmp_path / "absent.json", META) is None
    assert [path.name for path in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


@pytest.mark.parametrize("damage", DAMAGED)
def test_a_damaged_result_counts_as_absent_and_is_named(tmp_path, damage):
    path = tmp_path / "r.json"
    path.write_bytes(DAMAGED[damage])
    with pytest.warns(DamagedResultWarning, match="damaged result") as caught:
        assert load_rows(path, META) is None
    assert str(path) in str(caught[0].message)


@pytest.fixture
def toy(monkeypatch, tmp_path):
    monkeypatch.setitem(SECTIONS, "toy", "toy_section")
    return tmp_path


@pytest.mark.parametrize("damage", ["invalid UTF-8", "a JSON list", "no rows", "cut short"])
def test_reproduce_recomputes_a_damaged_result_and_says_so(toy, damage):
    reproduce(toy, only=["toy"], size="tiny", seeds=2, progress=False)
    path = result_path(toy, "toy", "tiny", 1)
    path.write_bytes(DAMAGED[damage])
    with pytest.warns(DamagedResultWarning, match="toy-tiny-seed1.json"):
        report, _ = reproduce(toy, only=["toy"], size="tiny", seeds=2, progress=False)
    calls = (toy / "toy-calls.txt").read_text().split()[::2]
    assert calls == ["0", "1", "1"]  # only the damaged seed ran again
    assert "| 1 | 1.5 |" in report.read_text()


WRITER = textwrap.dedent(
    """
    import sys
    from relustep.experiments._store import save_rows
    path, writer = sys.argv[1], int(sys.argv[2])
    for i in range(100):
        rows = [{"writer": writer, "save": i, "values": list(range(2000))}]
        save_rows(path, rows, {"store": "stress"})
    """
)


def test_two_writers_and_a_reader_share_one_store(tmp_path):
    path = tmp_path / "results" / "shared.json"
    save_rows(path, [{"writer": -1, "save": -1, "values": list(range(2000))}], {"store": "stress"})
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(writer)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for writer in (0, 1)
    ]
    reads = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedResultWarning)
        while any(writer.poll() is None for writer in writers) or reads == 0:
            (row,) = load_rows(path, {"store": "stress"})
            assert row["values"] == list(range(2000))
            reads += 1
            time.sleep(0.002)  # leave the writers most of the two cores
    for writer in writers:
        _, errors = writer.communicate()
        assert writer.returncode == 0, errors
    (row,) = load_rows(path, {"store": "stress"})
    assert row["save"] == 99
    assert [item.name for item in path.parent.iterdir()] == ["shared.json"]
    assert reads > 10
