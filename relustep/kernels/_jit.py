"""The one way relustep compiles a kernel.

``cache=True`` keeps the machine code on disk, so only the first run on a machine pays for
compilation. ``error_model="numpy"`` gives IEEE semantics to division (``x / 0`` is ``inf`` or
``nan``, as in the NumPy twins) instead of Python's ``ZeroDivisionError``; the check that Python's
model needs on every division also stops LLVM from vectorising the loops (measured on the Adam
kernel: about 7 times slower with it). It changes no rounding. ``fastmath`` is never used: it
would let the compiler reorder sums and drop NaN checks, which step-size code relies on.
"""

from numba import njit

jit = njit(cache=True, error_model="numpy")
