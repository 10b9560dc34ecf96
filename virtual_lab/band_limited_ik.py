"""Whole-body IK refined inside the motion's band: a correction that the band-limit keeps.

:func:`gait2hip.virtual_lab.whole_body_ik.solve_whole_body` solves frame by frame, and the band-limit
applied afterwards takes away the part of its correction above the cut-off, and with it some
of the planting of the stance feet (at 130 steps/min the heel then slid 3–4 cm). Here the
correction is sought among band-limited motions only: each coordinate's correction is a sum of
cubic B-splines (knots every :data:`KNOT_SPACING_S` by default) that have been passed through the same
band-limit, so the correction is band-limited by construction and no filter follows it (a
filter after the solve would take part of it away again). One Gauss–Newton step of the IK
cost (weighted marker errors plus the coordinate tasks towards the template, as in
:mod:`gait2hip.virtual_lab.whole_body_ik`) is taken over the whole trial at once, linearised with
OpenSim's station Jacobians on a :data:`GRID_RATE_HZ` grid (:func:`linearise`, which can
take the whole-body momentum at the same poses for the balance correction); the normal
equations are block-banded since each filtered spline reaches only a few knots
(:func:`normal_equations`, checked against the plain loop :func:`normal_equations_reference`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import opensim
from scipy.interpolate import BSpline
from scipy.sparse import bsr_matrix, csc_matrix
from scipy.sparse.linalg import splu

from gait2hip.virtual_lab.foot_placement import MarkerTargets
from gait2hip.virtual_lab.ground_reactions import ExternalWrench, joint_speeds, system_momentum, wrench_from_momentum
from gait2hip.virtual_lab.whole_body_ik import (COORDINATE_WEIGHT, HELD_COORDINATES, PELVIS_ROTATION_WEIGHT,
                                       PELVIS_TRANSLATIONS, TEMPLATE_ONLY_COORDINATES)
from gait2hip.virtual_lab.model_poses import MarkerJacobian, default_state, speed_indices

# Spacing (s) of the B-spline knots: a cubic B-spline on it carries little above ~4 Hz (the
# motion's band-limit up to 110 steps/min; faster cadences space the knots closer).
KNOT_SPACING_S = 0.1
# Frames (Hz) on which the marker errors are linearised.
GRID_RATE_HZ = 25.0
# A filtered spline counts at a frame where it exceeds this fraction of its peak.
SUPPORT_FRACTION = 1e-2


@dataclass(frozen=True)
class Linearisation:
    """The IK cost linearised at a solution, on a :data:`GRID_RATE_HZ` grid of its frames.

    Attributes
    ----------
    frames
        ``(n_grid,)`` indices of the grid frames (first and last included).
    q
        ``(n_frames, n_q)`` the solution's generalized positions (rad, m), in the state's order.
    index
        Coordinate name → its column in ``q`` (and in the speeds), for every coordinate of the solution.
    free
        Names of the free coordinates (every coordinate but the held and template-only ones).
    positions_m
        ``(n_grid, 3 n_markers)`` the target markers' ground positions (m).
    jacobians
        ``(n_grid, 3 n_markers, n_free)`` their station Jacobians on the free coordinates (m/rad, m/m).
    wrench
        The external wrench of the solution on every frame, from its momentum on the grid
        (:func:`gait2hip.virtual_lab.ground_reactions.wrench_from_momentum`), when asked for.
    """

    frames: np.ndarray
    q: np.ndarray
    index: dict[str, int]
    free: list[str]
    positions_m: np.ndarray
    jacobians: np.ndarray
    wrench: ExternalWrench | None

    @property
    def columns(self) -> np.ndarray:
        """``(n_free,)`` the free coordinates' columns in ``q``."""
        return np.array([self.index[name] for name in self.free])


def linearise(model: opensim.Model, times_s: np.ndarray, coordinates: dict[str, np.ndarray],
              marker_names: list[str], with_wrench: bool = False) -> Linearisation:
    """Forward kinematics and station Jacobians of ``marker_names`` at ``coordinates`` on the grid.

    ``coordinates``: name → ``(n_frames,)`` (rad, m) on the uniformly spaced ``times_s`` (s),
    every coordinate of ``model`` (whose working state is reset). With ``with_wrench`` the
    whole-body momentum is computed at the same poses too (one more realization stage, with
    the speeds of the solution's spline), and from it the external wrench: the balance
    correction then costs no kinematics of its own.
    """
    state = default_state(model)
    index = {name: column for name, column in speed_indices(model, state).items() if name in coordinates}
    locked = set(HELD_COORDINATES + TEMPLATE_ONLY_COORDINATES)
    free = [name for name in coordinates if name not in locked]
    columns = np.array([index[name] for name in free])
    q = np.zeros((len(times_s), state.getNQ()))
    for name, values in coordinates.items():
        q[:, index[name]] = values
    frames = _grid(times_s)
    u = joint_speeds(times_s, q) if with_wrench else None
    marker_jacobian = MarkerJacobian(model, [model.getMarkerSet().get(name) for name in marker_names])
    positions = np.zeros((len(frames), 3 * len(marker_names)))
    jacobians = np.zeros((len(frames), 3 * len(marker_names), len(free)))
    momentum = np.zeros((3, len(frames), 3))   # linear, angular, centre of mass
    for row, frame in enumerate(frames):
        state.setQ(opensim.Vector.createFromMat(q[frame]))
        model.realizePosition(state)
        positions[row], rows = marker_jacobian.evaluate(state)
        jacobians[row] = rows[:, columns]                               # u = dq/dt for every joint
        if with_wrench:
            state.setU(opensim.Vector.createFromMat(u[frame]))
            model.realizeVelocity(state)
            momentum[:, row] = system_momentum(model, state)
    wrench = wrench_from_momentum(times_s, frames, *momentum, model.getTotalMass(state)) if with_wrench else None
    return Linearisation(frames, q, index, free, positions, jacobians, wrench)


def _grid(times_s: np.ndarray) -> np.ndarray:
    """Indices of the frames of ``times_s`` nearest a :data:`GRID_RATE_HZ` grid, the last frame included."""
    grid = np.round(np.arange(0.0, times_s[-1] - times_s[0], 1.0 / GRID_RATE_HZ) / (times_s[1] - times_s[0]))
    return np.unique(np.append(grid.astype(int), len(times_s) - 1))


def refine_in_band(linearised: Linearisation, targets: MarkerTargets, template_coordinates: dict[str, np.ndarray],
                   basis: np.ndarray) -> dict[str, np.ndarray]:
    """The solution ``linearised`` is taken at, moved to meet ``targets`` better, staying band-limited.

    Parameters
    ----------
    linearised
        The IK cost linearised at a band-limited solution (:func:`linearise`, on the frames of
        ``targets`` and ``basis``), every coordinate of the model.
    targets
        Marker targets and weights on the solution's frames.
    template_coordinates
        Name → ``(n_frames,)`` (rad, m): the template the coordinate tasks pull towards.
    basis
        ``(n_frames, n_basis)``: the band-limited B-splines (:func:`filtered_basis`) whose sums
        make the correction.

    Returns
    -------
    dict
        Name → ``(n_frames,)`` (rad, m) for every coordinate of the solution: the free ones
        plus a band-limited correction, the held and template-only ones unchanged.
    """
    free, columns, q = linearised.free, linearised.columns, linearised.q.copy()
    task_weight = np.array([0.0 if name in PELVIS_TRANSLATIONS else
                            PELVIS_ROTATION_WEIGHT if name.startswith("pelvis_") else COORDINATE_WEIGHT
                            for name in free])
    n_free, n_basis = len(free), basis.shape[1]
    template = q[:, columns].copy()
    for column, name in enumerate(free):
        if name in template_coordinates:
            template[:, column] = template_coordinates[name]
    band, gradient = normal_equations(linearised, targets, basis, template, task_weight)
    # Sparse LU: the matrix is banded, and LAPACK's banded Cholesky is slower here.
    solution = splu(_banded_to_sparse(band, 1e-9)).solve(gradient.reshape(-1)).reshape(n_basis, n_free)
    q[:, columns] += basis @ solution
    return {name: q[:, column].copy() for name, column in linearised.index.items()}


def normal_equations(linearised: Linearisation, targets: MarkerTargets, basis: np.ndarray, template: np.ndarray,
                     task_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Gauss–Newton normal equations of :func:`refine_in_band` in the B-spline coefficients.

    Returns ``band`` ``(n_basis, 2 width + 1, n_free, n_free)``, where ``band[i, width + d]`` is
    the block of basis i with basis i + d (a dense ``(n_basis n_free)²`` matrix cost more to
    fill and to convert), and the gradient ``(n_basis, n_free)``. Each grid frame reaches the
    few basis functions over :data:`SUPPORT_FRACTION` of their peak there (``width`` + 1 at
    most); the frames are summed run by run (frames reaching from the same first function).
    """
    frames, columns, q = linearised.frames, linearised.columns, linearised.q
    n_grid, n_basis, n_free = len(frames), basis.shape[1], len(task_weight)
    reach = np.array([np.flatnonzero(np.abs(basis[frame]) > SUPPORT_FRACTION)[[0, -1]] for frame in frames])
    width = int(np.max(reach[:, 1] - reach[:, 0]))   # basis functions a frame reaches beyond its first
    first = np.minimum(reach[:, 0], n_basis - width - 1)               # (n_grid,) first function of the window
    window = first[:, None] + np.arange(width + 1)                     # (n_grid, width + 1)
    inside = (window >= reach[:, :1]) & (window <= reach[:, 1:])
    values = np.where(inside, basis[frames[:, None], window], 0.0)     # (n_grid, width + 1)
    J = linearised.jacobians                                           # (n_grid, 3 n_markers, n_free)
    weights = np.repeat(targets.weights[frames] / targets.weights[frames].sum(axis=1, keepdims=True), 3, axis=1)
    error = targets.positions_m[frames].reshape(n_grid, -1) - linearised.positions_m
    local = (np.transpose(J, (0, 2, 1)) @ (weights[:, :, None] * J)
             + np.diag(task_weight)).reshape(n_grid, -1)              # (n_grid, n_free²)
    local_gradient = (np.einsum("gki,gk->gi", J, weights * error)
                      - task_weight * (q[frames][:, columns] - template[frames]))   # (n_grid, n_free)
    # Frames with the same window form a run; a run's blocks are one matrix product over its
    # frames (runs padded to the longest with a zero frame).
    order = np.argsort(first, kind="stable")
    starts, runs, run_lengths = np.unique(first[order], return_index=True, return_counts=True)
    padded = np.full((len(starts), run_lengths.max()), n_grid)
    for row, (run, length) in enumerate(zip(runs, run_lengths)):
        padded[row, :length] = order[run:run + length]
    pairs = np.vstack([(values[:, :, None] * values[:, None, :]).reshape(n_grid, -1), np.zeros((1, (width + 1) ** 2))])
    local = np.vstack([local, np.zeros((1, n_free ** 2))])
    values = np.vstack([values, np.zeros((1, width + 1))])
    local_gradient = np.vstack([local_gradient, np.zeros((1, n_free))])
    run_blocks = np.transpose(pairs[padded], (0, 2, 1)) @ local[padded]         # (n_runs, (width + 1)², n_free²)
    run_gradients = np.transpose(values[padded], (0, 2, 1)) @ local_gradient[padded]   # (n_runs, width + 1, n_free)
    band = np.zeros((n_basis, 2 * width + 1, n_free, n_free))
    gradient = np.zeros((n_basis, n_free))
    for a in range(width + 1):
        gradient[starts + a] += run_gradients[:, a]
        for b in range(width + 1):
            band[starts + a, width + b - a] += run_blocks[:, a * (width + 1) + b].reshape(-1, n_free, n_free)
    return band, gradient


def normal_equations_reference(linearised: Linearisation, targets: MarkerTargets, basis: np.ndarray,
                               template: np.ndarray, task_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plain frame-by-frame reference of :func:`normal_equations` (same arguments, same result)."""
    frames, columns, q = linearised.frames, linearised.columns, linearised.q
    n_basis, n_free = basis.shape[1], len(task_weight)
    reach = [np.flatnonzero(np.abs(basis[frame]) > SUPPORT_FRACTION)[[0, -1]] for frame in frames]
    width = max(last - first for first, last in reach)
    band = np.zeros((n_basis, 2 * width + 1, n_free, n_free))
    gradient = np.zeros((n_basis, n_free))
    for row, (frame, (first, last)) in enumerate(zip(frames, reach)):
        J = linearised.jacobians[row]                                    # (3 n_markers, n_free)
        weights = np.repeat(targets.weights[frame] / targets.weights[frame].sum(), 3)
        error = targets.positions_m[frame].reshape(-1) - linearised.positions_m[row]
        local = J.T @ (weights[:, None] * J) + np.diag(task_weight)    # (n_free, n_free)
        local_gradient = J.T @ (weights * error) - task_weight * (q[frame, columns] - template[frame])
        values = basis[frame, first:last + 1]
        for a, i in enumerate(range(first, last + 1)):
            gradient[i] += values[a] * local_gradient
            for b, j in enumerate(range(first, last + 1)):
                band[i, width + j - i] += values[a] * values[b] * local
    return band, gradient


def _banded_to_sparse(band: np.ndarray, ridge: float) -> csc_matrix:
    """The ``(n_basis n_free)²`` matrix whose blocks ``band`` holds (see :func:`refine_in_band`), plus ``ridge`` on its diagonal.

    Exact zeros are left out, as ``csc_matrix`` of the dense matrix would.
    """
    n_basis, n_offsets, n_free, _ = band.shape
    width = n_offsets // 2
    blocks, partners, starts = [], [], [0]
    for block in range(n_basis):
        first, last = max(0, block - width), min(n_basis, block + width + 1)
        blocks.append(band[block, first - block + width:last - block + width])   # (k, n_free, n_free)
        partners.extend(range(first, last))
        starts.append(len(partners))
    data = np.concatenate(blocks)
    diagonal = np.flatnonzero(np.asarray(partners) == np.repeat(np.arange(n_basis), np.diff(starts)))
    data[diagonal] += ridge * np.eye(n_free)
    size = n_basis * n_free
    matrix = bsr_matrix((data, partners, starts), shape=(size, size)).tocsc()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def filtered_basis(times_s: np.ndarray, band_limit: Callable[[np.ndarray], np.ndarray],
                   knot_spacing_s: float = KNOT_SPACING_S) -> np.ndarray:
    """Cubic B-splines with knots about every ``knot_spacing_s`` (s) over ``times_s``, band-limited: ``(n_frames, n_basis)``."""
    start, stop = times_s[0], times_s[-1]
    n_intervals = max(1, int(np.ceil((stop - start) / knot_spacing_s)))
    spacing = (stop - start) / n_intervals
    knots = start + spacing * np.arange(-3, n_intervals + 4)
    # Exact end knots: rounding in ``start + spacing * k`` can put ``stop`` a hair outside the
    # base interval, which BSpline.design_matrix refuses (it did for a 1-cycle trial).
    knots[3], knots[n_intervals + 3] = start, stop
    n_basis = len(knots) - 4
    raw = BSpline.design_matrix(np.clip(times_s, start, stop), knots, 3).toarray()   # (n_frames, n_basis)
    return np.column_stack([band_limit(raw[:, k]) for k in range(n_basis)])
