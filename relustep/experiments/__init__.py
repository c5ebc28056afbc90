"""Each paper's protocol as a function that returns a table, and the main job that runs them.

``SECTIONS`` maps a section name of ``relustep reproduce`` to the module that holds its protocol
(``TITLE``, ``CLAIM``, ``run``, ``report_section``, ``verdicts``: see
:mod:`relustep.experiments.reproduce`). A new section is one more entry. The modules are imported
only when a section runs, so ``import relustep`` stays light.
"""

SECTIONS = {
    "baselines": "relustep.experiments.baselines",
    "rbm": "relustep.experiments.rbm",
    "analytic": "relustep.experiments.analytic",
    "linesearch": "relustep.experiments.linesearch",
}
