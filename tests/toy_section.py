"""Report sections for the tests of relustep.experiments.reproduce: instant, and they count."""

import os
from pathlib import Path

from relustep.experiments.section import Claim, Section
from relustep.experiments.verdict import judge

INTERRUPT_AT_SEED = None


class ToySection(Section):
    name = "toy"
    title = "Toy"
    label = "Toy"
    claim = "A toy claim."
    sizes = {size: {"seconds_per_seed": 1} for size in ("tiny", "quick", "full")}

    def tasks(self, size):
        return [{"what": "value"}]

    def run(self, size="quick", seeds=(0,), progress=True, out_dir=None):
        (seed,) = seeds
        if INTERRUPT_AT_SEED == seed:
            raise KeyboardInterrupt
        with open(Path(out_dir) / f"{self.name}-calls.txt", "a") as handle:
            handle.write(f"{seed} {os.getpid()}\n")
        return super().run(size, seeds, progress, out_dir)

    def run_task(self, task, seed, size):
        return [{"seed": seed, "size": size, "value": float(seed) + 0.5}]

    def describe(self, size):
        return f"Toy runs at size {size!r}."

    def body(self, rows, out_dir):
        return ["| seed | value |", "|---|---|"] + [
            f"| {row['seed']} | {row['value']} |" for row in rows
        ]

    def claims(self, rows):
        values = [row["value"] for row in rows]
        outcome = judge(
            values, [0.0] * len(values), [row["seed"] for row in rows], higher_is_better=True
        )
        return [Claim("values are positive", outcome, f"mean {sum(values) / len(values)}")]


class OtherToySection(ToySection):
    name = "other"
    title = "Other toy"
    label = "Other toy"


SECTION = ToySection()
OTHER = OtherToySection()
