"""Balance: a centre-of-pressure plan under the stance feet and the centre-of-mass path it asks for.

The template's joint angles say nothing about balance: the centre of pressure (COP) that the
whole-body dynamics of the planted motion imply wanders decimetres outside the feet. Here a
COP path is planned on the footprints (heel → toe roll of each stance foot, handed from the
trailing to the leading foot with the load share in double support), and the horizontal shift
of the centre of mass (COM) that would move the dynamics' COP onto the plan follows from the
inverted-pendulum relation, for each horizontal axis,

    x_cop = x_com − x_com'' / ω²,      ω² = F_y / (M y_com) = (g + y_com'') / y_com,

linearised about the current motion: a COM shift Δ moves the COP by Δ − Δ''/ω². Solving
Δ − Δ''/ω² = (planned − current COP) over the whole padded trial (zero shift at its two ends)
is a positive-definite tridiagonal system whose solution is the COP error smoothed by the
pendulum's kernel (ω/2)·exp(−ω|t|): small, slow shifts that the whole-body IK can carry by
moving the pelvis with the feet planted. The current COP comes from the real wrench, so the
whole-body angular momentum (swinging legs, trunk) is accounted for, not only the COM.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded

# Planned COP along each footprint, as a fraction of the heel-marker → toe-tip-marker distance:
# just ahead of the heel marker at heel strike, under the forefoot at toe-off; it advances
# linearly in time over the foot's stance (double supports included).
COP_HEEL_STRIKE_FRACTION = 0.12
COP_TOE_OFF_FRACTION = 0.80
# Half-width of the foot outline (m) for the COP-in-foot check, as ground_reactions clamps it.
FOOT_HALF_WIDTH_M = 0.04
# Share of each stance, at its start and end, left out of the COP-in-foot measure: there the
# foot carries almost no load (cosine transfer), so its COP is ill-defined.
COP_CHECK_EDGE_FRACTION = 0.05


def plan_centre_of_pressure(footprints_m: dict[str, np.ndarray], right_share: np.ndarray) -> np.ndarray:
    """Planned COP of the whole body ``(n_frames, 3)`` m on the floor (y = 0).

    Parameters
    ----------
    footprints_m
        Side → ``(n_frames, 2, 3)`` heel and toe-tip floor points of the stance footprint (m),
        NaN in swing (:attr:`gait2hip.virtual_lab.foot_placement.MarkerTargets.footprints_m`).
    right_share
        ``(n_frames,)`` load share (0–1) of the right foot.
    """
    total = np.zeros((len(right_share), 3))
    for side, share in (("r", right_share), ("l", 1.0 - right_share)):
        footprint = footprints_m[side]
        foot_cop = np.zeros((len(right_share), 3))
        for run in _runs(np.isfinite(footprint[:, 0, 0])):
            progress = np.linspace(0.0, 1.0, len(run))
            fraction = COP_HEEL_STRIKE_FRACTION + (COP_TOE_OFF_FRACTION - COP_HEEL_STRIKE_FRACTION) * progress
            heel, toe = footprint[run, 0], footprint[run, 1]
            foot_cop[run] = heel + fraction[:, None] * (toe - heel)
        total += np.where(np.isfinite(footprint[:, 0, :1]), share[:, None], 0.0) * foot_cop
    return total


def centre_of_pressure(force_n: np.ndarray, moment_nm: np.ndarray) -> np.ndarray:
    """COP ``(n, 3)`` m on the floor (y = 0) of a wrench: force ``(n, 3)`` N, moment about the origin ``(n, 3)`` Nm."""
    vertical = np.where(np.abs(force_n[:, 1]) > 1e-6, force_n[:, 1], 1e-6)
    return np.column_stack([moment_nm[:, 2] / vertical, np.zeros(len(force_n)), -moment_nm[:, 0] / vertical])


def centre_of_mass_shift(cop_error_m: np.ndarray, omega_squared_per_s2: np.ndarray, time_step_s: float) -> np.ndarray:
    """Horizontal COM shift ``(n, 3)`` m (y = 0) that moves the COP by ``cop_error_m`` ``(n, 3)``.

    Solves Δ − Δ''/ω² = error for x and z with Δ = 0 at both ends (see the module docstring);
    ``omega_squared_per_s2`` ``(n,)`` is the pendulum's (g + y_com'')/y_com.
    """
    n = len(cop_error_m)
    coupling = 1.0 / (time_step_s ** 2 * omega_squared_per_s2)
    bands = np.zeros((3, n))
    bands[0, 1:] = -coupling[:-1]     # superdiagonal: row i, column i + 1
    bands[1] = 1.0 + 2.0 * coupling
    bands[2, :-1] = -coupling[1:]     # subdiagonal: row i, column i - 1
    bands[1, [0, -1]] = 1.0            # Δ = 0 at the ends
    bands[0, 1] = 0.0
    bands[2, -2] = 0.0
    right = cop_error_m[:, [0, 2]].copy()
    right[[0, -1]] = 0.0
    shift = solve_banded((1, 1), bands, right)
    return np.column_stack([shift[:, 0], np.zeros(n), shift[:, 1]])


def centre_of_pressure_outside_foot_m(cop_m: np.ndarray, heel_m: np.ndarray, toe_m: np.ndarray,
                                      load_n: np.ndarray) -> float:
    """Largest distance (m) of a foot's COP outside its outline while it bears load.

    The outline is the floor rectangle from the heel marker to the toe-tip marker, ±
    :data:`FOOT_HALF_WIDTH_M` across. ``cop_m``, ``heel_m``, ``toe_m`` ``(n, 3)`` m and the
    foot's vertical force ``load_n`` ``(n,)`` N on the same frames; the first and last
    :data:`COP_CHECK_EDGE_FRACTION` of each stance (load > 1 % of its peak) are left out.
    """
    axis = (toe_m - heel_m)[:, [0, 2]]
    length = np.linalg.norm(axis, axis=1)
    along_unit = axis / np.maximum(length, 1e-9)[:, None]
    across_unit = np.column_stack([-along_unit[:, 1], along_unit[:, 0]])
    relative = (cop_m - heel_m)[:, [0, 2]]
    along = np.sum(relative * along_unit, axis=1)
    across = np.sum(relative * across_unit, axis=1)
    distance = np.hypot(np.maximum(0.0, np.maximum(-along, along - length)),
                        np.maximum(0.0, np.abs(across) - FOOT_HALF_WIDTH_M))
    worst = 0.0
    for run in _runs(load_n > 0.01 * max(float(np.max(load_n)), 1e-9)):
        edge = int(COP_CHECK_EDGE_FRACTION * len(run))
        core = run[edge:len(run) - edge]
        if core.size:
            worst = max(worst, float(np.max(distance[core])))
    return worst


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """Index runs where ``mask`` holds."""
    indices = np.flatnonzero(mask)
    if indices.size == 0:
        return []
    return np.split(indices, np.flatnonzero(np.diff(indices) > 1) + 1)
