"""The same bits with and without Numba: every step rule and every estimator, fitted in two
processes, one with ``NUMBA_DISABLE_JIT=1`` (the kernel bodies run as Python), give parameters
equal bit for bit. (How the kernels are written for this: :mod:`relustep.kernels._jit`.)"""

import os
import pathlib
import subprocess
import sys

import relustep

FITS = pathlib.Path(__file__).with_name("same_bits_fits.py")


def run_fits(disable_jit: str) -> subprocess.Popen:
    source = str(pathlib.Path(relustep.__file__).parents[1])  # the relustep under test
    search_path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "NUMBA_DISABLE_JIT": disable_jit, "PYTHONPATH": search_path}
    return subprocess.Popen(
        [sys.executable, str(FITS)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_every_step_rule_and_estimator_gives_the_same_bits_compiled_and_not():
    compiled, interpreted = run_fits("0"), run_fits("1")
    outputs = [process.communicate(timeout=600) for process in (compiled, interpreted)]
    for process, (_, errors) in zip((compiled, interpreted), outputs, strict=True):
        assert process.returncode == 0, errors
    compiled_lines = outputs[0][0].splitlines()
    interpreted_lines = outputs[1][0].splitlines()
    assert compiled_lines[0] == f"relustep {relustep.__file__}"
    rules = compiled_lines[1].split()[1:]  # the rules the script found
    assert {"adam", "constant", "momentum", "qlab", "lqa", "exact", "golovko"} <= set(rules)
    # per dtype: two dense estimators per rule, the analytic solver, 14 RBMs, two autoencoders
    # and a deep one
    assert len(compiled_lines) == 2 + 2 * (2 * len(rules) + 1 + 14 + 2 + 1)
    fitted = [line for line in compiled_lines if len(line.split()[-1]) == 64]
    assert len(fitted) > len(compiled_lines) // 2
    different = [(a, b) for a, b in zip(compiled_lines, interpreted_lines, strict=True) if a != b]
    assert not different, different
