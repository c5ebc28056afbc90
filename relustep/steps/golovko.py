r"""The analytic steepest-descent step of Golovko's group, as derived in relustep.

The paper (Chen, Golovko et al. 2024) could be read only in its abstract; the formulas below are
derived in relustep and the paper's exact form may differ. The derivation is in the Notes of
:class:`Golovko` and, with the code next to it, in ``tutorials/02_rbm_adaptive_step.ipynb``.
"""

from __future__ import annotations

import numpy as np

from relustep._validation import check_choice, check_int
from relustep.kernels.steps import SAFEGUARDS, STEP_TAKEN, frozen_step
from relustep.objective import FROZEN_QUADRATIC_FORMS as FORMS
from relustep.objective import FrozenQuadratic
from relustep.steps.base import Line, StepRule


class Golovko(StepRule):
    r"""The steepest-descent step :math:`\alpha^* = \arg\min_\alpha E(\theta - \alpha d)` in closed
    form, for a model whose errors become linear in :math:`\alpha` once its activity pattern is
    frozen: the RBM (:class:`relustep.models.rbm.RBMNetwork`) and the autoencoders
    (:class:`relustep.models.autoencoder.AutoencoderNetwork`).

    Derived in relustep; the paper's exact form may differ.

    Parameters
    ----------
    form : {"gram", "diagonal"}
        For the RBM: ``"gram"`` is the exact minimum of the frozen quadratic over the whole
        mini-batch; ``"diagonal"`` drops the products between different samples (the cheap
        per-sample form, which overshoots on correlated samples; offered only for comparison).
        Both agree for one sample and CD-1. The autoencoder's step has one (exact) form only.
    verify : bool
        After computing :math:`\alpha^*`, evaluate the true loss there and halve :math:`\alpha`
        until the loss does not increase (each evaluation is one forward pass, counted).
    max_halvings : int
        In ``verify`` mode, how many halvings before giving up and not stepping at all.

    Notes
    -----
    **RBM** (local errors with inputs and targets frozen, :mod:`relustep.models.rbm`). Write the
    update of one CD-k step as rows: a hidden row :math:`r = (l, p)` has input :math:`x_l(p)`,
    error :math:`\gamma_r = y_l(p) - y_l(p-1)` and direction factor :math:`d_r`
    (:math:`\gamma_r \odot F_h'` for the rule "cse", :math:`\gamma_r` for "cd"); a visible row has
    input :math:`y_l(p-1)`, error :math:`e_r = x_l(p) - x_l(p-1)` and factor :math:`d_r`. The update
    :math:`\Delta W = -\alpha\sum_r x_r d_r^\top`, :math:`\Delta b = -\alpha\sum_r d_r` moves hidden
    row :math:`r`'s sums by

    .. math::
        \Delta S_r = -\alpha \sum_s (x_r^\top x_s + 1)\, d_s = -\alpha\, (K_x D)_r ,
        \qquad K_x = X X^\top + \mathbf 1\mathbf 1^\top ,

    and likewise the visible sums by :math:`-\alpha (K_y D_v)`. Ignoring how each half of the
    update moves the other layer (the decoupled model), each error becomes
    :math:`\gamma - \alpha\,F'(S) \odot C` with :math:`C = K D` (exactly, for ReLU on a fixed
    pattern; to first order for a smooth transfer), and
    :math:`E(\alpha) = \frac12\sum(\gamma - \alpha F' C)^2` is a quadratic with minimum

    .. math::
        \alpha^*_{\text{sum}} = \frac{\sum \gamma \odot F' \odot C_h + \sum e \odot F' \odot C_v}
                                     {\sum F'^2 \odot C_h^2 + \sum F'^2 \odot C_v^2} .

    For one sample and CD-1 with ReLU units this is
    :math:`(A\Gamma^+ + B\mathcal E^+) / (A^2\Gamma^+ + B^2\mathcal E^+)` with
    :math:`A = 1 + \lVert x(1)\rVert^2`, :math:`B = 1 + \lVert y(0)\rVert^2` and
    :math:`\Gamma^+, \mathcal E^+` the squared errors of the active units: a weighted mean of
    :math:`1/A` and :math:`1/B`. The mask :math:`F'` stays in the error model for the rule "cd" too
    (a unit that is off does not move), so that :math:`\alpha^*` is the exact minimum of the frozen
    quadratic for both rules. The loss and the direction are means over the :math:`L` rows of the
    batch, so the step reported is :math:`\alpha^* = L\,\alpha^*_{\text{sum}}`.

    **Autoencoder** (:mod:`relustep.models.autoencoder`): with the pattern frozen and the
    reconstruction linearised in :math:`\alpha`, the residual moves by :math:`-\alpha J d`
    (:math:`J` the Jacobian of the reconstruction), so
    :math:`\alpha^* = g^\top d / (\lVert J d\rVert^2 / L)`, a Gauss-Newton step along
    :math:`d`; :math:`Jd` is one forward-mode pass.

    **Safeguards**, each counted per step in the training history under its name:

    - ``nothing_to_learn``: numerator and denominator are both zero; :math:`\alpha = 0`.
    - ``non_finite``: :math:`\alpha^*` is not finite; no step.
    - ``not_descent``: :math:`\alpha^* < 0`, the direction goes uphill on the frozen quadratic
      (possible for the rule "cd", whose direction is not the frozen quadratic's gradient); no step.
    - ``crossing_fraction`` (a logged value, not a count): the fraction of ReLU units that cross
      zero inside :math:`[0, \alpha^*]`, where the quadratic is only approximate; ``nan`` on steps
      that took no analytic step.
    - ``verify_halvings``: halvings made in ``verify`` mode; ``verify_failed``: 1 when
      ``max_halvings`` were not enough and no step was taken.

    References
    ----------
    V. Golovko et al., and Chen, Golovko et al. (2024), on the analytic adaptive learning step for
    ReLU RBMs (known here by its abstract only).

    Examples
    --------
    >>> Golovko(verify=True)
    Golovko(form='gram', verify=True, max_halvings=30)
    """

    name = "golovko"
    fallbacks = (
        "nothing_to_learn",
        "non_finite",
        "not_descent",
        "verify_halvings",
        "verify_failed",
    )
    logged = ("crossing_fraction",)
    needs = ("frozen_quadratic",)
    requirement = "needs the loss along the step with the model's activity pattern frozen"

    def __init__(self, form: str = "gram", verify: bool = False, max_halvings: int = 30):
        self.form = check_choice(form, "form", FORMS)
        if not isinstance(verify, bool):
            raise TypeError(f"verify must be True or False, got {verify!r}")
        self.verify = verify
        self.max_halvings = check_int(max_halvings, "max_halvings", low=1)

    def fused_columns(self, result: dict) -> dict:
        """The history columns of a fused epoch's ``result``: its per-step safeguard outcomes
        (``status``, codes of :func:`~relustep.kernels.steps.frozen_step`), the verification's
        ``verify_halvings`` and ``verify_failed`` counts, and the crossing fractions."""
        outcome = np.asarray(result["status"])
        columns = {
            name: (outcome == code).astype(int).tolist() for code, name in SAFEGUARDS.items()
        }
        for name in ("verify_halvings", "verify_failed"):
            columns[name] = np.asarray(result[name]).tolist()
        taken = np.where(outcome == STEP_TAKEN, result["crossing_fraction"], np.nan)
        columns["crossing_fraction"] = taken.tolist()
        return columns

    def fused_form(self) -> tuple[str, dict]:
        settings = {"form": self.form, "verify": self.verify, "max_halvings": self.max_halvings}
        return ("frozen_quadratic", settings)

    def size(self, line: Line) -> float:
        quadratic = frozen_quadratic(line, self.form)
        alpha, outcome = frozen_step(quadratic.numerator, quadratic.denominator)
        if outcome != STEP_TAKEN:
            self.count(SAFEGUARDS[outcome])
            return 0.0
        self.log("crossing_fraction", quadratic.crossing_fraction(alpha))
        if self.verify:
            alpha = self._verified(line, alpha)
        return alpha

    def _verified(self, line: Line, alpha: float) -> float:
        for _ in range(self.max_halvings):
            if line.probe(alpha) <= line.loss:
                return alpha
            alpha *= 0.5
            self.count("verify_halvings")
        self.count("verify_failed")
        return 0.0

    def _settings(self) -> dict:
        return {"form": self.form, "verify": self.verify, "max_halvings": self.max_halvings}


def frozen_quadratic(line: Line, form: str = "gram") -> FrozenQuadratic:
    """The frozen quadratic of ``line``'s objective along ``line.direction``; what it cost in
    forward passes is counted with the line's probes, so that the history's ``n_forward`` stays
    honest."""
    quadratic = line.objective.frozen_quadratic(line.theta, line.direction, form)
    line.n_probes += quadratic.forward_passes
    return quadratic
