"""A report section for the tests of relustep.experiments.reproduce: instant, and it counts."""

import os
from pathlib import Path

TITLE = "Toy"
CLAIM = "A toy claim."
INTERRUPT_AT_SEED = None


def run(size="quick", seeds=(0,), progress=True, out_dir=None):
    (seed,) = seeds
    if INTERRUPT_AT_SEED == seed:
        raise KeyboardInterrupt
    log = Path(out_dir) / "toy-calls.txt"
    with open(log, "a") as handle:
        handle.write(f"{seed} {os.getpid()}\n")
    return [{"seed": seed, "size": size, "value": float(seed) + 0.5}]


def report_section(rows, out_dir):
    return "| seed | value |\n|---|---|\n" + "\n".join(
        f"| {row['seed']} | {row['value']} |" for row in rows
    )


def verdicts(rows):
    mean = sum(row["value"] for row in rows) / len(rows)
    return [("values are positive", "supported" if mean > 0 else "not supported", f"mean {mean}")]
