"""How many threads BLAS and LAPACK get during relustep's own runs.

relustep's products are small: a mini-batch of 32 to 200 rows against a few hundred weights, the
analytic solver's systems of a few hundred unknowns. Split over threads, each product lasts
microseconds, and OpenBLAS's threads wait for one another at the end of every call. On a machine
whose cores are busy with other jobs, a thread that has lost its core holds up the rest until
the system gives the core back, for every product: ``bench/bench_blas_threads.py`` measured an
MNIST baseline fit 11 to 16 times slower on OpenBLAS's default two threads than on one (two runs,
on two cores shared with other jobs, with and without two more processes keeping both busy).
So relustep runs its training on one BLAS thread (:data:`SMALL_PRODUCT_THREADS`), unless the user
chose a number through the usual environment variables (:data:`THREAD_VARIABLES`), which it then
leaves alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

SMALL_PRODUCT_THREADS = 1
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def chosen_blas_threads() -> int | None:
    """The BLAS threads for relustep's runs: ``None`` (leave BLAS alone) when one of
    :data:`THREAD_VARIABLES` is set, else :data:`SMALL_PRODUCT_THREADS`."""
    if any(os.environ.get(name) for name in THREAD_VARIABLES):
        return None
    return SMALL_PRODUCT_THREADS


@contextlib.contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Limit BLAS and LAPACK to ``threads`` inside the block (``None``: leave them alone)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield
