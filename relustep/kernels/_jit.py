"""The one way relustep compiles a kernel.

``cache=True`` keeps the machine code on disk, so only the first run on a machine pays for
compilation. ``error_model="numpy"`` gives IEEE semantics to division (``x / 0`` is ``inf`` or
``nan``, as in the NumPy twins) instead of Python's ``ZeroDivisionError``; the check that Python's
model needs on every division also stops LLVM from vectorising the loops (measured on the Adam
kernel: about 7 times slower with it). It changes no rounding. ``fastmath`` is never used: it
would let the compiler reorder sums and drop NaN checks, which step-size code relies on.

The same bits compiled and not. Under ``NUMBA_DISABLE_JIT=1`` a kernel's body runs as Python on
NumPy scalars, and two of its rules differ from Numba's:

- Numba types a Python number (the literal ``1.0``, a float argument such as a step size) as
  float64 and widens a float32 element to meet it; NumPy 2 lets the Python number take the
  element's float32 instead (NEP 50), in comparisons too. Numba also keeps a float32 through
  ``float(x)`` and evaluates ``math.exp`` of a float32 in single precision. So a kernel turns a
  float32 element into a double with ``np.float64(x)`` before it meets a Python number or a
  ``math`` function; arithmetic between elements of one array dtype needs nothing.
- Numba computes ``x ** n`` with an integer ``n`` by repeated multiplication, Python by the C
  library's ``pow``: a kernel writes ``math.pow(x, float(n))``, which is ``pow`` in both.

``tests/test_same_bits.py`` fits every step rule and every estimator both ways, in two processes,
and compares the parameters bit for bit.
"""

from numba import njit

jit = njit(cache=True, error_model="numpy")
