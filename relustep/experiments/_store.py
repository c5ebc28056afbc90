"""Results of experiments on disk: rows of a table, with their histories, as JSON.

A row may hold numbers, strings, lists, NumPy scalars and arrays, and
:class:`~relustep.history.History` objects; all come back as they went in (arrays as float or int
arrays, histories as histories). Files are written to a temporary name and renamed, so an
interrupted run never leaves a half-written result that a later run would trust.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

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


def save_rows(path: str | os.PathLike, rows: list[dict], meta: dict) -> None:
    """Write ``rows`` and the ``meta`` data that made them to ``path`` (JSON)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".part")
    temporary.write_text(json.dumps({"meta": _encode(meta), "rows": _encode(rows)}))
    os.replace(temporary, path)


def load_rows(path: str | os.PathLike, meta: dict) -> list[dict] | None:
    """The rows stored at ``path`` if they were made with the same ``meta``, else ``None``."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if stored.get("meta") != json.loads(json.dumps(_encode(meta))):
        return None
    return _decode(stored["rows"])
