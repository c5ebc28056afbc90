"""Writing a file so that readers see the old content or the new, never a mix.

Used for the results store of :mod:`relustep.experiments` and for saved estimators.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """Open a new file of its own beside ``path`` for writing; when the block ends without an
    error, flush it to the disk and rename it over ``path`` in one step (``os.replace``, atomic
    on POSIX file systems). On an error the new file is removed and ``path`` is untouched.

    Each call writes under a name no other call uses, so any number of processes may write one
    ``path`` at once: the last rename wins, and a reader opens a whole file, old or new.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "result.json"
    >>> with atomic_write(path) as file:
    ...     _ = file.write("{}")
    >>> path.read_text()
    '{}'
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    mode, encoding = ("xb", None) if binary else ("x", "utf-8")
    try:
        with open(temporary, mode, encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Flush the folder's list of names to the disk, so that the rename survives a power cut
    (POSIX; where a folder cannot be opened, the rename is left to the system)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
