"""Fitting a loss law to a team's own runs (SPEC.md §5): the core of ``moeplan fit``.

The objective (Hoffmann et al. 2022; Besiroglu et al. 2024) is a Huber loss on the residuals of
log-loss, with the law written as a log-sum-exp of terms that are *linear* in the parameters:

dense (Chinchilla form), ``L = c + a/N^alpha + b/D^beta``::

    log L ≈ LSE(log_a − alpha·log N,  log_b − beta·log D,  log_c)

fine-grained MoE, ``L = c + (g/G^gamma + a)/N^alpha + b/D^beta``; the parameter term splits in
two, ``g/(G^gamma N^alpha) + a/N^alpha``, so the law is a four-term log-sum-exp::

    log L ≈ LSE(log_a − alpha·log N,  log_b − beta·log D,
                log_g − gamma·log G − alpha·log N,  log_c)

The parameter vector is ``(log_a, alpha, log_b, beta[, log_g, gamma], log_c)``: the linear
coefficients enter through their logarithms (so they stay positive) and the exponents as they
are. Because every term is linear in these parameters, the gradient of the prediction is the
softmax of the terms times that linear map: analytic, exact and cheap.

``objective = Σ_i w_i · huber_δ(r_i) + weight_decay · Σ_j θ_j²`` with ``r_i`` = predicted minus
observed log-loss, ``w_i`` = 1 (or bootstrap counts), δ = 1e-3 by default (Besiroglu et al.). The
"paper" variant of Krajewski et al. is δ = 0.1 with weight decay 5e-4; we apply it to the same
log-space residuals and to the parameter vector above (the paper does not say which
parameterisation it penalised; this is our reading).

The objective has local minima, so :func:`fit_law` screens a grid of exponents (for each
exponent combination the linear coefficients follow from a least-squares fit, "variable
projection"), runs L-BFGS-B with the analytic gradient from the best few distinct starts, and
keeps the best. Bootstrap refits start from that optimum and run a damped Newton iteration
with the exact Hessian, vectorised over the resamples (:func:`newton_refit`); L-BFGS-B takes
any resample it does not settle. scipy is imported inside the functions that need it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .runs import Runs

#: Parameter names of the optimisation vector, per form.
PARAMETERS = {
    "dense": ("log_a", "alpha", "log_b", "beta", "log_c"),
    "moe": ("log_a", "alpha", "log_b", "beta", "log_g", "gamma", "log_c"),
}
#: The law's own coefficient names (CLI.md), per form.
COEFFICIENTS = {
    "dense": ("a", "alpha", "b", "beta", "c"),
    "moe": ("a", "alpha", "b", "beta", "g", "gamma", "c"),
}
#: The law form each fitting form produces (moeplan.laws.FORMS).
LAW_FORMS = {"dense": "chinchilla", "moe": "fine_grained_moe"}
#: Coefficients that enter the optimisation vector through their logarithm.
LOG_COEFFICIENTS = ("a", "b", "c", "g")

#: Objectives: name -> (Huber delta, weight decay).
OBJECTIVES = {"chinchilla": (1e-3, 0.0), "paper": (0.1, 5e-4)}
#: Largest Huber threshold and weight decay accepted (see fit_law).
MAX_HUBER_DELTA = 10.0
MAX_WEIGHT_DECAY = 1e3

#: Box for L-BFGS-B: exponents are non-negative (loss falls with N, D, G); logs of the linear
#: coefficients are kept in a range where exp() is finite and the terms stay comparable.
EXPONENT_BOUNDS = (0.0, 10.0)
LOG_BOUNDS = (-30.0, 60.0)

#: L-BFGS-B settings. The objective is scaled to order one (see _Problem.scale), so the
#: tolerances are relative; they are deliberately tight because the Chinchilla objective is flat
#: near its minimum and a loose stop lands visibly off the optimum (Besiroglu et al. 2024).
LBFGS_OPTIONS = {"maxiter": 5000, "maxfun": 20000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20}
#: A local run counts as converged when the largest projected gradient component of the scaled
#: objective is below GRADIENT_TOLERANCE, or when L-BFGS-B stopped because the objective no
#: longer decreases within floating-point precision (its "relative reduction" test, or a line
#: search that cannot make progress: "ABNORMAL_TERMINATION_IN_LNSRCH") and the projected
#: gradient is below STALL_GRADIENT_TOLERANCE. The second case is a long flat valley (poorly
#: identified coefficients), where the gradient cannot be driven lower in double precision.
GRADIENT_TOLERANCE = 1e-5
STALL_GRADIENT_TOLERANCE = 1e-3

#: Default number of distinct starting points refined with L-BFGS-B.
DEFAULT_STARTS = 10

_EXP_GRID = {
    "dense": (np.linspace(0.05, 1.5, 30), np.linspace(0.05, 1.5, 30), None),
    "moe": (np.linspace(0.02, 1.0, 14), np.linspace(0.02, 1.0, 14), np.linspace(0.0, 1.5, 11)),
}


def _log_or_raise(name: str, value: float) -> float:
    if name in LOG_COEFFICIENTS:
        if not value > 0:
            raise InputError(
                f"fixed {name}={value:g}: must be positive (it is fitted as log {name})",
                param="fixed",
            )
        return math.log(value)
    lo, hi = EXPONENT_BOUNDS
    if not lo <= value <= hi:
        raise InputError(
            f"fixed {name}={value:g}: must be between {lo:g} and {hi:g}", param="fixed"
        )
    return float(value)


def theta_to_coefficients(theta, form: str) -> dict:
    """The law's coefficients ``{a, alpha, b, beta[, g, gamma], c}`` from a parameter vector.

    Works on a vector (one set) or an array of shape (samples, parameters) (arrays per name).
    """
    theta = np.asarray(theta, dtype=float)
    out = {}
    for j, pname in enumerate(PARAMETERS[form]):
        value = theta[..., j]
        if pname.startswith("log_"):
            out[pname[4:]] = np.exp(value)
        else:
            out[pname] = value
    order = COEFFICIENTS[form]
    if theta.ndim == 1:
        return {k: float(out[k]) for k in order}
    return {k: out[k] for k in order}


def coefficients_to_theta(coefficients: dict, form: str) -> np.ndarray:
    """Inverse of :func:`theta_to_coefficients` for one set."""
    theta = []
    for pname in PARAMETERS[form]:
        if pname.startswith("log_"):
            theta.append(math.log(float(coefficients[pname[4:]])))
        else:
            theta.append(float(coefficients[pname]))
    return np.array(theta)


class _Problem:
    """The Huber objective of one data set, with fixed parameters removed from the vector.

    ``value_grad(free)`` gives the scaled objective and its gradient for L-BFGS-B;
    ``objective_many(thetas)`` evaluates many full vectors at once (screening).
    """

    def __init__(
        self,
        runs: Runs,
        form: str,
        huber_delta: float,
        weight_decay: float,
        fixed: dict | None = None,
        weights=None,
    ):
        self.form = form
        self.names = PARAMETERS[form]
        self.delta = float(huber_delta)
        self.weight_decay = float(weight_decay)
        self.log_n = np.log(runs.params)
        self.log_d = np.log(runs.tokens)
        self.log_loss = np.log(runs.loss)
        self.log_g = None if form == "dense" else np.log(runs.granularity)
        index = {n: j for j, n in enumerate(self.names)}
        # term k = theta[const] - sum_j theta[j] * x_j  (the linear map behind the LSE)
        terms = [
            (index["log_a"], ((index["alpha"], self.log_n),)),
            (index["log_b"], ((index["beta"], self.log_d),)),
        ]
        if form == "moe":
            terms.append(
                (index["log_g"], ((index["gamma"], self.log_g), (index["alpha"], self.log_n)))
            )
        terms.append((index["log_c"], ()))
        self.terms = terms
        self.fixed = dict(fixed or {})  # parameter index -> value
        self.free = np.array([j for j in range(len(self.names)) if j not in self.fixed], dtype=int)
        self.full = np.zeros(len(self.names))
        for j, v in self.fixed.items():
            self.full[j] = v
        bounds = [EXPONENT_BOUNDS if not n.startswith("log_") else LOG_BOUNDS for n in self.names]
        self.bounds = [bounds[j] for j in self.free]
        self.set_weights(weights)
        self.n_evaluations = 0

    def set_weights(self, weights) -> None:
        """Per-run weights (None: all 1; bootstrap: resample counts), and the scale they imply.

        The scale is the objective of a constant prediction (the median log-loss), so the
        scaled objective is of order one whatever delta, the number of runs or their weights.
        """
        self.weights = None if weights is None else np.asarray(weights, dtype=float)
        centre = np.median(self.log_loss)
        self.scale = max(self._huber_sum(centre - self.log_loss), 1e-300)

    def _huber_sum(self, r):
        a = np.abs(r)
        h = np.where(a <= self.delta, 0.5 * r * r, self.delta * (a - 0.5 * self.delta))
        if self.weights is not None:
            h = h * self.weights
        return float(np.sum(h, axis=-1)) if h.ndim == 1 else np.sum(h, axis=-1)

    def expand(self, free) -> np.ndarray:
        theta = self.full.copy()
        theta[self.free] = free
        return theta

    def predict_log(self, theta):
        """Predicted log-loss per run (theta may be (P,) or (S, P))."""
        theta = np.asarray(theta, dtype=float)
        z = []
        for const, lin in self.terms:
            zk = theta[..., const, None]
            for j, x in lin:
                zk = zk - theta[..., j, None] * x
            z.append(zk)
        z = np.stack(np.broadcast_arrays(*z))
        m = np.max(z, axis=0)
        return m + np.log(np.sum(np.exp(z - m), axis=0))

    def objective_many(self, thetas):
        """Unscaled objective of each full parameter vector in ``thetas`` (S, P)."""
        thetas = np.asarray(thetas, dtype=float)
        r = self.predict_log(thetas) - self.log_loss
        return self._huber_sum(r) + self.weight_decay * np.sum(thetas * thetas, axis=-1)

    def objective(self, theta) -> float:
        """Unscaled objective of one full parameter vector."""
        return float(self.objective_many(np.asarray(theta, dtype=float)[None, :])[0])

    def value_grad_full(self, theta):
        """Unscaled objective and its gradient with respect to the full parameter vector."""
        z = np.empty((len(self.terms), self.log_loss.shape[0]))
        for k, (const, lin) in enumerate(self.terms):
            zk = theta[const]
            for j, x in lin:
                zk = zk - theta[j] * x
            z[k] = zk
        m = z.max(axis=0)
        e = np.exp(z - m)
        total = e.sum(axis=0)
        r = m + np.log(total) - self.log_loss
        a = np.abs(r)
        delta = self.delta
        inside = a <= delta
        h = np.where(inside, 0.5 * r * r, delta * (a - 0.5 * delta))
        psi = np.clip(r, -delta, delta)  # dh/dr
        if self.weights is not None:
            h = h * self.weights
            psi = psi * self.weights
        f = float(h.sum()) + self.weight_decay * float(theta @ theta)
        grad = 2.0 * self.weight_decay * theta
        share = e / total  # softmax: d pred / d term_k
        for k, (const, lin) in enumerate(self.terms):
            sk = psi * share[k]
            grad[const] += sk.sum()
            for j, x in lin:
                grad[j] -= sk @ x
        return f, grad

    def value_grad(self, free):
        """Scaled objective and gradient over the free parameters (what L-BFGS-B sees)."""
        self.n_evaluations += 1
        f, g = self.value_grad_full(self.expand(free))
        return f / self.scale, g[self.free] / self.scale

    def projected_gradient(self, free) -> float:
        """Largest component of the scaled gradient projected on the box (0 at a KKT point)."""
        _, g = self.value_grad_full(self.expand(free))
        g = g[self.free] / self.scale
        lo = np.array([b[0] for b in self.bounds])
        hi = np.array([b[1] for b in self.bounds])
        step = np.clip(free - g, lo, hi) - free
        return float(np.max(np.abs(step))) if step.size else 0.0


@dataclass(frozen=True)
class LocalResult:
    """One L-BFGS-B run: the full parameter vector reached and how it ended."""

    theta: np.ndarray
    objective: float
    success: bool
    message: str
    n_evaluations: int
    n_iterations: int
    projected_gradient: float


_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _describe(message: str) -> str:
    """L-BFGS-B's stop message in words."""
    m = message.upper()
    if "REDUCTION OF F" in m:
        return "the objective stopped decreasing (relative change below machine precision)"
    if "PROJECTED GRADIENT" in m:
        return "the projected gradient fell below the tolerance"
    if "ABNORMAL" in m:
        return "the line search could not decrease the objective further (precision limit)"
    if "ITERATIONS" in m:
        return "the iteration limit was reached"
    if "EVALUATIONS" in m or "MAXFUN" in m:
        return "the evaluation limit was reached"
    return message.strip() or "no message"


def _scipy_minimize():
    """``scipy.optimize.minimize``, importing scipy with one BLAS thread unless the user chose.

    L-BFGS-B calls BLAS on vectors of a few elements; scipy's bundled OpenBLAS otherwise starts
    one thread per core that spin-wait between calls, doubling the CPU time for no speed-up
    (measured: 1,000 bootstrap refits take the same wall time with 1 thread, half the CPU).
    OpenBLAS reads the setting when the library loads, so it is set only around the first
    import of scipy and removed again (child processes are not affected). A variable the user
    set is left alone.
    """
    import sys

    if "scipy" not in sys.modules:
        import os

        added = [v for v in _BLAS_THREAD_VARS if v not in os.environ]
        if len(added) == len(_BLAS_THREAD_VARS):  # the user chose nothing: one thread
            for v in added:
                os.environ[v] = "1"
        else:
            added = []
        try:
            import scipy.optimize  # noqa: F401
        finally:
            for v in added:
                os.environ.pop(v, None)
    from scipy.optimize import minimize

    return minimize


def local_minimize(
    problem: _Problem, theta0, options: dict | None = None, restarts: int = 2
) -> LocalResult:
    """L-BFGS-B with the analytic gradient from one start (a full parameter vector).

    A run that stops early is restarted from where it stopped (a fresh Hessian approximation
    often gets past a line search that lost precision) up to ``restarts`` times.
    """
    minimize = _scipy_minimize()
    opts = dict(LBFGS_OPTIONS, **(options or {}))
    lo = np.array([b[0] for b in problem.bounds])
    hi = np.array([b[1] for b in problem.bounds])
    x = np.clip(np.asarray(theta0, dtype=float)[problem.free], lo, hi)
    n_eval = n_iter = 0
    res = None
    for _attempt in range(restarts + 1):
        res = minimize(
            problem.value_grad, x, jac=True, method="L-BFGS-B", bounds=problem.bounds, options=opts
        )
        n_eval += int(res.nfev)
        n_iter += int(res.nit)
        improved = res.fun < problem.value_grad(x)[0] - 1e-13
        x = res.x
        pg = problem.projected_gradient(x)
        if pg <= GRADIENT_TOLERANCE or not improved:
            break
    pg = problem.projected_gradient(x)
    message = res.message if isinstance(res.message, str) else str(res.message)
    stalled = "REDUCTION OF F" in message or "ABNORMAL" in message
    converged = bool(pg <= GRADIENT_TOLERANCE or (stalled and pg <= STALL_GRADIENT_TOLERANCE))
    theta = problem.expand(x)
    return LocalResult(
        theta=theta,
        objective=problem.objective(theta),
        success=converged,
        message=message,
        n_evaluations=n_eval,
        n_iterations=n_iter,
        projected_gradient=pg,
    )


def _screen_chunk(problem: _Problem, mesh, idx: dict, fixed_by_name: dict) -> np.ndarray:
    """Start vectors for grid points ``mesh`` (S, 2 or 3): the linear coefficients by least
    squares on the losses at each point's exponents (variable projection)."""
    form = problem.form
    alpha, beta = mesh[:, 0:1], mesh[:, 1:2]
    n_x = np.exp(-alpha * problem.log_n)  # (S, n)
    d_x = np.exp(-beta * problem.log_d)
    columns = {"log_c": np.ones_like(n_x), "log_a": n_x, "log_b": d_x}
    if form == "moe":
        columns["log_g"] = np.exp(-mesh[:, 2:3] * problem.log_g) * n_x
    names = list(columns)
    loss = np.exp(problem.log_loss)
    # Fixed linear coefficients move to the left-hand side.
    target = np.broadcast_to(loss, n_x.shape).copy()
    free_cols = []
    for name in names:
        if name in fixed_by_name:
            target -= math.exp(fixed_by_name[name]) * columns[name]
        else:
            free_cols.append(name)
    theta = np.zeros((mesh.shape[0], len(problem.names)))
    for name, v in fixed_by_name.items():
        theta[:, idx[name]] = v
    theta[:, idx["alpha"]] = mesh[:, 0]
    theta[:, idx["beta"]] = mesh[:, 1]
    if form == "moe":
        theta[:, idx["gamma"]] = mesh[:, 2]
    if free_cols:
        x = np.stack([columns[c] for c in free_cols], axis=2)  # (S, n, m)
        norm = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
        xs = x / norm
        gram = np.einsum("snm,snk->smk", xs, xs) + 1e-10 * np.eye(len(free_cols))
        rhs = np.einsum("snm,sn->sm", xs, target)
        try:
            coef = np.linalg.solve(gram, rhs[..., None])[..., 0] / norm[:, 0, :]
        except np.linalg.LinAlgError:  # pragma: no cover - the ridge keeps gram regular
            coef = np.ones((mesh.shape[0], len(free_cols)))
        # A negative least-squares coefficient means that term is not wanted: make it small.
        floor = 1e-3 * np.maximum(np.abs(coef).max(axis=1, keepdims=True), 1e-12)
        coef = np.maximum(coef, floor)
        for k, name in enumerate(free_cols):
            theta[:, idx[name]] = np.clip(np.log(coef[:, k]), *LOG_BOUNDS)
    return theta


#: Grid points x runs screened at once (~20 float arrays of this size live together: 160 MB).
SCREEN_CELLS = 1_000_000


def screening_starts(problem: _Problem, runs: Runs, count: int = DEFAULT_STARTS) -> np.ndarray:
    """Starting points: the best ``count`` distinct points of an exponent grid.

    For each combination of exponents (alpha, beta[, gamma]) on a grid, the linear coefficients
    (c, a, b[, g]) follow from least squares on the losses (variable projection); the Huber
    objective then ranks the combinations. Fixed parameters keep their values.
    """
    form = problem.form
    idx = {n: j for j, n in enumerate(problem.names)}
    fixed_by_name = {problem.names[j]: v for j, v in problem.fixed.items()}
    g_alpha, g_beta, g_gamma = _EXP_GRID[form]
    axes = [
        np.array([fixed_by_name["alpha"]]) if "alpha" in fixed_by_name else g_alpha,
        np.array([fixed_by_name["beta"]]) if "beta" in fixed_by_name else g_beta,
    ]
    if form == "moe":
        axes.append(np.array([fixed_by_name["gamma"]]) if "gamma" in fixed_by_name else g_gamma)
    mesh = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    # The grid is screened in chunks: every array below is (grid points, runs), and a whole
    # grid of 900 points on 24,000 runs took 10 GB; a chunk holds about SCREEN_CELLS cells.
    chunk = max(1, SCREEN_CELLS // max(1, len(runs)))
    thetas, values = [], []
    for lo in range(0, mesh.shape[0], chunk):
        theta_c = _screen_chunk(problem, mesh[lo : lo + chunk], idx, fixed_by_name)
        thetas.append(theta_c)
        values.append(problem.objective_many(theta_c))
    theta = np.concatenate(thetas)
    values = np.concatenate(values)
    order = np.argsort(values, kind="stable")
    # Greedy distinct picks: skip points within one grid step (in every exponent) of a pick.
    steps = np.array([max(np.diff(a).min(), 1e-12) if a.size > 1 else 1.0 for a in axes])
    chosen = []
    for i in order:
        if len(chosen) >= count:
            break
        if all(np.any(np.abs(mesh[i] - mesh[j]) > 1.01 * steps) for j in chosen):
            chosen.append(i)
    return theta[chosen]


@dataclass(frozen=True)
class WorstRun:
    """A run the law fits badly: observed vs predicted loss (nats)."""

    label: str
    params: float
    tokens: float
    granularity: float | None
    loss: float
    predicted: float
    residual: float

    def to_dict(self) -> dict:
        out = {
            "label": self.label,
            "params": self.params,
            "tokens": self.tokens,
            "loss": self.loss,
            "predicted": self.predicted,
            "residual": self.residual,
        }
        if self.granularity is not None:
            out["granularity"] = self.granularity
        return out


@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted law and how well it fits (lmfit-style: the data, not a report).

    Attributes
    ----------
    form : {"moe", "dense"}
    coefficients : dict
        The law's coefficients ``a, alpha, b, beta[, g, gamma], c`` (linear, as in SPEC.md §2).
    success : bool
        True when the best local run converged (projected gradient below tolerance).
    message : str
        What the optimiser said, plus our verdict.
    objective : float
        The objective at the optimum (Huber sum + weight decay), in log-loss units.
    rmse : float
        Root-mean-square error of the predicted loss, nats per token.
    r2 : float
        Coefficient of determination of the predicted loss.
    """

    form: str
    coefficients: dict
    theta: np.ndarray
    success: bool
    message: str
    n_evaluations: int
    n_starts: int
    objective: float
    rmse: float
    r2: float
    n_runs: int
    huber_delta: float
    weight_decay: float
    objective_name: str
    fixed: dict
    at_bound: tuple
    worst_runs: tuple
    predicted: np.ndarray
    projected_gradient: float
    local_objectives: tuple = field(default=())
    stop_reason: str = ""

    @property
    def law_form(self) -> str:
        return LAW_FORMS[self.form]

    def to_dict(self) -> dict:
        return {
            "law_form": self.law_form,
            "coefficients": dict(self.coefficients),
            "objective": self.objective,
            "rmse": self.rmse,
            "r2": self.r2,
            "n_runs": self.n_runs,
            "success": self.success,
            "message": self.message,
            "projected_gradient": self.projected_gradient,
            "n_evaluations": self.n_evaluations,
            "n_starts": self.n_starts,
            "objective_name": self.objective_name,
            "huber_delta": self.huber_delta,
            "weight_decay": self.weight_decay,
            "fixed": dict(self.fixed),
            "at_bound": list(self.at_bound),
            "worst_runs": [w.to_dict() for w in self.worst_runs],
        }


def _fixed_indices(fixed: dict | None, form: str) -> dict:
    out = {}
    names = PARAMETERS[form]
    for key, value in (fixed or {}).items():
        if key not in COEFFICIENTS[form]:
            raise InputError(
                f"fixed {key}=...: {key!r} is not a coefficient of the {form} form; "
                f"use one of {', '.join(COEFFICIENTS[form])}",
                param="fixed",
            )
        pname = f"log_{key}" if key in LOG_COEFFICIENTS else key
        out[names.index(pname)] = _log_or_raise(key, float(value))
    return out


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n:,} runs"


def _check_identifiable(runs: Runs, form: str, fixed_idx: dict) -> None:
    names = PARAMETERS[form]
    free = [n for j, n in enumerate(names) if j not in fixed_idx]
    n_free = len(free)
    if n_free == 0:
        raise InputError("every coefficient is fixed: nothing to fit")
    if len(runs) < n_free + 1:
        raise InputError(
            f"runs file {runs.source!r} has {_runs(len(runs))} for {n_free} free "
            f"coefficients; give at least {n_free + 1} runs (or fix some with the fixed "
            f"argument)",
            mentions=("fixed",),
        )
    for label, values, params in (
        ("params", runs.params, ("log_a", "alpha")),
        ("tokens", runs.tokens, ("log_b", "beta")),
    ):
        if any(p in free for p in params) and np.unique(values).size < 2:
            raise InputError(
                f"runs file {runs.source!r}: every run has the same {label}, so "
                f"the law's {label} term cannot be fitted; vary {label} across runs"
            )
    if form == "moe":
        distinct = np.unique(np.round(runs.granularity, 9)).size
        g_free = [p for p in ("log_a", "log_g", "gamma") if p in free]
        if distinct < len(g_free):
            shown = ", ".join(p.replace("log_", "") for p in g_free)
            one = "one granularity value" if distinct == 1 else f"{distinct} granularity values"
            raise InputError(
                f"runs file {runs.source!r} has {one}, which cannot identify "
                f"{shown} separately; add runs at {len(g_free)} or more "
                f"granularities, fix coefficients (e.g. fixed gamma=0.58 and g=2.1), "
                f"or fit with form dense",
                mentions=("fixed", "form"),
            )


def _summary(runs: Runs, form: str, theta: np.ndarray, problem: _Problem, n_worst: int):
    predicted = np.exp(problem.predict_log(theta))
    err = predicted - runs.loss
    rmse = float(np.sqrt(np.mean(err * err)))
    ss_tot = float(np.sum((runs.loss - runs.loss.mean()) ** 2))
    r2 = float(1.0 - np.sum(err * err) / ss_tot) if ss_tot > 0 else float("nan")
    order = np.argsort(-np.abs(err), kind="stable")[:n_worst]
    worst = tuple(
        WorstRun(
            label=runs.labels[i],
            params=float(runs.params[i]),
            tokens=float(runs.tokens[i]),
            granularity=None
            if runs.granularity is None or form == "dense"
            else float(runs.granularity[i]),
            loss=float(runs.loss[i]),
            predicted=float(predicted[i]),
            residual=float(err[i]),
        )
        for i in order
    )
    return predicted, rmse, r2, worst


def _at_bound(problem: _Problem, theta: np.ndarray) -> tuple:
    out = []
    for j in problem.free:
        lo, hi = EXPONENT_BOUNDS if not problem.names[j].startswith("log_") else LOG_BOUNDS
        if theta[j] <= lo + 1e-9 or theta[j] >= hi - 1e-9:
            out.append(COEFFICIENTS[problem.form][j])
    return tuple(out)


def fit_law(
    runs: Runs,
    form: str = "moe",
    *,
    objective: str = "chinchilla",
    huber_delta: float | None = None,
    weight_decay: float | None = None,
    fixed: dict | None = None,
    n_starts: int = DEFAULT_STARTS,
    starts=None,
    n_worst: int = 5,
) -> FitResult:
    """Fit the law's coefficients to runs (SPEC.md §5).

    Parameters
    ----------
    runs : Runs
        The training runs (N in parameters, D in tokens, loss in nats per token).
    form : {"moe", "dense"}
        ``moe``: the fine-grained MoE law (needs granularity); ``dense``: the Chinchilla form.
    objective : {"chinchilla", "paper"}
        Default Huber threshold and weight decay: Chinchilla (δ = 1e-3, no decay) or the
        paper's (δ = 0.1, weight decay 5e-4).
    huber_delta, weight_decay : float, optional
        Override the objective's δ (log-loss units) and weight decay.
    fixed : dict, optional
        Coefficients held at given values, in the law's names, e.g. ``{"gamma": 0.58}``.
    n_starts : int
        Distinct starting points refined with L-BFGS-B (from the screening grid).
    starts : array, optional
        Explicit starting parameter vectors (S, P) instead of the screening grid.
    n_worst : int
        How many worst-fitted runs to report.

    Returns
    -------
    FitResult
        ``success`` is False (not an exception) when the optimiser did not converge.

    Raises
    ------
    InputError
        Too few runs for the free coefficients, or coefficients that cannot be identified
        (the MoE form with a single granularity value), or bad options.
    """
    if form not in PARAMETERS:
        raise InputError(f"law form {form!r} is unknown; use moe or dense")
    if objective not in OBJECTIVES:
        raise InputError(f"objective {objective!r} is unknown; use one of {', '.join(OBJECTIVES)}")
    d0, wd0 = OBJECTIVES[objective]
    delta = d0 if huber_delta is None else float(huber_delta)
    wd = wd0 if weight_decay is None else float(weight_decay)
    # Residuals are of log-loss (well below 1): a threshold of 10 is already least squares, and
    # a weight decay past 1000 leaves nothing of the data; beyond, the objective overflows.
    if not 0 < delta <= MAX_HUBER_DELTA:
        raise InputError(
            f"huber_delta {delta:g}: must be above 0 and at most {MAX_HUBER_DELTA:g}, e.g. 1e-3",
            param="huber_delta",
        )
    if not 0 <= wd <= MAX_WEIGHT_DECAY:
        raise InputError(
            f"weight_decay {wd:g}: must be from 0 to {MAX_WEIGHT_DECAY:g}, e.g. 5e-4",
            param="weight_decay",
        )
    if form == "moe" and runs.granularity is None:
        raise InputError(
            f"runs file {runs.source!r} has no granularity column: the MoE law "
            f"needs one (or fit with form dense)",
            mentions=("form",),
        )
    fixed_idx = _fixed_indices(fixed, form)
    _check_identifiable(runs, form, fixed_idx)
    problem = _Problem(runs, form, delta, wd, fixed_idx)
    if starts is None:
        starts = screening_starts(problem, runs, max(1, int(n_starts)))
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    locals_ = [local_minimize(problem, s) for s in starts]
    best = min(locals_, key=lambda r: (r.objective, not r.success))
    theta = best.theta
    predicted, rmse, r2, worst = _summary(runs, form, theta, problem, n_worst)
    at_bound = _at_bound(problem, theta)
    why = _describe(best.message)
    success = best.success
    if success and not (math.isfinite(rmse) and math.isfinite(best.objective)):
        # e.g. a loss of 1e300 in the runs: the optimiser "converged" on residuals that
        # overflow; that is no fit
        success = False
        message = (
            f"did not fit: the residuals overflow (RMSE {rmse}); check the runs' losses "
            f"(from {float(runs.loss.min()):.4g} to {float(runs.loss.max()):.4g} nats)"
        )
    elif success:
        message = (
            f"converged: projected gradient {best.projected_gradient:.2g}; L-BFGS-B "
            f"stopped because {why}"
        )
    else:
        message = (
            f"did not converge: L-BFGS-B stopped because {why}, with the projected "
            f"gradient at {best.projected_gradient:.2g}, above the tolerance "
            f"{GRADIENT_TOLERANCE:g}"
        )
    coefficients = theta_to_coefficients(theta, form)
    return FitResult(
        form=form,
        coefficients=coefficients,
        theta=theta,
        success=success,
        message=message,
        n_evaluations=sum(r.n_evaluations for r in locals_),
        n_starts=len(locals_),
        objective=best.objective,
        rmse=rmse,
        r2=r2,
        n_runs=len(runs),
        huber_delta=delta,
        weight_decay=wd,
        objective_name=objective,
        fixed={COEFFICIENTS[form][j]: coefficients[COEFFICIENTS[form][j]] for j in fixed_idx},
        at_bound=at_bound,
        worst_runs=worst,
        predicted=predicted,
        projected_gradient=best.projected_gradient,
        local_objectives=tuple(sorted(r.objective for r in locals_)),
        stop_reason=why,
    )


#: A fitted term smaller than this fraction of the smallest observed loss, at every run, has
#: collapsed: its coefficient went to (near) zero, effectively its lower bound.
NEGLIGIBLE_TERM = 1e-4
#: Below this R² the law explains little of the runs' loss variation.
POOR_R2 = 0.9


def quality_warnings(result: FitResult, runs: Runs) -> list[str]:
    """Plain-language warnings about a fit that converged to something the runs do not support.

    - a linear coefficient (a, b, g, c) whose term is negligible at every run: it collapsed
      towards its lower bound of 0 (e.g. ``c = 1e-10``), so the runs do not determine it;
    - a low R² (below :data:`POOR_R2`), naming the run that dominates the error when one does.
    Coefficients on the optimiser's box bounds are reported by ``result.at_bound``.
    """
    from .laws import chinchilla_terms, fine_grained_terms

    k = result.coefficients
    if result.form == "dense":
        irr, p, d = chinchilla_terms(runs.params, runs.tokens, **k)
        terms = {"a": p, "b": d, "c": irr}
    else:
        irr, p, d = fine_grained_terms(runs.params, runs.tokens, runs.granularity, **k)
        g_part = (
            k["g"]
            / np.asarray(runs.granularity, float) ** k["gamma"]
            / np.asarray(runs.params, float) ** k["alpha"]
        )
        terms = {"a": p - g_part, "b": d, "g": g_part, "c": irr}
    names = {
        "a": "parameter term a/N^alpha",
        "b": "data term b/D^beta",
        "g": "granularity term g/(G^gamma N^alpha)",
        "c": "irreducible loss c",
    }
    floor = NEGLIGIBLE_TERM * float(np.min(runs.loss))
    out = []
    for coef, term in terms.items():
        if coef in result.fixed or coef in result.at_bound:
            continue
        largest = float(np.max(np.abs(term)))
        if largest < floor:
            out.append(
                f"{coef} = {k[coef]:.3g} is stuck at its lower bound (0): the "
                f"{names[coef]} is at most {largest:.2g} nats on these runs, so they do "
                f"not determine it; fix it with --fix {coef}=VALUE or add runs that "
                f"constrain it"
            )
    r2 = result.r2
    if np.isfinite(r2) and r2 < POOR_R2:
        msg = (
            f"R^2 {r2:.3f}: the law explains little of the variation of the runs' loss; "
            f"the fit is poor"
        )
        err = np.asarray(result.predicted) - runs.loss
        sq = err * err
        i = int(np.argmax(sq))
        if sq.sum() > 0 and sq[i] > 0.5 * sq.sum():
            msg += (
                f": run {runs.labels[i]} alone is off by {err[i]:+.3g} nats (a loss spike or "
                f"a failed run?); drop it (e.g. --drop-highest 1) and refit"
            )
        out.append(msg)
    return out


# --------------------------------------------------------------------------------------------
# Uncertainty: bootstrap and hold-out
# --------------------------------------------------------------------------------------------

PERCENTILES = (10.0, 50.0, 90.0)
#: Most bootstrap refits one call may ask for (each is an L-BFGS-B run).
MAX_BOOTSTRAP = 10_000


def _percentiles(values) -> dict:
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"p10": None, "p50": None, "p90": None}
    p = np.percentile(finite, PERCENTILES)
    return {"p10": float(p[0]), "p50": float(p[1]), "p90": float(p[2])}


#: Resample x run cells refitted at once by the batched Newton iteration of the bootstrap
#: (about 20 float arrays of this size live together, 40 MB, besides the runs' outer products,
#: 10 x runs x 28 floats for the MoE form; measured: 30 resamples of 24,000 MoE runs peak at
#: 230 MB with the fit itself).
BOOTSTRAP_CELLS = 250_000
#: Newton iterations per resample before it falls back to L-BFGS-B. The Chinchilla resamples
#: settle within 30; a Huber threshold far below the residuals (δ = 1e-3 on noisy MoE runs)
#: makes the objective nearly piecewise linear, and Newton crawls: those go to L-BFGS-B after
#: a batched effort costing a fraction of one L-BFGS-B refit per resample.
NEWTON_MAX_ITERATIONS = 50
#: A resample has converged when its Hessian is positive definite and the Newton decrement
#: ½ gᵀH⁻¹g (the decrease a full step promises) is below this fraction of its objective: the
#: objective is then within about this fraction of the local minimum's.
NEWTON_DECREMENT = 1e-13
#: Levenberg-Marquardt damping: the first after a refused step, and the largest before a
#: resample is handed to L-BFGS-B, as multiples of the Hessian's largest |eigenvalue|.
NEWTON_FIRST_DAMPING = 1e-6
NEWTON_MAX_DAMPING = 1e6


@dataclass(frozen=True, eq=False)
class NewtonRefit:
    """Refits of one problem under many weight vectors (see :func:`newton_refit`).

    ``theta`` (S, P) full parameter vectors, ``objective`` (S,) the unscaled objectives,
    ``converged`` (S,) whether each resample's Newton iteration converged (where it did not,
    ``theta`` is where it stopped), ``n_iterations`` the iterations of the slowest resample and
    ``n_evaluations`` the objective evaluations summed over resamples.
    """

    theta: np.ndarray
    objective: np.ndarray
    converged: np.ndarray
    n_iterations: int
    n_evaluations: int


class _BatchObjective:
    """:class:`_Problem`'s objective for many weight vectors at once, with the exact Hessian.

    The terms are linear in the free parameters, ``z_k = A_k θ + z0_k`` per run (fixed
    parameters fold into ``z0``). The prediction p = LSE_k(z_k) has gradient G = Σ_k s_k A_k and
    Hessian Σ_k s_k A_k A_kᵀ − G Gᵀ (s: the softmax of the terms), so the objective
    Σ w h(p − y) has gradient Σ w ψ G and Hessian
    Σ_k Σ_l [c s_k s_l + [k = l] w ψ s_k] A_k A_lᵀ, with ψ = clip(r, ±δ), c = w ([|r| ≤ δ] − ψ).
    Each (k, l) block is one matrix product with the precomputed outer products A_k A_lᵀ.
    """

    def __init__(self, problem: _Problem):
        self.problem = problem
        n = problem.log_loss.shape[0]
        full = np.zeros((len(problem.terms), n, len(problem.names)))
        for k, (const, lin) in enumerate(problem.terms):
            full[k, :, const] = 1.0
            for j, x in lin:
                full[k, :, j] -= x
        fixed = np.array(sorted(problem.fixed), dtype=int)
        self.z0 = (
            full[:, :, fixed] @ problem.full[fixed] if fixed.size else np.zeros(full.shape[:2])
        )
        a_mat = full[:, :, problem.free]  # (K, n, F)
        self.n_free = f = a_mat.shape[2]
        self.a_t = np.ascontiguousarray(np.swapaxes(a_mat, 1, 2))  # (K, F, n)
        self.a_cat = a_mat.reshape(-1, f)  # (K n, F): the gradient's map
        self.upper = np.triu_indices(f)
        self.pairs = [(k, m) for k in range(a_mat.shape[0]) for m in range(k, a_mat.shape[0])]
        outer = []
        for k, m in self.pairs:
            o = a_mat[k][:, :, None] * a_mat[m][:, None, :]
            if k != m:
                o = o + np.swapaxes(o, 1, 2)
            outer.append(o[:, self.upper[0], self.upper[1]])
        self.outer = np.concatenate(outer)  # (pairs n, F(F+1)/2)
        self.fixed_sq = float(sum(v * v for v in problem.fixed.values()))

    def scale(self, weights):
        """Per weight vector, the scale of :meth:`_Problem.set_weights`."""
        p = self.problem
        r = np.median(p.log_loss) - p.log_loss
        a = np.abs(r)
        h = np.where(a <= p.delta, 0.5 * r * r, p.delta * (a - 0.5 * p.delta))
        return np.maximum(weights @ h, 1e-300)

    def value(self, theta, weights, scale, derivatives=False):
        """Scaled objective (S,) of each row of ``theta`` (S, F) under ``weights`` (S, n); with
        ``derivatives`` also the gradient (S, F) and Hessian (S, F, F)."""
        p = self.problem
        delta, wd = p.delta, p.weight_decay
        z = np.empty((self.a_t.shape[0], theta.shape[0], self.z0.shape[1]))
        for k in range(z.shape[0]):
            np.matmul(theta, self.a_t[k], out=z[k])
        z += self.z0[:, None]
        m = z.max(axis=0)
        e = np.exp(z - m)
        total = e.sum(axis=0)
        r = m + np.log(total) - p.log_loss
        absr = np.abs(r)
        inside = absr <= delta
        h = np.where(inside, 0.5 * r * r, delta * (absr - 0.5 * delta))
        f = (
            np.einsum("sn,sn->s", weights, h)
            + wd * (np.einsum("sf,sf->s", theta, theta) + self.fixed_sq)
        ) / scale
        if not derivatives:
            return f
        share = e / total  # (K, S, n)
        wpsi = weights * np.clip(r, -delta, delta)
        curv = weights * inside - wpsi
        ws = wpsi * share  # (K, S, n)
        n_res, n = theta.shape[0], r.shape[1]
        grad = np.swapaxes(ws, 0, 1).reshape(n_res, -1) @ self.a_cat + 2.0 * wd * theta
        coef = np.empty((n_res, len(self.pairs), n))
        for q, (k, mm) in enumerate(self.pairs):
            np.multiply(curv * share[k], share[mm], out=coef[:, q])
            if k == mm:
                coef[:, q] += ws[k]
        upper = coef.reshape(n_res, -1) @ self.outer
        hess = np.empty((n_res, self.n_free, self.n_free))
        hess[:, self.upper[0], self.upper[1]] = upper
        hess[:, self.upper[1], self.upper[0]] = upper
        hess[:, np.arange(self.n_free), np.arange(self.n_free)] += 2.0 * wd
        return f, grad / scale[:, None], hess / scale[:, None, None]


def newton_refit(
    problem: _Problem, theta0, weights, max_iterations: int | None = None
) -> NewtonRefit:
    """Minimise ``problem``'s objective under each row of ``weights`` (S, n) at once, from
    ``theta0``: Newton's method with the exact Hessian, damped (Levenberg-Marquardt on the
    Hessian's eigen-decomposition, negative curvature taken by its magnitude), vectorised over
    the rows.

    A row converges when its Hessian is positive definite, its Newton decrement is below
    :data:`NEWTON_DECREMENT` of its objective and its gradient below
    :data:`GRADIENT_TOLERANCE`. A step leaving the box counts as a step that raised the
    objective (more damping): a row whose optimum lies on a bound does not converge here, nor
    one that stalls; the caller refits those with L-BFGS-B.
    """
    if max_iterations is None:
        max_iterations = NEWTON_MAX_ITERATIONS
    weights = np.asarray(weights, dtype=float)
    n_res = weights.shape[0]
    batch = _BatchObjective(problem)
    lo = np.array([b[0] for b in problem.bounds])
    hi = np.array([b[1] for b in problem.bounds])
    theta = np.tile(np.clip(np.asarray(theta0, dtype=float)[problem.free], lo, hi), (n_res, 1))
    scale = batch.scale(weights)
    converged = np.zeros(n_res, dtype=bool)
    damping = np.zeros(n_res)
    growth = np.full(n_res, 2.0)
    active = np.arange(n_res)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        f, g, hess = batch.value(theta, weights, scale, derivatives=True)
        n_eval = n_res
        for iterations in range(max_iterations + 1):  # the last pass only checks
            lam, vec = np.linalg.eigh(hess)
            top = np.maximum(np.abs(lam).max(axis=1), 1e-300)
            vg = np.einsum("sfk,sf->sk", vec, g)
            positive = lam.min(axis=1) > 1e-15 * top
            decrement = 0.5 * np.sum(vg * vg / np.where(positive[:, None], lam, 1.0), axis=1)
            done = (
                positive
                & (decrement <= NEWTON_DECREMENT * np.abs(f))
                & (np.abs(g).max(axis=1) <= GRADIENT_TOLERANCE)
            )
            converged[active[done]] = True
            keep = (
                ~done
                & np.isfinite(f)
                & np.isfinite(decrement)
                & (damping[active] <= NEWTON_MAX_DAMPING * top)
            )
            if not keep.any() or iterations == max_iterations:
                break
            active, f, g, hess = active[keep], f[keep], g[keep], hess[keep]
            lam, vg, top = np.abs(lam[keep]), vg[keep], top[keep]
            u = -vg / (lam + damping[active][:, None] + 1e-300)
            step = np.einsum("sfk,sk->sf", vec[keep], u)
            predicted = -np.sum(vg * u + 0.5 * lam * u * u, axis=1)  # model decrease, > 0
            trial = theta[active] + step
            inside = np.all((trial >= lo) & (trial <= hi), axis=1)
            f_t = np.full(active.size, np.inf)
            if inside.any():
                f_t[inside] = batch.value(
                    trial[inside], weights[active[inside]], scale[active[inside]]
                )
            n_eval += int(inside.sum())
            ok = np.isfinite(f_t) & (f_t <= f)
            rho = (f - f_t) / predicted
            # Nielsen's rule: less damping after a good step, doubling growth after a bad one
            d, grow = damping[active], growth[active]
            d_ok = d * np.maximum(1.0 / 3.0, 1.0 - (2.0 * np.minimum(rho, 1.0) - 1.0) ** 3)
            damping[active] = np.where(
                ok,
                np.where(d_ok > 1e-15 * top, d_ok, 0.0),
                np.maximum(d * grow, NEWTON_FIRST_DAMPING * top),
            )
            growth[active] = np.where(ok, 2.0, grow * 2.0)
            acc = active[ok]
            if acc.size:
                theta[acc] = trial[ok]
                f[ok], g[ok], hess[ok] = batch.value(
                    theta[acc], weights[acc], scale[acc], derivatives=True
                )
                n_eval += acc.size
        f_all = batch.value(theta, weights, scale)
    full = np.tile(problem.full, (n_res, 1))
    full[:, problem.free] = theta
    return NewtonRefit(
        theta=full,
        objective=f_all * scale,
        converged=converged,
        n_iterations=iterations,
        n_evaluations=n_eval,
    )


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Coefficients refitted on resamples of the runs (drawn with replacement).

    Attributes
    ----------
    samples : dict
        Coefficient name -> array of the converged refits' values.
    n_samples : int
        Resamples drawn; ``n_failed`` of them did not converge and are left out of ``samples``.
    percentiles : dict
        Coefficient name -> ``{"p10", "p50", "p90"}``.
    n_fallback : int
        Resamples the batched Newton iteration did not settle, refitted with L-BFGS-B instead
        (those that failed there too are in ``n_failed``).
    """

    n_samples: int
    n_failed: int
    seed: int | None
    samples: dict
    percentiles: dict
    n_fallback: int = 0

    @property
    def n_converged(self) -> int:
        return self.n_samples - self.n_failed

    def to_dict(self) -> dict:
        return {
            "n_samples": self.n_samples,
            "n_failed": self.n_failed,
            "seed": self.seed,
            "n_fallback": self.n_fallback,
            "coefficients": {k: dict(v) for k, v in self.percentiles.items()},
        }


def bootstrap_fit(
    runs: Runs,
    result: FitResult,
    n_samples: int,
    rng: np.random.Generator,
    seed: int | None = None,
    progress=None,
    method: str = "newton",
) -> BootstrapResult:
    """Refit on ``n_samples`` resamples of the runs (with replacement), as the paper's App. C.

    Each refit starts from the full-data optimum (``result``, itself the best of the
    screening grid's starts), with the same objective and fixed coefficients: a resample is a
    small perturbation of the data, so its optimum lies in the same basin, and one warm-started
    local minimisation replaces the multi-start search. A resample is drawn as multinomial
    counts used as weights in the objective, which equals refitting on the duplicated runs.

    The local minimisation is a damped Newton iteration with the exact Hessian, vectorised over
    the resamples (:func:`newton_refit`, blocks of :data:`BOOTSTRAP_CELLS` resample x run
    cells); a resample it does not settle (an optimum on a bound, a stall) is refitted with
    L-BFGS-B as :func:`fit_law` does, and counted in ``n_fallback``.

    Parameters
    ----------
    runs : Runs
        The runs ``result`` was fitted on.
    result : FitResult
        The full-data fit.
    n_samples : int
        Number of resamples (1 to MAX_BOOTSTRAP).
    rng : numpy.random.Generator
        Source of the resamples (seed it for reproducible percentiles).
    seed : int, optional
        Recorded in the result only.
    progress : callable, optional
        Called as ``progress(done, total)`` for each refit, once its block is done (the CLI
        draws a progress bar).
    method : {"newton", "lbfgsb"}
        ``lbfgsb``: every resample with L-BFGS-B (the reference the Newton path is tested
        against; several times slower).

    Returns
    -------
    BootstrapResult
    """
    n_samples = int(n_samples)
    if not 1 <= n_samples <= MAX_BOOTSTRAP:
        raise InputError(
            f"n_samples {n_samples}: give between 1 and {MAX_BOOTSTRAP} resamples",
            param="n_samples",
        )
    if method not in ("newton", "lbfgsb"):
        raise InputError(f"bootstrap method {method!r} is unknown; use newton or lbfgsb")
    form = result.form
    fixed_idx = _fixed_indices(result.fixed, form)
    n = len(runs)
    problem = _Problem(runs, form, result.huber_delta, result.weight_decay, fixed_idx)
    p_uniform = np.full(n, 1.0 / n)
    block = 1 if method == "lbfgsb" else max(1, min(n_samples, BOOTSTRAP_CELLS // max(1, n)))
    thetas = []
    failed = fallback = 0
    for lo in range(0, n_samples, block):
        # resamples are drawn one at a time (the same draws as size=n_samples, without its
        # n_samples x n array: 10,000 x 24,000 runs would be 1.9 GB); a block at most
        # BOOTSTRAP_CELLS counts
        weights = np.stack(
            [rng.multinomial(n, p_uniform) for _ in range(min(block, n_samples - lo))]
        )
        if method == "newton":
            refit = newton_refit(problem, result.theta, weights)
            ok, theta = refit.converged, refit.theta
        else:
            ok, theta = np.zeros(len(weights), dtype=bool), np.zeros((len(weights), 0))
        for i, w in enumerate(weights):
            if ok[i]:
                thetas.append(theta[i])
                continue
            fallback += method == "newton"
            problem.set_weights(w)
            local = local_minimize(problem, result.theta, restarts=1)
            if local.success:
                thetas.append(local.theta)
            else:
                failed += 1
        if progress is not None:
            for k in range(lo, lo + len(weights)):
                progress(k + 1, n_samples)
    arr = np.array(thetas).reshape(-1, len(PARAMETERS[form]))
    samples = (
        theta_to_coefficients(arr, form)
        if len(arr)
        else {k: np.empty(0) for k in COEFFICIENTS[form]}
    )
    samples = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in samples.items()}
    return BootstrapResult(
        n_samples=n_samples,
        n_failed=failed,
        seed=seed,
        samples=samples,
        percentiles={k: _percentiles(v) for k, v in samples.items()},
        n_fallback=fallback,
    )


@dataclass(frozen=True, eq=False)
class HoldoutResult:
    """The paper's robustness check: refit without the lowest-loss runs, validate on them.

    ``validation_rmse`` is the RMSE of the predicted loss (nats) on the held-out runs, which
    are the largest-compute, lowest-loss runs: an honest test of extrapolation.
    """

    fraction: float
    n_train: int
    n_validation: int
    validation_rmse: float
    train_rmse: float
    validation_max_error: float
    fit: FitResult

    def to_dict(self) -> dict:
        return {
            "fraction": self.fraction,
            "n_train": self.n_train,
            "n_validation": self.n_validation,
            "validation_rmse": self.validation_rmse,
            "train_rmse": self.train_rmse,
            "validation_max_error": self.validation_max_error,
            "success": self.fit.success,
            "coefficients": dict(self.fit.coefficients),
        }


def holdout_fit(runs: Runs, fraction: float, form: str = "moe", **fit_options) -> HoldoutResult:
    """Refit without the ``fraction`` of runs with the lowest loss; validate on them.

    Parameters
    ----------
    runs : Runs
    fraction : float
        Share of the runs held out, in (0, 1); the paper used 0.2.
    form : {"moe", "dense"}
    **fit_options
        Passed to :func:`fit_law` (objective, huber_delta, weight_decay, fixed, n_starts).

    Returns
    -------
    HoldoutResult
    """
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise InputError(
            f"fraction {fraction:g}: give a fraction between 0 and 1, e.g. 0.2", param="fraction"
        )
    n = len(runs)
    n_val = max(1, int(round(fraction * n)))
    if n_val >= n:
        raise InputError(
            f"fraction {fraction:g} leaves no runs to fit on ({_runs(n)})", param="fraction"
        )
    order = np.argsort(runs.loss, kind="stable")
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    train, val = runs.subset(train_idx), runs.subset(val_idx)
    try:
        fitted = fit_law(train, form, **fit_options)
    except InputError as exc:  # e.g. too few runs left: say that the hold-out did it
        raise InputError(
            f"fraction {fraction:g} leaves {_runs(len(train))} of {_runs(n)} to "
            f"fit on, too few: {exc}; use a smaller fraction",
            param="fraction",
            mentions=exc.mentions,
        ) from None
    predicted = predict_loss(fitted.coefficients, form, val)
    err = predicted - val.loss
    return HoldoutResult(
        fraction=fraction,
        n_train=len(train),
        n_validation=len(val),
        validation_rmse=float(np.sqrt(np.mean(err * err))),
        train_rmse=fitted.rmse,
        validation_max_error=float(np.max(np.abs(err))),
        fit=fitted,
    )


def predict_loss(coefficients: dict, form: str, runs: Runs) -> np.ndarray:
    """The law's loss (nats) at the runs' N, D (and G for the MoE form)."""
    from .laws import chinchilla_loss, fine_grained_loss

    if form == "dense":
        return chinchilla_loss(runs.params, runs.tokens, **coefficients)
    return fine_grained_loss(runs.params, runs.tokens, runs.granularity, **coefficients)


# --------------------------------------------------------------------------------------------
# Compute-optimal allocation of fitted coefficients (and of bootstrap samples)
# --------------------------------------------------------------------------------------------


def _law(
    form: str,
    coefficients: dict,
    expansion_rate: float,
    c_f: float,
    c_r: float,
    aspect_ratio: float,
    name: str = "fitted",
):
    from .laws import Law

    return Law(
        name=name,
        form=LAW_FORMS[form],
        coefficients=dict(coefficients),
        c_f=c_f,
        c_r=c_r if form == "moe" else 0.0,
        expansion_rate=expansion_rate if form == "moe" else None,
        aspect_ratio=aspect_ratio,
        params_meaning="total_non_embedding" if form == "moe" else "non_embedding",
    )


def compute_optimal(
    form: str,
    coefficients: dict,
    flops,
    *,
    expansion_rate: float = 64.0,
    c_f: float = 6.0,
    c_r: float = 14.0,
    aspect_ratio: float = 64.0,
    granularities=None,
):
    """Compute-optimal N, D (and G) for coefficient sets at FLOPs budgets.

    Parameters
    ----------
    form : {"moe", "dense"}
    coefficients : dict
        Name -> float, or name -> array of S samples (bootstrap).
    flops : sequence of float
        Budgets (FLOPs), B of them.
    expansion_rate, c_f, c_r, aspect_ratio : float
        The MoE setting (SPEC.md §1, §3); the dense form uses F = c_f·N·D only.
    granularities : sequence of float, optional
        Candidate G for the MoE form (the planner's default: powers of two 1..256).

    Returns
    -------
    dict
        ``params``, ``tokens``, ``granularity``: arrays (B,) for scalar coefficients, (S, B) for
        samples. For the dense form N* = G (F/c_f)^(β/(α+β)), G = (αa/(βb))^(1/(α+β)),
        D* = F/(c_f N*) (Hoffmann et al. 2022); for the MoE form the planner's frontier
        (moeplan.plan) with the router's FLOPs.
    """
    f = np.asarray(flops, dtype=float).reshape(-1)
    k = {name: np.asarray(v, dtype=float) for name, v in coefficients.items()}
    scalar = all(v.ndim == 0 for v in k.values())
    if form == "dense":
        from .laws import chinchilla_optimum

        n, d = chinchilla_optimum(
            f, *(k[x][..., None] for x in ("a", "alpha", "b", "beta")), c_f=c_f
        )
        return {"params": n, "tokens": d, "granularity": None}
    from .plan.solve import frontier

    if scalar:
        fr = frontier(
            _law(form, {n: float(v) for n, v in k.items()}, expansion_rate, c_f, c_r, aspect_ratio),
            f,
            granularities,
        )
        return {
            "params": np.asarray(fr.n_total),
            "tokens": np.asarray(fr.tokens),
            "granularity": np.asarray(fr.granularity),
        }
    size = next(iter(k.values())).shape[0]
    out = {key: np.empty((size, f.size)) for key in ("params", "tokens", "granularity")}
    for i in range(size):
        fr = frontier(
            _law(
                form, {n: float(v[i]) for n, v in k.items()}, expansion_rate, c_f, c_r, aspect_ratio
            ),
            f,
            granularities,
        )
        out["params"][i] = fr.n_total
        out["tokens"][i] = fr.tokens
        out["granularity"][i] = fr.granularity
    return out


def real_optimal_granularity(
    coefficients: dict,
    flops,
    *,
    expansion_rate: float = 64.0,
    c_f: float = 6.0,
    c_r: float = 14.0,
    aspect_ratio: float = 64.0,
    g_lo: float = 1.0,
    g_hi: float = 256.0,
) -> np.ndarray:
    """The real-valued compute-optimal G (MoE form) in [g_lo, g_hi], vectorised over budgets
    and coefficient samples: arrays (B,) for scalar coefficients, (S, B) for samples.

    The power-of-two candidates hide how far a sample's optimum is from its neighbours (all
    samples may pick 16 while the real optimum spreads from 12 to 30): report this one too.
    """
    import dataclasses

    from .plan.solve import resolve, solve

    lnf = np.log(np.asarray(flops, dtype=float).reshape(-1))
    k = {name: np.asarray(v, dtype=float) for name, v in coefficients.items()}
    scalar = all(v.ndim == 0 for v in k.values())
    setup = resolve(
        _law(
            "moe",
            {n: float(np.ravel(v)[0]) for n, v in k.items()},
            expansion_rate,
            c_f,
            c_r,
            aspect_ratio,
        )
    )
    if not scalar:  # samples along axis 0, budgets along axis 1
        setup = dataclasses.replace(setup, **{n: v.reshape(-1, 1) for n, v in k.items()})
        lnf = np.broadcast_to(lnf, (next(iter(k.values())).shape[0], lnf.size))

    def loss(ln_g):
        return solve(setup, lnf, np.exp(ln_g)).loss

    # golden-section search over ln G, every sample and budget at once (the best loss is
    # unimodal in G: the router's cost rises while the g/G^gamma gain saturates)
    inv = (math.sqrt(5.0) - 1.0) / 2.0
    a = np.full(lnf.shape, math.log(g_lo))
    b = np.full(lnf.shape, math.log(g_hi))
    c1, c2 = b - inv * (b - a), a + inv * (b - a)
    f1, f2 = loss(c1), loss(c2)
    for _ in range(100):
        if np.all(b - a < 1e-6):
            break
        left = f1 <= f2
        b, a = np.where(left, c2, b), np.where(left, a, c1)
        new = np.where(left, b - inv * (b - a), a + inv * (b - a))
        fn = loss(new)
        c2, f2, c1, f1 = (
            np.where(left, c1, new),
            np.where(left, f1, fn),
            np.where(left, new, c2),
            np.where(left, fn, f2),
        )
    best, best_loss = 0.5 * (a + b), loss(0.5 * (a + b))
    for end in (math.log(g_lo), math.log(g_hi)):  # the optimum may sit on a bound
        end_loss = loss(np.full(lnf.shape, end))
        best = np.where(end_loss < best_loss, end, best)
        best_loss = np.minimum(end_loss, best_loss)
    return np.exp(best)


def optimum_table(
    form: str, coefficients: dict, flops, bootstrap: BootstrapResult | None = None, **setting
) -> list:
    """Per budget: the compute-optimal N, D (and G), with bootstrap percentiles when given.

    Returns a list of ``{"flops", "params": {"value"[, "p10", "p50", "p90"]}, "tokens": ...,
    "granularity": ..., "granularity_real": ...}`` (the granularities only for the MoE form;
    ``granularity`` is the best power of two, ``granularity_real`` the real-valued optimum).
    """
    f = np.asarray(flops, dtype=float).reshape(-1)
    point = compute_optimal(form, coefficients, f, **setting)
    sampled = None
    if bootstrap is not None and bootstrap.n_converged:
        sampled = compute_optimal(form, bootstrap.samples, f, **setting)
    keys = ("params", "tokens") + (("granularity",) if form == "moe" else ())
    if form == "moe":
        point["granularity_real"] = real_optimal_granularity(coefficients, f, **setting)
        if sampled is not None:
            sampled["granularity_real"] = real_optimal_granularity(bootstrap.samples, f, **setting)
        keys += ("granularity_real",)
    rows = []
    for j, budget in enumerate(f):
        row = {"flops": float(budget)}
        for key in keys:
            entry = {"value": float(np.asarray(point[key]).reshape(-1)[j])}
            if sampled is not None:
                entry.update(_percentiles(sampled[key][:, j]))
            row[key] = entry
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Writing a fitted law
# --------------------------------------------------------------------------------------------

#: Header of the parameter column in Hoffmann et al.'s Chinchilla runs (their "Model Size"
#: counts every parameter, embeddings included).
CHINCHILLA_PARAMS_HEADER = "model size"


def params_meaning_for(form: str, columns: dict | None = None) -> str:
    """What N of the runs means, for the law file: ``total_with_embedding`` for dense runs
    whose parameter column is the Chinchilla data's "Model Size" (Hoffmann et al. counted all
    parameters), else the law form's own convention."""
    if form == "moe":
        return "total_non_embedding"
    header = str((columns or {}).get("params", "")).strip().lower()
    return "total_with_embedding" if header == CHINCHILLA_PARAMS_HEADER else "non_embedding"


def fitted_law_mapping(
    result: FitResult,
    runs: Runs,
    name: str,
    *,
    expansion_rate: float = 64.0,
    c_f: float = 6.0,
    c_r: float = 14.0,
    aspect_ratio: float = 64.0,
    bootstrap: BootstrapResult | None = None,
    provenance: dict | None = None,
    description: str | None = None,
    params_meaning: str | None = None,
) -> dict:
    """A coefficient-set mapping in the shipped schema (see moeplan.coefficients).

    Validate and load it with :func:`moeplan.coefficients.law_from_mapping`. The fitted range is
    the runs' range; bootstrap samples (converged refits) go under ``bootstrap``.
    ``params_meaning`` (see :func:`params_meaning_for`) defaults to the form's convention.
    """
    moe = result.form == "moe"
    mapping = {
        "name": name,
        "form": result.law_form,
        "description": description
        or (f"fitted by moeplan fit on {len(runs)} runs from {runs.source}"),
        "coefficients": {k: float(v) for k, v in result.coefficients.items()},
        "variables": {
            "params": params_meaning or params_meaning_for(result.form),
            "tokens": "training_tokens",
        },
        "flops": {
            "c_f": float(c_f),
            "c_r": float(c_r) if moe else 0.0,
            "aspect_ratio": float(aspect_ratio),
        },
        "fitted_range": {
            "params": [float(runs.params.min()), float(runs.params.max())],
            "tokens": [float(runs.tokens.min()), float(runs.tokens.max())],
        },
        "comparable_with": [],
        "citation": "",
    }
    if moe:
        mapping["flops"]["expansion_rate"] = float(expansion_rate)
        mapping["fitted_range"]["granularity"] = [
            float(runs.granularity.min()),
            float(runs.granularity.max()),
        ]
        mapping["fitted_range"]["expansion_rate"] = [float(expansion_rate)] * 2
    if bootstrap is not None and bootstrap.n_converged:
        mapping["bootstrap"] = {k: [float(x) for x in v] for k, v in bootstrap.samples.items()}
    if provenance:
        mapping["provenance"] = dict(provenance)
    return mapping
