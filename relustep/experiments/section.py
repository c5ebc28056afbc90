"""What every section of the report shares: the loop over its runs and seeds, the shape of its
Markdown, and how its claims reach the summary.

A section is a subclass of :class:`Section` that supplies what differs: its sizes, its runs
(:meth:`Section.tasks` and :meth:`Section.run_task`), how it was run in words
(:meth:`Section.describe`), its tables and figures (:meth:`Section.body`) and its claims, each
judged by :func:`relustep.experiments.verdict.judge` (:meth:`Section.claims`). The section's
module holds one instance, ``SECTION``, which :mod:`relustep.experiments.reproduce` uses.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from relustep import datasets
from relustep._validation import check_choice, check_int
from relustep.experiments.verdict import Verdict
from relustep.progress import ProgressBar


@dataclass(frozen=True)
class Claim:
    """One line of the summary: what is claimed, the verdict, and the numbers behind it."""

    statement: str
    verdict: Verdict
    evidence: str


@functools.lru_cache(maxsize=8)
def load_dataset(name: str) -> datasets.Dataset:
    """A shipped dataset, loaded once per process (the runs of a section share it)."""
    return datasets.load(name)


class Section:
    """One section of ``relustep reproduce``'s report; a subclass sets the attributes below and
    supplies the methods marked "what a section supplies".

    Attributes
    ----------
    name : str
        The key in :data:`relustep.experiments.SECTIONS` (and the prefix of its figures).
    title : str
        The heading.
    label : str
        A short name for the summary table.
    claim : str
        The paper's claim in one sentence (or what the section is for).
    appendix : bool
        A reference section (the baselines): after the claims, making no claim itself.
    sizes : dict
        Per size (``"tiny"``, ``"quick"``, ``"full"``), the settings of the protocol; each holds
        ``"seconds_per_seed"``, the time one seed took when last measured, for the estimate
        printed before the section starts.
    """

    name = ""
    title = ""
    label = ""
    claim = ""
    appendix = False
    sizes: dict[str, dict] = {}

    # -- what a section supplies -----------------------------------------------------------------
    def tasks(self, size: str) -> list[dict]:
        """The runs of one seed, each a dict handed to :meth:`run_task`."""
        raise NotImplementedError

    def run_task(self, task: dict, seed: int, size: str) -> list[dict]:
        """Run one task with ``seed``; return its rows (plain values and histories)."""
        raise NotImplementedError

    def describe(self, size: str) -> str:
        """How the section was run at ``size``, in a few sentences."""
        raise NotImplementedError

    def body(self, rows: list[dict], out_dir: Path) -> list[str]:
        """The section's tables and figures (written under ``out_dir/figures``), as lines."""
        raise NotImplementedError

    def claims(self, rows: list[dict]) -> list[Claim]:
        """Each claim with its verdict; none for a reference section."""
        return []

    # -- shared ----------------------------------------------------------------------------------
    def run(
        self,
        size: str = "quick",
        seeds: Sequence[int] = (0,),
        progress: bool = True,
        out_dir: str | os.PathLike | None = None,
    ) -> list[dict]:
        """Run every task with every seed; return the rows (``out_dir`` is not needed:
        ``relustep reproduce`` stores the rows).

        Parameters
        ----------
        size : {"tiny", "quick", "full"}
            How much work (see the section's ``sizes``); ``"tiny"`` is a smoke test whose
            numbers mean nothing.
        seeds : sequence of int
            The seed fixes the rows drawn, the initial weights and the order of the batches.
        progress : bool
            A progress bar over the runs.
        out_dir : str or path-like, optional
            Not used.

        Returns
        -------
        list of dict
        """
        check_choice(size, "size", self.sizes)
        seeds = [check_int(seed, "seeds", low=0) for seed in seeds]
        plan = [(task, seed) for task in self.tasks(size) for seed in seeds]
        rows = []
        with ProgressBar(len(plan), self.name, enabled=progress) as bar:
            for task, seed in plan:
                rows += self.run_task(task, seed, size)
                bar.update(1, " ".join(str(value) for value in task.values()) + f" seed {seed}")
        return rows

    def report_section(self, rows: list[dict], out_dir: str | os.PathLike) -> str:
        """The section's Markdown below its heading: how it was run, its tables and figures,
        and its verdicts with the numbers behind them."""
        sizes = sorted({row["size"] for row in rows})
        seeds = sorted({row["seed"] for row in rows})
        lines = [
            "**What was run.** "
            + " ".join(self.describe(size) for size in sizes)
            + " Seeds: "
            + ", ".join(map(str, seeds))
            + ".",
            "",
            *self.body(rows, Path(out_dir)),
        ]
        claims = self.claims(rows)
        if claims:
            lines += ["### Verdicts", ""]
            lines += [
                f"- **{claim.statement}: {claim.verdict.verdict}.** {claim.evidence}; "
                f"{claim.verdict.counts()}."
                for claim in claims
            ]
            lines.append("")
        return "\n".join(lines)

    def verdicts(self, rows: list[dict]) -> list[tuple[str, str, str]]:
        """``(claim, verdict, evidence)`` for each claim, for the summary."""
        return [
            (claim.statement, claim.verdict.verdict, f"{claim.evidence}; {claim.verdict.counts()}")
            for claim in self.claims(rows)
        ]

    def estimate_seconds(self, size: str, n_seeds: int) -> float:
        """Seconds ``n_seeds`` seeds are expected to take, from the last measurement."""
        return self.sizes[size]["seconds_per_seed"] * n_seeds
