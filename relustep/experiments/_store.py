"""Results of experiments on disk: rows of a table, with their histories, as JSON.

A row may hold numbers, strings, lists, NumPy scalars and arrays, and
:class:`~relustep.history.History` objects; all come back as they went in (arrays as float or int
arrays, histories as histories).

Any number of processes may write and read one store at the same time (``relustep reproduce``
runs with ``--jobs``, or two of them with one ``--out``). Each save writes a temporary file of its
own, in the result's folder, flushes it to the disk and then renames it over the result in one
atomic step (``os.replace``; atomic on POSIX file systems). So a reader finds the old file or the
new one, never a mix, and an interrupted save leaves no half-written result; when two processes
store the same result, the last rename wins, and both computed the same rows (see
:func:`relustep._atomic.atomic_write`).

A result that cannot be read back (not UTF-8, not JSON, cut short, not an object with ``meta``
and a list of ``rows``, an entry that does not decode) counts as absent, so the run recomputes
it, and says so with a :class:`DamagedResultWarning` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from relustep._atomic import atomic_write
from relustep.history import History


def _encode(value):
    if isinstance(value, History):
        return {"__history__": value.to_json()}
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        if "__history__" in value:
            return History.from_json(value["__history__"])
        if "__array__" in value:
            return np.asarray(value["__array__"], dtype=value["dtype"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


class DamagedResultWarning(UserWarning):
    """A stored result could not be read back and is recomputed."""


def save_rows(path: str | os.PathLike, rows: list[dict], meta: dict) -> None:
    """Write ``rows`` and the ``meta`` data that made them to ``path`` (JSON), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"meta": _encode(meta), "rows": _encode(rows)})
    with atomic_write(path) as file:
        file.write(text)


def load_rows(path: str | os.PathLike, meta: dict) -> list[dict] | None:
    """The rows stored at ``path`` if they were made with the same ``meta``, else ``None``.

    ``None`` also when the file is damaged, with a :class:`DamagedResultWarning`.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        stored = _parse(data)
    except ValueError as problem:
        warnings.warn(
            f"{path}: damaged result ({problem}); it will be recomputed",
            DamagedResultWarning,
            stacklevel=2,
        )
        return None
    if stored["meta"] != json.loads(json.dumps(_encode(meta))):
        return None
    return stored["rows"]


def _parse(data: bytes) -> dict:
    """The stored ``meta`` (as JSON) and the decoded ``rows``; ``ValueError`` saying what is
    wrong when ``data`` is not a stored result."""
    try:
        stored = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON (cut short?): {error.msg} at character {error.pos}") from None
    if not isinstance(stored, dict):
        raise ValueError(f"a JSON {type(stored).__name__} instead of an object")
    missing = [key for key in ("meta", "rows") if key not in stored]
    if missing:
        raise ValueError(f"no {' or '.join(repr(key) for key in missing)}")
    rows = stored["rows"]
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError("'rows' is not a list of objects")
    try:
        decoded = _decode(rows)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"a row does not decode: {type(error).__name__}: {error}") from None
    return {"meta": stored["meta"], "rows": decoded}
