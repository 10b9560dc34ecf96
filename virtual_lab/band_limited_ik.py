"""Whole-body IK refined inside the motion's band: a correction that the band-limit keeps.

:func:`virtual_lab.whole_body_ik.solve_whole_body` solves frame by frame, and the band-limit
applied afterwards takes away the part of its correction above the cut-off, and with it some
of the planting of the stance feet (at 130 steps/min the heel then slid 3–4 cm). Here the
correction is sought among band-limited motions only: each coordinate's correction is a sum of
cubic B-splines (knots every :data:`KNOT_SPACING_S`) that have been passed through the same
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
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import splu

from virtual_lab.foot_placement import MarkerTargets
from virtual_lab.whole_body_ik import (COORDINATE_WEIGHT, HELD_COORDINATES, PELVIS_ROTATION_WEIGHT,
                                       PELVIS_TRANSLATIONS, TEMPLATE_ONLY_COORDINATES, speed_indices)

# Spacing (s) of the B-spline knots: a cubic B-spline on it carries little above ~4 Hz.
KNOT_SPACING_S = 0.1
# Frames (Hz) on which the marker errors are linearised.
GRID_RATE_HZ = 25.0
# A filtered spline counts at a frame where it exceeds this fraction of its peak.
SUPPORT_FRACTION = 1e-2
# Gauss–Newton steps over the whole trial.
N_STEPS = 1


def refine_in_band(model: opensim.Model, times_s: np.ndarray, targets: MarkerTargets,
                   coordinates: dict[str, np.ndarray], template_coordinates: dict[str, np.ndarray],
                   band_limit: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
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
    band_limit
        The band-limit, filtering one ``(n_frames,)`` series.

    Returns
    -------
    dict
        Name → ``(n_frames,)`` (rad, m), ``coordinates`` plus a band-limited correction.
    """
    state = model.initSystem()
    matter = model.getMatterSubsystem()
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
    basis = _filtered_basis(times_s, band_limit)          # (n_frames, n_basis)
    grid = np.unique(np.round(np.arange(0.0, times_s[-1] - times_s[0], 1.0 / GRID_RATE_HZ)
                              / (times_s[1] - times_s[0])).astype(int))
    markers = [model.getMarkerSet().get(name) for name in targets.names]
    stations = [(opensim.PhysicalFrame.safeDownCast(marker.getParentFrame()).getMobilizedBodyIndex(),
                 marker.get_location()) for marker in markers]
    jacobian = opensim.Matrix()
    n_basis = basis.shape[1]
    for _ in range(N_STEPS):
        normal = np.zeros((n_basis * n_free, n_basis * n_free))
        gradient = np.zeros(n_basis * n_free)
        for frame in grid:
            state.setQ(opensim.Vector(q[frame]))
            model.realizePosition(state)
            position = np.zeros(3 * len(markers))
            rows = np.zeros((3 * len(markers), state.getNQ()))
            for k, (marker, (body, station)) in enumerate(zip(markers, stations)):
                location = marker.getLocationInGround(state)
                position[3 * k:3 * k + 3] = (location.get(0), location.get(1), location.get(2))
                matter.calcStationJacobian(state, body, station, jacobian)
                rows[3 * k:3 * k + 3] = jacobian.to_numpy()
            J = rows[:, columns]                                          # (3 n_markers, n_free)
            weights = np.repeat(targets.weights[frame] / targets.weights[frame].sum(), 3)
            error = targets.positions_m[frame].reshape(-1) - position
            local = J.T @ (weights[:, None] * J) + np.diag(task_weight)    # (n_free, n_free)
            local_gradient = J.T @ (weights * error) - task_weight * (q[frame, columns] - template[frame])
            active = np.flatnonzero(np.abs(basis[frame]) > SUPPORT_FRACTION)
            first, last = active[0], active[-1] + 1
            values = basis[frame, first:last]
            block = slice(first * n_free, last * n_free)
            normal[block, block] += np.kron(np.outer(values, values), local)
            gradient[block] += np.kron(values, local_gradient)
        normal[np.diag_indices_from(normal)] += 1e-9
        # Sparse LU: the matrix is banded, and LAPACK's banded Cholesky is slower here.
        solution = splu(csc_matrix(normal)).solve(gradient).reshape(n_basis, n_free)
        q[:, columns] += basis @ solution
    return {name: q[:, index[name]].copy() for name in coordinates}


def _filtered_basis(times_s: np.ndarray, band_limit: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Cubic B-splines with knots every :data:`KNOT_SPACING_S` over ``times_s``, band-limited: ``(n_frames, n_basis)``."""
    start, stop = times_s[0], times_s[-1]
    n_intervals = max(1, int(np.ceil((stop - start) / KNOT_SPACING_S)))
    spacing = (stop - start) / n_intervals
    knots = start + spacing * np.arange(-3, n_intervals + 4)
    # Exact end knots: rounding in ``start + spacing * k`` can put ``stop`` a hair outside the
    # base interval, which BSpline.design_matrix refuses (it did for a 1-cycle trial).
    knots[3], knots[n_intervals + 3] = start, stop
    n_basis = len(knots) - 4
    raw = BSpline.design_matrix(np.clip(times_s, start, stop), knots, 3).toarray()   # (n_frames, n_basis)
    return np.column_stack([band_limit(raw[:, k]) for k in range(n_basis)])
