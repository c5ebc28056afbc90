"""The record of a training run.

A :class:`History` is a dict. Its per-step entries are lists of equal length, one item per step:

``"loss"``
    the batch loss at the parameters the step started from;
``"step_size"``
    the step :math:`\\alpha` taken along the rule's direction (mean convention);
``"n_forward"``, ``"n_backward"``
    the forward and backward passes the step cost (probes of the loss included);
``"seconds"``
    the wall time of the step;

plus one entry per fallback a step rule may take (1 on the steps that took it), one per value a
rule logs (such as a trial step or a curvature; ``nan`` where not measured), and ``"optimality"``
when it is recorded (the step's decrease as a fraction of the best along its direction).
Its ``"epochs"`` entry holds per-epoch lists: ``"train_loss"`` (the loss on the whole training
set after the epoch), ``"val_loss"`` (on the validation data, ``nan`` when there is none),
``"seconds"`` (cumulative training time, measurements excluded) and ``"step"`` (how many steps
had been taken).
"""

from __future__ import annotations

import csv
import math

STEP_KEYS = ("loss", "step_size", "n_forward", "n_backward", "seconds")
EPOCH_KEYS = ("train_loss", "val_loss", "seconds", "step")


class History(dict):
    """Per-step and per-epoch records; see the module docstring for the entries."""

    def __init__(self, fallbacks=(), data: dict | None = None):
        super().__init__()
        for key in STEP_KEYS:
            self[key] = []
        self._defaults: dict[str, float] = {}
        self.add_fallbacks(fallbacks)
        self["epochs"] = {key: [] for key in EPOCH_KEYS}
        if data is not None:
            for key, values in data.items():
                if key == "epochs":
                    self["epochs"].update({k: list(v) for k, v in values.items()})
                else:
                    self[key] = list(values)

    @property
    def step_keys(self) -> list[str]:
        """The names of the per-step entries."""
        return [key for key in self if key != "epochs"]

    def __len__(self) -> int:  # number of steps recorded
        return len(self["loss"])

    def add_fallbacks(self, fallbacks) -> None:
        """Add columns for fallbacks not seen yet, zero for the steps already recorded."""
        for key in fallbacks:
            if key not in self:
                self[key] = [0] * len(self)
            self._defaults[key] = 0

    def add_logged(self, names) -> None:
        """Add columns for per-step values not seen yet (a rule's logged values, the
        optimality), ``nan`` for the steps already recorded: they were not measured there."""
        for key in names:
            if key not in self:
                self[key] = [math.nan] * len(self)
            self._defaults[key] = math.nan

    def record_step(self, values: dict) -> None:
        """Append one step; ``values`` must name every per-step entry except fallbacks (0 when
        left out) and logged values (``nan``)."""
        for key in self.step_keys:
            self[key].append(values[key] if key in values else self._defaults.get(key, math.nan))

    def record_steps(self, columns: dict) -> None:
        """Append several steps: ``columns`` maps each entry to a list, one value per step;
        fallbacks and logged values may be left out, as in :meth:`record_step`."""
        n_steps = len(columns["loss"])
        for key in self.step_keys:
            if key in columns:
                self[key].extend(columns[key])
            else:
                self[key].extend([self._defaults.get(key, math.nan)] * n_steps)

    def record_epoch(
        self, train_loss: float, val_loss: float, seconds: float, **extra: float
    ) -> None:
        """Append one epoch's measurements. ``extra`` entries (an analytic solver's counts) get a
        column of their own, ``nan`` on the epochs that did not report them."""
        epochs = self["epochs"]
        n_epochs = len(epochs["step"])
        for key in extra:
            epochs.setdefault(key, [math.nan] * n_epochs)
        for key in epochs:
            if key not in EPOCH_KEYS:
                epochs[key].append(extra.get(key, math.nan))
        epochs["train_loss"].append(float(train_loss))
        epochs["val_loss"].append(float(val_loss))
        epochs["seconds"].append(float(seconds))
        epochs["step"].append(len(self))

    def total(self, key: str) -> int | float:
        """The sum of a per-step entry over the run (for example the forward passes): an
        ``int`` for counts, a ``float`` for measured values."""
        return sum(self[key]) if self[key] else 0

    def to_json(self) -> dict:
        """A JSON-ready copy (``nan`` becomes ``None``)."""

        def clean(values):
            return [None if isinstance(v, float) and math.isnan(v) else v for v in values]

        data = {key: clean(self[key]) for key in self.step_keys}
        data["epochs"] = {key: clean(values) for key, values in self["epochs"].items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> History:
        """Rebuild from :meth:`to_json` output (``None`` becomes ``nan``)."""

        def restore(values):
            return [math.nan if v is None else v for v in values]

        steps = {key: restore(values) for key, values in data.items() if key != "epochs"}
        steps["epochs"] = {key: restore(v) for key, v in data.get("epochs", {}).items()}
        return cls(data=steps)

    def to_csv(self, path, which: str = "steps") -> None:
        """Write the per-step entries (``which="steps"``) or the per-epoch ones as CSV."""
        table = self if which == "steps" else self["epochs"]
        keys = self.step_keys if which == "steps" else list(table)
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["index", *keys])
            for row, values in enumerate(zip(*(table[key] for key in keys), strict=True)):
                writer.writerow([row, *values])
