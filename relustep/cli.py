"""The command line: ``relustep datasets``, ``relustep train``, ``relustep reproduce``.

Run ``relustep --help`` (or ``python -m relustep --help``) for the options. :func:`main` returns
the exit status instead of exiting, so that it can be called from Python and from tests:
0 on success, 1 when training diverged or a data file or an output could not be read or written,
2 for a wrong argument (an ``--out`` folder that cannot be written included), 130 after Ctrl-C.
Every error is one line on stderr, and the output folder is checked before any long work.
BLAS runs on the threads :func:`relustep._threads.chosen_blas_threads` chooses (one, unless
``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from relustep import __version__, datasets, steps
from relustep._threads import blas_threads, chosen_blas_threads
from relustep.estimators.mlp import MLPClassifier, ReLURegressor
from relustep.experiments import SECTIONS
from relustep.objective import IncompatibleStepError
from relustep.train import DivergenceError

INTERRUPTED = 130  # the shell's status for a process stopped by Ctrl-C (128 + SIGINT)
TRAIN_OUTPUTS = ("history_steps.csv", "history_epochs.csv", "loss.png", "model.npz")


class CommandError(Exception):
    """A failure the command line reports as one line on stderr, with its exit ``status``."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (``sys.argv[1:]`` by default); return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name.

    Returns
    -------
    int
        0 on success, 1 if training diverged or a file could not be read or written, 2 for a
        wrong argument, 130 after Ctrl-C.
    """
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, --version and argument errors
        return int(exit_request.code or 0)
    try:
        with blas_threads(chosen_blas_threads()):
            return arguments.run(arguments)
    except CommandError as error:
        message = " ".join(str(error).splitlines())
        print(f"relustep {arguments.command}: error: {message}", file=sys.stderr)
        return error.status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = argparse.ArgumentParser(
        prog="relustep", description="ReLU networks whose learning steps are derived analytically."
    )
    parser.add_argument("--version", action="version", version=f"relustep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("datasets", help="list the shipped datasets")
    listing.set_defaults(run=list_datasets)

    train = commands.add_parser("train", help="train a network on a dataset")
    train.add_argument(
        "--dataset",
        required=True,
        choices=datasets.names(),
        metavar="NAME",
        help=f"one of {', '.join(datasets.names())}",
    )
    train.add_argument(
        "--hidden",
        type=hidden_sizes,
        default=(64,),
        metavar="64,32",
        help="widths of the hidden layers, comma-separated (default: 64)",
    )
    train.add_argument(
        "--step", default="adam", choices=steps.names(), help="the step rule (default: adam)"
    )
    train.add_argument("--lr", type=float, help="learning rate (default: the rule's own)")
    train.add_argument(
        "--momentum", type=float, help="momentum of the rules momentum and nesterov (default: 0.9)"
    )
    train.add_argument(
        "--epochs",
        type=int_at_least(1),
        default=20,
        metavar="N",
        help="passes over the training data (default: 20)",
    )
    train.add_argument(
        "--batch-size",
        type=int_at_least(1),
        default=64,
        metavar="N",
        help="rows per mini-batch (default: 64)",
    )
    train.add_argument(
        "--seed",
        type=int_at_least(0),
        default=0,
        metavar="N",
        help="seeds the weights and the batch order (default: 0)",
    )
    train.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: runs/<dataset>-<step>)"
    )
    train.set_defaults(run=train_network)

    reproduce = commands.add_parser("reproduce", help="run the experiments and write a report")
    reproduce.add_argument(
        "--out",
        type=Path,
        default=Path("relustep-report"),
        metavar="DIR",
        help="output folder (default: relustep-report)",
    )
    size = reproduce.add_mutually_exclusive_group()
    size.add_argument(
        "--full",
        dest="size",
        action="store_const",
        const="full",
        default="quick",
        help="the full protocol (all training rows, more epochs; slow)",
    )
    size.add_argument(
        "--tiny",
        dest="size",
        action="store_const",
        const="tiny",
        help="a smoke test that runs in seconds (its numbers mean nothing)",
    )
    reproduce.add_argument(
        "--seeds",
        type=int_at_least(1),
        default=3,
        metavar="N",
        help="runs per experiment, seeds 0 to N-1; a claim needs 3 to be judged (default: 3)",
    )
    reproduce.add_argument(
        "--only",
        type=section_names,
        metavar="NAMES",
        help=f"comma-separated sections to run, of {', '.join(SECTIONS)} (default: all)",
    )
    reproduce.add_argument(
        "--jobs",
        type=jobs_count,
        default=-1,
        metavar="N",
        help="processes for the runs of different sections and seeds; -1 for every core "
        "(default: -1)",
    )
    reproduce.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run them on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786), "
        "through joblib's Dask backend, instead of --jobs processes; needs the distributed "
        "package, and an --out folder every worker sees",
    )
    reproduce.add_argument(
        "--force", action="store_true", help="recompute results already stored in DIR/results"
    )
    reproduce.set_defaults(run=reproduce_sections)

    course = commands.add_parser(
        "course", help="the exercises: a handout for students, solved copies for the teacher"
    )
    course.add_argument(
        "what",
        choices=("handout", "solutions"),
        help="handout: the exercise notebooks, outputs stripped, zipped into PATH; solutions: "
        "the notebooks with every blank filled in, written into the folder PATH",
    )
    course.add_argument("path", type=Path, metavar="PATH", help="the zip file or the folder")
    course.add_argument(
        "--course",
        type=Path,
        metavar="DIR",
        help="the folder of exercise notebooks, with solutions/ inside for the solved copies "
        "(default: tutorials/exercises of relustep's source)",
    )
    course.set_defaults(run=write_course)
    return parser


def int_at_least(low: int):
    """An argparse ``type`` that accepts ints ``>= low``."""

    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < low:
            raise argparse.ArgumentTypeError(f"expected an int >= {low}, got {text!r}")
        return int(text)

    return parse


def section_names(text: str) -> list[str]:
    """Parse ``"rbm,analytic"`` into known section names."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected section names from {', '.join(SECTIONS)}, got {text!r}"
        )
    return names


def jobs_count(text: str) -> int:
    """Parse ``--jobs``: a positive int, or -1 for every core."""
    if text.strip() == "-1":
        return -1
    return int_at_least(1)(text)


def hidden_sizes(text: str) -> tuple[int, ...]:
    """Parse ``"64,32"`` into ``(64, 32)``; ``""`` means no hidden layer."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = (0,)
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected positive ints such as 64,32, got {text!r}")
    return sizes


def load_dataset(name: str) -> datasets.Dataset:
    """:func:`relustep.datasets.load`, with a missing or damaged file as a :class:`CommandError`."""
    try:
        return datasets.load(name)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read the dataset {name}: {error}") from None


def check_can_write(folder: Path, names: Sequence[str] = ()) -> None:
    """Check, before any long work and without writing anything, that ``folder`` can hold the
    outputs: an existing folder takes a new file (tried with a temporary one), a missing one can
    be created in its nearest existing parent, and none of ``names`` in it is in the way (a
    folder or a read-only file)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        if existing == folder:
            with tempfile.TemporaryFile(dir=folder):
                pass
        elif not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(f"{existing} is not writable")
    except OSError as error:
        reason = error.strerror or str(error)
        raise CommandError(f"argument --out: cannot write in {folder}: {reason}", 2) from None
    for name in names:
        path = folder / name
        if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)):
            raise CommandError(f"argument --out: cannot overwrite {path}", 2)


def list_datasets(arguments: argparse.Namespace) -> int:
    """``relustep datasets``: one line per shipped dataset."""
    for name in datasets.names():
        data = load_dataset(name)
        print(
            f"{name:<14} {data.task:<15} train {str(data.X_train.shape):<12} "
            f"test {str(data.X_test.shape):<12} {data.licence}"
        )
    return 0


def train_network(arguments: argparse.Namespace) -> int:
    """``relustep train``: train, print the scores, write the history, a plot and the model."""
    step = {"name": arguments.step}
    if arguments.lr is not None:
        step["lr"] = arguments.lr
    if arguments.momentum is not None:
        if arguments.step not in ("momentum", "nesterov"):
            print(
                "relustep train: error: argument --momentum: applies to the step rules momentum "
                f"and nesterov only, not {arguments.step}",
                file=sys.stderr,
            )
            return 2
        step["momentum"] = arguments.momentum
    try:
        steps.get(step, "--step")
    except ValueError as error:  # a learning rate or momentum out of range
        print(f"relustep train: error: {error}", file=sys.stderr)
        return 2
    data = load_dataset(arguments.dataset)
    out = arguments.out or Path("runs") / f"{arguments.dataset}-{arguments.step}"
    check_can_write(out, TRAIN_OUTPUTS)
    estimator = ReLURegressor if data.task == "regression" else MLPClassifier
    model = estimator(
        arguments.hidden,
        step=step,
        epochs=arguments.epochs,
        batch_size=arguments.batch_size,
        random_state=arguments.seed,
        verbose=True,
    )
    status = 0
    try:
        model.fit(data.X_train, data.y_train, validation_data=(data.X_test, data.y_test))
    except IncompatibleStepError as error:  # found before the first step: nothing to write
        print(f"relustep train: error: {error}", file=sys.stderr)
        return 2
    except DivergenceError as error:
        print(f"relustep train: {error}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("\nrelustep train: interrupted; writing what was recorded so far", file=sys.stderr)
        status = INTERRUPTED
    if hasattr(model, "history_"):
        _report_scores(model, data)
        try:
            _write_run(model, out)
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot write the outputs in {out}: {error}") from None
        print(f"wrote {out}/")
    return status


def _report_scores(model, data) -> None:
    epochs = model.history_["epochs"]
    if not epochs["train_loss"]:
        print("no epoch was completed")
        return
    metric = "R²" if data.task == "regression" else "accuracy"
    print(
        f"after {len(epochs['train_loss'])} epochs: train loss {epochs['train_loss'][-1]:.4g}, "
        f"test loss {epochs['val_loss'][-1]:.4g} (the val_loss column of history_epochs.csv)"
    )
    print(
        f"train {metric} {model.score(data.X_train, data.y_train):.4f}, "
        f"test {metric} {model.score(data.X_test, data.y_test):.4f}"
    )


def _write_run(model, out: Path) -> None:
    from relustep.plot import new_figure, plot_losses, save_figure

    out.mkdir(parents=True, exist_ok=True)
    model.history_.to_csv(out / "history_steps.csv", which="steps")
    model.history_.to_csv(out / "history_epochs.csv", which="epochs")
    figure, axes = new_figure()
    plot_losses({"train": model.history_}, which="train_loss", ax=axes)
    plot_losses({"test": model.history_}, which="val_loss", ax=axes)
    axes.set_ylabel("loss")
    save_figure(figure, out / "loss.png")
    model.save(out / "model.npz")


def reproduce_sections(arguments: argparse.Namespace) -> int:
    """``relustep reproduce``: run the sections, write the report, print the summary table."""
    from relustep.experiments.reproduce import reproduce

    check_can_write(arguments.out)
    for name in datasets.names():  # a damaged data file stops the run now, not in an hour
        load_dataset(name)
    try:
        report, summary = reproduce(
            arguments.out,
            only=arguments.only,
            size=arguments.size,
            seeds=arguments.seeds,
            jobs=arguments.jobs,
            force=arguments.force,
            scheduler=arguments.scheduler,
        )
    except KeyboardInterrupt:
        print(
            "\nrelustep reproduce: interrupted; finished runs are kept in "
            f"{arguments.out}/results and are not repeated next time",
            file=sys.stderr,
        )
        return INTERRUPTED
    except OSError as error:  # a data file missing or unreadable, a disk full
        raise CommandError(str(error)) from None
    print(f"\n{summary}\n\nreport: {report} (and {report.with_suffix('.html')})")
    return 0


def write_course(arguments: argparse.Namespace) -> int:
    """``relustep course``: write the handout (a zip) or the solved notebooks (a folder)."""
    from relustep.exercises import course

    folder = arguments.course or course.COURSE
    try:
        if arguments.what == "handout":
            written = [course.write_handout(arguments.path, folder)]
        else:
            written = course.write_solved(arguments.path, folder)
    except FileNotFoundError as error:
        print(f"relustep course: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0
