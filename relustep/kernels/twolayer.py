r"""Kernels of the two-layer analytic solver (:mod:`relustep.solvers.analytic`): the forward pass
of a two-layer network, and the matrix of the hidden step assembled from the activation pattern.

Notation (the solver's module docstring derives it): ``X`` is ``(n, d)``, the augmented row is
:math:`\tilde x_i = (x_i, 1)` with :math:`p = d + 1` entries, the hidden layer has ``h`` units
with weights ``W1`` ``(d, h)`` and biases ``b1``, the output layer ``W2`` ``(h, q)`` and ``b2``.
The activation is :math:`\sigma(z) = \max(z, a z) = s(z)\, z` with slope :math:`a \in [0, 1)`:
:math:`s(z) = 1` where the unit is *active* (:math:`z > 0`), :math:`a` elsewhere. ``active`` is
the boolean ``(n, h)`` matrix :math:`m_{ij} = 1[z_{ij} > 0]`, so :math:`S = a + (1 - a) m`.

The hidden step's matrix has one :math:`p \times p` block per pair of units,

.. math::
    G_{jl} = (W_2 W_2^\top)_{jl} \sum_i S_{ij} S_{il}\, \tilde x_i \tilde x_i^\top
    = (W_2 W_2^\top)_{jl} \left[ (1 - a)^2 C_{jl} + a (1 - a) (C_{jj} + C_{ll}) + a^2 A \right],

    C_{jl} = \sum_{i:\ m_{ij} = m_{il} = 1} \tilde x_i \tilde x_i^\top ,
    \qquad A = \sum_i \tilde x_i \tilde x_i^\top ,

because :math:`S_{ij} S_{il} = a^2 + a(1-a)(m_{ij} + m_{il}) + (1-a)^2 m_{ij} m_{il}` and
:math:`m_{ij}^2 = m_{ij}`. So :math:`G` depends on the pattern only through the *pattern sums*
:math:`C_{jl}`, and everything here uses the structure:

- symmetry: :math:`C_{lj} = C_{jl}`, and each block is a symmetric :math:`p \times p` matrix, so
  only :math:`j \le l` and the upper triangle (:math:`T = p(p+1)/2` numbers) are stored;
- sparsity of the pattern: a row adds its outer product (no multiplication) to :math:`C_{jl}`
  only for the pairs of units active on it: with half the units active, about
  :math:`n h^2 T / 8` additions (:func:`pattern_sums`), against :math:`n (hp)^2 / 2`
  multiply-adds for :math:`Z^\top Z`;
- few changes: from one iteration to the next only a few entries of the pattern change, and
  :func:`update_pattern_sums` adds or removes a row's outer product for the affected pairs only;
- the weights enter last: :func:`gram_from_sums` scales the blocks by :math:`W_2 W_2^\top`.

The NumPy twins compute the same sums with ``einsum``; the tests compare the matrix with the
textbook :math:`Z^\top Z` (see :func:`relustep.solvers.analytic.hidden_system`).

Measured by ``python bench/bench_analytic.py`` (ratios of medians of 25 interleaved repeats in
one run, on 2 cores shared with other jobs, OpenBLAS on one thread as the solver runs it), with
:math:`h = 64` and the pattern of a freshly initialised network:

- building the matrix from scratch (:func:`pattern_sums`, then :func:`gram_from_sums`) took
  0.90 (ReLU) and 0.91 (slope 0.1) times the BLAS floor, the product :math:`Z^\top Z` alone with
  :math:`Z` already formed, on the concrete data (:math:`n = 824`, :math:`p = 9`), and 0.88 and
  0.85 times on the diamonds data (:math:`n = 4000`, :math:`p = 7`); forming :math:`Z`,
  multiplying and scaling took 1.1 to 1.2 times the floor. The kernels are the default;
- two updates, each after 3% of the pattern changed, took 0.23 (concrete) and 0.4 (diamonds)
  times the floor together;
- a Numba forward pass took 1.2 to 2.2 times as long as two BLAS products on one thread, so the
  solver's forward pass is plain NumPy (:func:`relustep.solvers._solver.forward_pass`) and has
  no kernel. With OpenBLAS on its default two threads and the cores oversubscribed, the products
  were at times seven to twenty times slower than a kernel: the solver keeps BLAS on one thread.
"""

from __future__ import annotations

import numpy as np

from relustep.kernels._jit import jit


def outer_triangles(X: np.ndarray) -> np.ndarray:
    r"""The upper triangles of :math:`\tilde x_i \tilde x_i^\top`, row by row: shape ``(n, T)``,
    entries in the order of ``numpy.triu_indices(p)``."""
    augmented = np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)])
    rows, cols = np.triu_indices(augmented.shape[1])
    return augmented[:, rows] * augmented[:, cols]


def pattern_sums_numpy(X: np.ndarray, active: np.ndarray, sums: np.ndarray) -> None:
    r"""Write the pattern sums :math:`C_{jl}` (upper triangles) into ``sums`` ``(h, h, T)`` for
    :math:`j \le l`, zeros for :math:`j > l`. ``active`` is the boolean ``(n, h)`` pattern."""
    ones = active.astype(X.dtype)
    upper = np.triu(np.ones((active.shape[1],) * 2, dtype=X.dtype))
    both = np.einsum("ij,il,it->jlt", ones, ones, outer_triangles(X), optimize=True)
    sums[...] = both * upper[:, :, None]


@jit
def pattern_sums(X, active, sums):
    n, d = X.shape
    n_hidden = active.shape[1]
    p = d + 1
    n_triangle = p * (p + 1) // 2
    # per row its outer product and its active units; per unit the rows it is active on
    outer = np.empty((n, n_triangle), dtype=X.dtype)
    active_units = np.empty((n, n_hidden), dtype=np.int32)
    n_active_units = np.zeros(n, dtype=np.int32)
    active_rows = np.empty((n_hidden, n), dtype=np.int32)
    n_active_rows = np.zeros(n_hidden, dtype=np.int32)
    for i in range(n):
        t = 0
        for a in range(p):
            xa = X[i, a] if a < d else 1.0
            for b in range(a, p):
                xb = X[i, b] if b < d else 1.0
                outer[i, t] = xa * xb
                t += 1
        for j in range(n_hidden):
            if active[i, j]:
                active_units[i, n_active_units[i]] = j
                n_active_units[i] += 1
                active_rows[j, n_active_rows[j]] = i
                n_active_rows[j] += 1
    # unit j's sums (h x T numbers) stay in the fastest cache while its rows are added;
    # first[i] points at the first unit >= j in row i's list of active units
    sums[:, :, :] = 0.0
    first = np.zeros(n, dtype=np.int32)
    for j in range(n_hidden):
        unit_sums = sums[j]
        for r in range(n_active_rows[j]):
            i = active_rows[j, r]
            for s in range(first[i], n_active_units[i]):
                other = active_units[i, s]
                for t in range(n_triangle):
                    unit_sums[other, t] += outer[i, t]
            first[i] += 1


def update_pattern_sums_numpy(
    X: np.ndarray, was_active: np.ndarray, is_active: np.ndarray, sums: np.ndarray
) -> None:
    r"""Update ``sums`` in place from the pattern ``was_active`` to ``is_active``: remove the
    contributions of the rows that changed under the old pattern, add them under the new."""
    rows = np.flatnonzero(np.any(was_active != is_active, axis=1))
    before, after = np.zeros_like(sums), np.zeros_like(sums)
    pattern_sums_numpy(X[rows], was_active[rows], before)
    pattern_sums_numpy(X[rows], is_active[rows], after)
    sums += after - before


@jit
def update_pattern_sums(X, was_active, is_active, sums):
    n, d = X.shape
    n_hidden = was_active.shape[1]
    p = d + 1
    n_triangle = p * (p + 1) // 2
    outer = np.empty(n_triangle, dtype=X.dtype)
    changed = np.empty(n_hidden, dtype=np.int32)
    for i in range(n):
        n_changed = 0
        for j in range(n_hidden):
            if was_active[i, j] != is_active[i, j]:
                changed[n_changed] = j
                n_changed += 1
        if n_changed == 0:
            continue
        t = 0
        for a in range(p):
            xa = X[i, a] if a < d else 1.0
            for b in range(a, p):
                xb = X[i, b] if b < d else 1.0
                outer[t] = xa * xb
                t += 1
        # a pair (j, l) changes only if j or l changed; a pair of two changed units is
        # visited from its smaller unit only
        for c in range(n_changed):
            j = changed[c]
            for other in range(n_hidden):
                if other < j and was_active[i, other] != is_active[i, other]:
                    continue
                before = was_active[i, j] and was_active[i, other]
                after = is_active[i, j] and is_active[i, other]
                if before == after:
                    continue
                sign = 1.0 if after else -1.0
                low, high = (j, other) if j <= other else (other, j)
                for t in range(n_triangle):
                    sums[low, high, t] += sign * outer[t]


def gram_from_sums_numpy(
    sums: np.ndarray,
    row_sum: np.ndarray,
    negative_slope: float,
    output_gram: np.ndarray,
    units: np.ndarray,
    gram: np.ndarray,
) -> None:
    r"""Write into ``gram`` ``(k p, k p)`` the blocks :math:`G_{jl}` for the ``k`` units in
    ``units`` (sorted), from the pattern sums (upper triangles, :math:`j \le l`), the sum
    ``row_sum`` of every row's outer product (:math:`A`, used when :math:`a > 0`) and
    ``output_gram`` :math:`= W_2 W_2^\top` ``(h, h)``."""
    a = negative_slope
    n_triangle = sums.shape[2]
    p = int(round((np.sqrt(8 * n_triangle + 1) - 1) / 2))
    k = len(units)
    pair_sums = sums[np.ix_(units, units)]
    pair_sums = pair_sums + np.swapaxes(pair_sums, 0, 1) * (1 - np.eye(k))[:, :, None]
    own = pair_sums[np.arange(k), np.arange(k)]
    weighted = (1 - a) ** 2 * pair_sums + a * (1 - a) * (own[:, None] + own[None, :])
    weighted += a**2 * row_sum
    rows, cols = np.triu_indices(p)
    blocks = np.zeros((k, k, p, p), dtype=sums.dtype)
    blocks[:, :, rows, cols] = weighted
    blocks[:, :, cols, rows] = weighted
    blocks *= output_gram[np.ix_(units, units)][:, :, None, None]
    gram[...] = blocks.transpose(0, 2, 1, 3).reshape(k * p, k * p)


@jit
def gram_from_sums(sums, row_sum, negative_slope, output_gram, units, gram):
    n_triangle = sums.shape[2]
    p = 1
    while p * (p + 1) // 2 < n_triangle:
        p += 1
    slope = negative_slope
    both = (1.0 - slope) * (1.0 - slope)
    one = slope * (1.0 - slope)
    neither = slope * slope
    k = units.shape[0]
    for first in range(k):
        j = units[first]
        for second in range(first, k):
            other = units[second]
            scale = np.float64(output_gram[j, other])
            t = 0
            for a in range(p):
                for b in range(a, p):
                    value = both * np.float64(sums[j, other, t])
                    if slope != 0.0:
                        value += one * np.float64(sums[j, j, t] + sums[other, other, t])
                        value += neither * np.float64(row_sum[t])
                    value *= scale
                    gram[first * p + a, second * p + b] = value
                    gram[first * p + b, second * p + a] = value
                    gram[second * p + a, first * p + b] = value
                    gram[second * p + b, first * p + a] = value
                    t += 1
