"""The main job: every paper's protocol, one report.

Each section of the report is a :class:`~relustep.experiments.section.Section` (the ``SECTION``
of a module named in :data:`relustep.experiments.SECTIONS`): its runs, its tables and figures, and
its claims, each judged by the one rule of :mod:`relustep.experiments.verdict`. The report opens
with the summary of claims and verdicts (a caveat line on size and seeds first), then a table of
contents, the sections in the papers' order and the baselines as an appendix.

:func:`reproduce` runs each section once per seed, stores each result in
``out_dir/results/<section>-<size>-seed<k>.json`` the moment it is finished, and skips a stored
result on the next call (unless ``force``): an interrupted run loses only the runs that were not
finished. Different sections and seeds can run in parallel processes through joblib (``jobs``),
or on a Dask ``distributed`` cluster through joblib's Dask backend (``scheduler``, the address of
the cluster's scheduler; ``pip install distributed``). Each run is seeded by its seed alone, so
the rows are the same whichever way they ran.
"""

from __future__ import annotations

import base64
import importlib
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from relustep._threads import THREAD_VARIABLES, blas_threads, chosen_blas_threads
from relustep._validation import check_choice, check_int
from relustep.experiments import SECTIONS
from relustep.experiments._store import load_rows, save_rows
from relustep.experiments.verdict import MIN_SEEDS
from relustep.experiments.verdict import RULE as VERDICT_RULE
from relustep.progress import ProgressBar

SIZES = ("tiny", "quick", "full")


def section(name: str):
    """The :class:`~relustep.experiments.section.Section` of the report section ``name``."""
    check_choice(name, "section", SECTIONS)
    return importlib.import_module(SECTIONS[name]).SECTION


def result_path(out_dir: Path, name: str, size: str, seed: int) -> Path:
    """Where the rows of one section and seed are stored."""
    return Path(out_dir) / "results" / f"{name}-{size}-seed{seed}.json"


def run_and_store(
    name: str, module: str, size: str, seed: int, out_dir: str, progress: bool
) -> str:
    """Run one section (its ``module``, named so that a worker process needs nothing else) for
    one seed, with the BLAS threads of :func:`relustep._threads.chosen_blas_threads`, and store
    its rows; the unit of work of
    :func:`reproduce`. Returns a line saying how long it took."""
    import relustep

    started, started_cpu = time.perf_counter(), time.process_time()
    with blas_threads(chosen_blas_threads()):  # also in a worker process
        rows = importlib.import_module(module).SECTION.run(
            size=size, seeds=(seed,), progress=progress, out_dir=out_dir
        )
    path = result_path(Path(out_dir), name, size, seed)
    save_rows(path, rows, _meta(name, size, seed, relustep.__version__))
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return f"{name} seed {seed}: {wall:.0f} s ({cpu:.0f} s of processor time)"


def reproduce(
    out_dir: str | os.PathLike = "relustep-report",
    *,
    only: Sequence[str] | None = None,
    size: str = "quick",
    seeds: int = 3,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    scheduler: str | None = None,
) -> tuple[Path, str]:
    """Run the sections (all, or ``only`` those named) and write ``report.md`` and ``report.html``.

    Parameters
    ----------
    out_dir : str or path-like
        Where results, figures and the report go.
    only : sequence of str, optional
        Section names from :data:`relustep.experiments.SECTIONS`; all by default. The report
        still holds every other section whose results are stored in ``out_dir`` for this size
        and these seeds: ``only`` updates its sections inside the full report.
    size : {"tiny", "quick", "full"}
        ``"quick"`` is the default run (minutes on two cores); ``"full"`` is the long run;
        ``"tiny"`` is a smoke test whose numbers mean nothing.
    seeds : int
        Seeds ``0 .. seeds-1`` for every section; a claim needs three to be judged.
    jobs : int
        Processes for joblib; 1 runs everything in this process (with a progress bar per
        section), -1 uses every core; each process runs on one BLAS thread unless the environment
        sets one (see :mod:`relustep._threads`).
    force : bool
        Recompute results that are already stored.
    progress : bool
        Show progress bars and each section's estimated time before it starts.
    scheduler : str, optional
        The address of a Dask ``distributed`` scheduler (``"tcp://host:8786"``): the runs go to
        its workers through joblib's Dask backend instead of local processes, and ``jobs`` is
        ignored. The workers write their results into ``out_dir``, so on a cluster of several
        machines it must be a folder they all see.

    Returns
    -------
    report : Path
        The path of ``report.md``.
    summary : str
        The summary table (Markdown): per claim, the verdict and the numbers behind it.
    """
    import relustep

    names = list(SECTIONS if only is None else only)
    for name in names:
        check_choice(name, "only", SECTIONS)
    check_choice(size, "size", SIZES)
    seeds = check_int(seeds, "seeds")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
        raise ValueError(f"jobs must be a positive int or -1, got {jobs!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = chosen_blas_threads()

    def stored(name: str, seed: int) -> list[dict] | None:
        meta = _meta(name, size, seed, relustep.__version__)
        return load_rows(result_path(out_dir, name, size, seed), meta)

    pending = [
        (name, seed)
        for name in names
        for seed in range(seeds)
        if force or stored(name, seed) is None
    ]
    if progress:
        _print_estimates(pending, size, jobs)
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise TypeError(f"scheduler must be an address string, got {scheduler!r}")
        if pending:
            _run_on_dask(pending, size, out_dir, progress, scheduler)
    elif jobs == 1:
        for name, seed in pending:
            took = run_and_store(name, SECTIONS[name], size, seed, str(out_dir), progress)
            if progress:
                print(took, file=sys.stderr)
    elif pending:
        _run_in_parallel(pending, size, out_dir, progress, jobs)
    results = {}
    for name in SECTIONS:  # the sections run now, and every other one already stored
        rows = [stored(name, seed) for seed in range(seeds)]
        if name in names or all(part is not None for part in rows):
            results[name] = [row for part in rows for row in part]
    return write_report(results, out_dir, size=size, seeds=seeds, threads=threads)


def _print_estimates(pending: list[tuple[str, int]], size: str, jobs: int) -> None:
    """Before anything runs: each section's expected time, from its last measurement."""
    counts: dict[str, int] = {}
    for name, _ in pending:
        counts[name] = counts.get(name, 0) + 1
    total = 0.0
    for name, n_seeds in counts.items():
        seconds = section(name).estimate_seconds(size, n_seeds)
        total += seconds
        print(
            f"{name}: {n_seeds} seed(s), about {_minutes(seconds)} of one core",
            file=sys.stderr,
        )
    if counts:
        workers = max(1, min((os.cpu_count() or 1) if jobs == -1 else jobs, len(pending)))
        print(
            f"in all about {_minutes(total / workers)} with {workers} process(es) "
            "(estimated on an idle machine; a busy one takes longer)",
            file=sys.stderr,
        )


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _run_in_parallel(
    pending: list[tuple[str, int]], size: str, out_dir: Path, progress: bool, jobs: int
) -> None:
    """The pending runs through joblib, on its current backend, with one progress bar."""
    from joblib import Parallel, delayed

    with ProgressBar(len(pending), "experiments", enabled=progress) as bar:
        work = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(run_and_store)(name, SECTIONS[name], size, seed, str(out_dir), False)
            for name, seed in pending
        )
        for finished in work:
            bar.update(1, finished.split(":")[0])
            if progress:
                print(f"\n{finished}", file=sys.stderr)


def _run_on_dask(
    pending: list[tuple[str, int]], size: str, out_dir: Path, progress: bool, scheduler: str
) -> None:
    """The pending runs on the Dask cluster at ``scheduler``, through joblib's Dask backend."""
    try:
        from distributed import Client
    except ImportError as error:
        raise ImportError(
            "scheduler= runs the experiments on a Dask cluster and needs the distributed "
            "package: pip install distributed"
        ) from error
    import joblib

    with Client(scheduler, timeout="30s"), joblib.parallel_config(backend="dask"):
        _run_in_parallel(pending, size, out_dir, progress, jobs=-1)


def write_report(
    results: dict[str, list[dict]],
    out_dir: Path,
    *,
    size: str,
    seeds: int,
    threads: int | None = 1,
) -> tuple[Path, str]:
    """Write ``report.md`` (and the same as a self-contained ``report.html``) from the rows of
    each section; return the Markdown file's path and the summary table."""
    import numba

    import relustep

    header = ["| section | claim | verdict | evidence |", "|---|---|---|---|"]
    summary = list(header)
    contents, bodies = [], []
    for name, rows in results.items():
        part = section(name)
        for claim, verdict, evidence in part.verdicts(rows):
            summary.append(
                f"| [{part.label}](#{_anchor(part.title)}) | {claim} | **{verdict}** | {evidence} |"
            )
        heading = f"Appendix: {part.title}" if part.appendix else part.title
        contents.append(f"- [{heading}](#{_anchor(part.title)})")
        bodies += [f'<a id="{_anchor(part.title)}"></a>', "", f"## {heading}", ""]
        bodies += [f"*{part.claim}*", "", part.report_section(rows, out_dir), ""]
    if summary == header:
        summary = ["No section run here makes a claim; see the sections below."]
    if seeds >= MIN_SEEDS:
        caveat = (
            f"**Size {size!r}, seeds 0 to {seeds - 1}.** Each verdict rests on the comparisons "
            "and seeds it counts; sizes are stated in each section, and `--full` runs larger ones."
        )
    else:
        caveat = (
            f"**Provisional: size {size!r}, {seeds} seed(s).** A claim needs {MIN_SEEDS} seeds to "
            "be judged, so every verdict here is inconclusive."
        )
    lines = [
        "# relustep: the papers' claims, measured",
        "",
        caveat,
        "",
        "## Summary",
        "",
        *summary,
        "",
        "**How a claim is judged.** " + VERDICT_RULE,
        "",
        "**Cost.** Faster or sooner is judged on forward plus backward passes over the data, not "
        "on seconds: a step that probes the loss pays one forward pass per probe. Seconds are "
        "shown beside them, measured on the final runs only (the kernels are compiled and loaded "
        f"before the clock starts), with {_threads_text(threads)} per process.",
        "",
        "## Contents",
        "",
        *contents,
        "",
        *bodies,
        "## About this run",
        "",
        f"Written {time.strftime('%Y-%m-%d %H:%M')}; size {size!r}; seeds 0 to {seeds - 1}. "
        f"Software: Python {platform.python_version()}, NumPy {np.__version__}, "
        f"Numba {numba.__version__}, relustep {relustep.__version__}. "
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, {_threads_text(threads)} per "
        "process. Every number above was measured in this run, on the data shipped in `data/`. "
        "The protocols are relustep's (the papers' own could not be read); each section says how "
        "it was run.",
        "",
    ]
    markdown_text = "\n".join(lines)
    report = out_dir / "report.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(markdown_text)
    (out_dir / "report.html").write_text(to_html(markdown_text, out_dir))
    return report, "\n".join(summary)


def _threads_text(threads: int | None) -> str:
    if threads is None:
        return "the BLAS threads set by the environment (" + ", ".join(THREAD_VARIABLES) + ")"
    return f"{threads} BLAS thread{'s' if threads != 1 else ''}"


def _anchor(title: str) -> str:
    """A link target for a heading: lower case, words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def to_html(markdown_text: str, base: Path) -> str:
    """The report as one HTML page, images embedded, readable without the folder beside it.

    Uses the Python-Markdown package (with its tables extension): a well-kept converter that
    handles escaping and nesting better than a few regular expressions of ours would.
    """
    import markdown

    def embed(match: re.Match) -> str:
        alt, source = match.group(1), match.group(2)
        path = Path(base) / source
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"![{alt}](data:image/png;base64,{data})"

    body = markdown.markdown(
        re.sub(r"!\[([^\]]*)\]\(([^)]+\.png)\)", embed, markdown_text),
        extensions=["tables"],
    )
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;"
        "line-height:1.4}table{border-collapse:collapse;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>relustep report</title>"
        f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"
    )


def _meta(name: str, size: str, seed: int, version: str) -> dict:
    return {"section": name, "size": size, "seed": seed, "relustep": version}
