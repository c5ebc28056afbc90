"""Each paper's protocol as a section of the report, and the main job that runs them.

``SECTIONS`` maps a section name of ``relustep reproduce`` to the module that holds it (a
:class:`~relustep.experiments.section.Section` named ``SECTION``: see
:mod:`relustep.experiments.section`), in the order of the report: the papers' claims in the
order the papers came, then the baselines as an appendix. A new section is one more entry. The
modules are imported only when a section runs, so ``import relustep`` stays light.
"""

SECTIONS = {
    "rbm": "relustep.experiments.rbm",
    "analytic": "relustep.experiments.analytic",
    "linesearch": "relustep.experiments.linesearch",
    "baselines": "relustep.experiments.baselines",
}
