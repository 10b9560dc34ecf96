"""Whole-body IK refined inside the motion's band: a correction that the band-limit keeps.

:func:`virtual_lab.whole_body_ik.solve_whole_body` solves frame by frame, and the band-limit
applied afterwards takes away the part of its correction above the cut-off, and with it some
of the planting of the stance feet (at 130 steps/min the heel then slid 3–4 cm). Here the
correction is sought among band-limited motions only: each coordinate's correction is a sum of
cubic B-splines (knots every :data:`KNOT_SPACING_S` by default) that have been passed through the same
band-limit, so the correction is band-limited by construction and no filter follows it (a
filter after the solve would take part of it away again). One Gauss–Newton step of the IK
cost (weighted marker errors plus the coordinate tasks towards the template, as in
:mod:`virtual_lab.whole_body_ik`) is taken over the whole trial at once, linearised with
OpenSim's station Jacobians on a :data:`GRID_RATE_HZ` grid; the normal equations are
block-banded since each filtered spline reaches only a few knots.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import opensim
from scipy.interpolate import BSpline
from scipy.sparse import bsr_matrix, csc_matrix
from scipy.sparse.linalg import splu

from virtual_lab.foot_placement import MarkerTargets
from virtual_lab.whole_body_ik import (COORDINATE_WEIGHT, HELD_COORDINATES, PELVIS_ROTATION_WEIGHT,
                                       PELVIS_TRANSLATIONS, TEMPLATE_ONLY_COORDINATES)
from virtual_lab.model_poses import MarkerJacobian, default_state, speed_indices

# Spacing (s) of the B-spline knots: a cubic B-spline on it carries little above ~4 Hz (the
# motion's band-limit up to 110 steps/min; faster cadences space the knots closer).
KNOT_SPACING_S = 0.1
# Frames (Hz) on which the marker errors are linearised.
GRID_RATE_HZ = 25.0
# A filtered spline counts at a frame where it exceeds this fraction of its peak.
SUPPORT_FRACTION = 1e-2
# Gauss–Newton steps over the whole trial.
N_STEPS = 1


def refine_in_band(model: opensim.Model, times_s: np.ndarray, targets: MarkerTargets,
                   coordinates: dict[str, np.ndarray], template_coordinates: dict[str, np.ndarray],
                   basis: np.ndarray) -> dict[str, np.ndarray]:
    """Band-limited ``coordinates`` moved to meet ``targets`` better, staying band-limited.

    Parameters
    ----------
    model
        The subject's scaled model (with markers); its system is (re)initialised here.
    times_s
        ``(n_frames,)`` uniformly spaced frame times (s).
    targets
        Marker targets and weights on ``times_s``.
    coordinates
        Name → ``(n_frames,)`` (rad, m): a band-limited solution (every coordinate of the model).
    template_coordinates
        Name → ``(n_frames,)`` (rad, m): the template the coordinate tasks pull towards.
    basis
        ``(n_frames, n_basis)``: the band-limited B-splines on ``times_s`` (:func:`filtered_basis`)
        whose sums make the correction.

    Returns
    -------
    dict
        Name → ``(n_frames,)`` (rad, m), ``coordinates`` plus a band-limited correction.
    """
    state = default_state(model)
    index = speed_indices(model, state)
    locked = set(HELD_COORDINATES + TEMPLATE_ONLY_COORDINATES)
    free = [name for name in coordinates if name not in locked]
    columns = np.array([index[name] for name in free])
    task_weight = np.array([0.0 if name in PELVIS_TRANSLATIONS else
                            PELVIS_ROTATION_WEIGHT if name.startswith("pelvis_") else COORDINATE_WEIGHT
                            for name in free])
    n_frames, n_free = len(times_s), len(free)
    q = np.zeros((n_frames, state.getNQ()))
    for name, values in coordinates.items():
        q[:, index[name]] = values
    template = q[:, columns].copy()
    for column, name in enumerate(free):
        if name in template_coordinates:
            template[:, column] = template_coordinates[name]
    grid = np.unique(np.round(np.arange(0.0, times_s[-1] - times_s[0], 1.0 / GRID_RATE_HZ)
                              / (times_s[1] - times_s[0])).astype(int))
    marker_jacobian = MarkerJacobian(model, [model.getMarkerSet().get(name) for name in targets.names])
    n_basis = basis.shape[1]
    reach = [np.flatnonzero(np.abs(basis[frame]) > SUPPORT_FRACTION)[[0, -1]] for frame in grid]
    width = max(last - first for first, last in reach)   # basis functions a frame reaches beyond its first
    for _ in range(N_STEPS):
        # The normal matrix's blocks: band[i, width + d] is the (n_free, n_free) block of basis i
        # with basis i + d; a dense (n_basis n_free)² matrix cost more to fill and to convert.
        band = np.zeros((n_basis, 2 * width + 1, n_free, n_free))
        gradient = np.zeros((n_basis, n_free))
        for frame, (first, last) in zip(grid, reach):
            state.setQ(opensim.Vector.createFromMat(q[frame]))
            model.realizePosition(state)
            position, rows = marker_jacobian.evaluate(state)
            J = rows[:, columns]                                          # (3 n_markers, n_free)
            weights = np.repeat(targets.weights[frame] / targets.weights[frame].sum(), 3)
            error = targets.positions_m[frame].reshape(-1) - position
            local = J.T @ (weights[:, None] * J) + np.diag(task_weight)    # (n_free, n_free)
            local_gradient = J.T @ (weights * error) - task_weight * (q[frame, columns] - template[frame])
            values = basis[frame, first:last + 1]
            reached = np.arange(first, last + 1)
            band[reached[:, None], width + reached[None, :] - reached[:, None]] += (
                np.outer(values, values)[:, :, None, None] * local)
            gradient[first:last + 1] += values[:, None] * local_gradient
        # Sparse LU: the matrix is banded, and LAPACK's banded Cholesky is slower here.
        solution = splu(_banded_to_sparse(band, 1e-9)).solve(gradient.reshape(-1)).reshape(n_basis, n_free)
        q[:, columns] += basis @ solution
    return {name: q[:, index[name]].copy() for name in coordinates}


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
