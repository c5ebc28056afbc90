"""Each paper's protocol as a function that returns a table.

``SECTIONS`` maps a section name of ``relustep reproduce`` to a function
``(out_dir, *, size, seeds, force, progress) -> (table, report_path)`` that runs the section's
experiments (resuming from results already in ``out_dir``) and writes its report. A new section
is one more entry.
"""

from relustep.experiments import baselines

SECTIONS = {
    "baselines": baselines.reproduce,
}

__all__ = ["SECTIONS", "baselines"]
