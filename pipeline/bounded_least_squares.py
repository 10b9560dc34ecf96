"""Least-norm solutions of ``A x = b`` within bounds, for many small problems at once.

Each frame ``f`` solves ``min ½‖x‖²  s.t.  A_f x = b_f,  lower ≤ x ≤ upper``. Its dual is smooth
and concave: for multipliers ``λ`` the minimiser over the box is ``x(λ) = clip(A_fᵀ λ)`` and the
dual gradient is ``b_f − A_f x(λ)``. A semismooth Newton method on the dual, with generalized
Hessian ``A_f D A_fᵀ`` (``D`` marks the free entries of ``x``) and an Armijo line search, finds the
active set in a few iterations and then solves exactly; every frame steps together (numpy batches).
Near the solution the dual's increase falls below the round-off of its value, where Armijo's test
can no longer see it; there a step that halves the equality residual is accepted too (a Newton
step near the root does), so a frame converges to the round-off floor of ``A x`` rather than
stalling just above it.
At any ``λ``, ``x(λ)`` is within the bounds and stationary, so the equality residual alone measures
convergence. ``A_f D A_fᵀ`` must stay invertible, which unbounded columns spanning every row (the
reserve and residual actuators) guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Armijo sufficient-decrease fraction and the most step halvings tried per iteration.
_ARMIJO = 1e-4
_MAX_HALVINGS = 40
# Where the full step's predicted dual increase is below this fraction of the dual's magnitude
# (a few thousand ulps: its round-off), a step is also accepted when it shrinks ‖b − A x‖ to
# _RESIDUAL_DECREASE of it or less.
_ROUND_OFF = 1e-12
_RESIDUAL_DECREASE = 0.5
# Relative ridge added to the generalized Hessian (far below any reserve's optimal force squared).
_RIDGE = 1e-13


@dataclass(frozen=True)
class BoundedLeastNormSolution:
    """Result of :func:`solve_bounded_least_norm`.

    Attributes
    ----------
    x
        ``(n_frames, n)`` solutions (the last iterate where a frame did not converge).
    converged
        ``(n_frames,)`` bool: ``‖A x − b‖∞ ≤ tolerance·max(1, ‖b‖∞)``.
    iterations
        Newton iterations taken by the slowest frame.
    """

    x: np.ndarray
    converged: np.ndarray
    iterations: int


def solve_bounded_least_norm(matrix: np.ndarray, target: np.ndarray, lower: np.ndarray, upper: np.ndarray, *,
                             tolerance: float = 1e-12, max_iterations: int = 100) -> BoundedLeastNormSolution:
    """Solve ``min ½‖x‖²  s.t.  A x = b,  lower ≤ x ≤ upper`` frame by frame.

    Parameters
    ----------
    matrix
        ``(n_frames, m, n)`` constraint matrices ``A``.
    target
        ``(n_frames, m)`` right-hand sides ``b``.
    lower, upper
        ``(n,)`` or ``(n_frames, n)`` bounds; ``±inf`` for none. ``lower ≤ upper``.
    tolerance
        Relative equality residual at which a frame counts as solved.
    max_iterations
        Newton iterations before the unsolved frames are reported as not converged.
    """
    matrix = np.asarray(matrix, dtype=float)
    target = np.asarray(target, dtype=float)
    n_frames, n_rows, n_columns = matrix.shape
    if target.shape != (n_frames, n_rows):
        raise ValueError(f"target has shape {target.shape}, expected {(n_frames, n_rows)}")
    lower = np.broadcast_to(np.asarray(lower, dtype=float), (n_frames, n_columns))
    upper = np.broadcast_to(np.asarray(upper, dtype=float), (n_frames, n_columns))
    if np.any(lower > upper):
        raise ValueError("a lower bound exceeds its upper bound")
    scale = tolerance * np.maximum(1.0, np.abs(target).max(axis=1))
    multipliers = np.zeros((n_frames, n_rows))
    x, dual, residual = _primal_and_dual(matrix, target, lower, upper, multipliers)
    active = np.abs(residual).max(axis=1) > scale
    iteration = 0
    while active.any() and iteration < max_iterations:
        iteration += 1
        frames = np.flatnonzero(active)
        a = matrix[frames]
        free = ((x[frames] > lower[frames]) & (x[frames] < upper[frames])).astype(float)
        hessian = (a * free[:, None, :]) @ a.transpose(0, 2, 1)
        # A frame whose free columns no longer span the rows (infeasible, or every column at a
        # bound) would make the Hessian singular; a tiny ridge keeps the step an ascent direction.
        ridge = _RIDGE * np.maximum(1.0, np.abs(a).max(axis=(1, 2)) ** 2)
        hessian += ridge[:, None, None] * np.eye(n_rows)
        step = np.linalg.solve(hessian, residual[frames][..., None])[..., 0]
        slope = np.sum(step * residual[frames], axis=1)
        residual_norm = np.linalg.norm(residual[frames], axis=1)
        below_round_off = slope <= _ROUND_OFF * np.maximum(1.0, np.abs(dual[frames]))
        length = np.ones(len(frames))
        pending = np.ones(len(frames), dtype=bool)
        trial_multipliers = multipliers[frames].copy()
        for _ in range(_MAX_HALVINGS):
            trial_multipliers[pending] = multipliers[frames][pending] + length[pending, None] * step[pending]
            trial_x, trial_dual, trial_residual = _primal_and_dual(a, target[frames], lower[frames], upper[frames],
                                                                   trial_multipliers)
            accepted = ((trial_dual >= dual[frames] + _ARMIJO * length * slope)
                        | (below_round_off & (np.linalg.norm(trial_residual, axis=1)
                                              <= _RESIDUAL_DECREASE * residual_norm)))
            pending &= ~accepted
            if not pending.any():
                break
            length[pending] *= 0.5
        multipliers[frames] = trial_multipliers
        x[frames] = trial_x
        dual[frames] = trial_dual
        residual[frames] = trial_residual
        active[frames] = np.abs(residual[frames]).max(axis=1) > scale[frames]
    return BoundedLeastNormSolution(x, ~active, iteration)


def _primal_and_dual(matrix: np.ndarray, target: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                     multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x(λ) = clip(Aᵀλ)`` ``(f, n)``, the dual ``½‖x‖² + λᵀ(b − A x)`` ``(f,)`` and ``b − A x`` ``(f, m)``."""
    x = np.clip((multipliers[:, None, :] @ matrix)[:, 0], lower, upper)
    residual = target - _times(matrix, x)
    dual = 0.5 * np.sum(x * x, axis=1) + np.sum(multipliers * residual, axis=1)
    return x, dual, residual


def _times(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``A_f v_f`` for every frame: ``(f, m, n)`` by ``(f, n)`` → ``(f, m)``."""
    return (matrix @ vectors[..., None])[..., 0]


def solve_bounded_least_norm_reference(matrix: np.ndarray, target: np.ndarray, lower: np.ndarray,
                                       upper: np.ndarray) -> np.ndarray:
    """One frame, ``(m, n)`` and ``(m,)``, by SciPy's SLSQP: the slow, general reference."""
    from scipy.optimize import minimize

    n_columns = matrix.shape[1]
    bounds = [(None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi)
              for lo, hi in zip(np.broadcast_to(lower, n_columns), np.broadcast_to(upper, n_columns))]
    start = np.linalg.lstsq(matrix, target, rcond=None)[0]
    result = minimize(lambda x: 0.5 * x @ x, start, jac=lambda x: x, method="SLSQP", bounds=bounds,
                      constraints=[{"type": "eq", "fun": lambda x: matrix @ x - target, "jac": lambda x: matrix}],
                      options={"ftol": 1e-14, "maxiter": 500})
    return result.x
