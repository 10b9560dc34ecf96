"""Whole-body inverse kinematics on synthetic targets.

The pelvis (all six coordinates), hips, knees and ankles move together to meet weighted marker
targets (:mod:`gait2hip.virtual_lab.foot_placement`) while coordinate tasks pull every rotational
coordinate towards the template with a low weight, so the gait keeps its shape and the stance
foot stays on its footprint. The cost is OpenSim's IK cost: the weighted mean of the squared
marker errors (m²), plus each coordinate task's weight times its squared deviation (rad²).

Two solvers of the same problem sit side by side: :func:`solve_whole_body`, a Gauss–Newton
iteration on OpenSim's forward kinematics and station Jacobians (the fast path, about 1 ms a
frame), and :func:`solve_whole_body_opensim`, OpenSim's own ``InverseKinematicsSolver`` (the
reference, about 10 ms a frame, too slow for the 2 s budget of a 10 s trial).
``tests/virtual_lab`` checks that they agree (within 1°; they differ by about 0.5°, where the
reference stops by its own convergence rule). Both solve a 25 Hz grid and interpolate the
correction to the template with a cubic spline: the motion is band-limited to 4 Hz anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import opensim
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

from gait2hip.core.opensim_files import marker_table
from gait2hip.virtual_lab.foot_placement import MarkerTargets
from gait2hip.virtual_lab.ground_reactions import ExternalWrench
from gait2hip.virtual_lab.model_poses import MarkerJacobian, default_state, speed_indices

# Translations (m): no coordinate task pulls them (the pelvis markers hold the path); every
# other coordinate is a rotation (rad; written to the truth in degrees).
PELVIS_TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")

# Reference solver (OpenSim): grid (Hz), well above the motion's bandwidth, and assembly accuracy.
SOLVER_RATE_HZ = 25.0
SOLVER_ACCURACY = 1e-4
# Gauss–Newton: iterations per frame (each warm-started from the last frame's correction to the
# template) and the step (rad or m) below which a frame is done. In the synthesis this solve
# only starts the in-band refinement, which corrects what it leaves: more iterations give the
# same foot slip and COP clamp at a higher cost (benchmarks/synthesis_quality.py and
# benchmarks/bench_synthesis.py measure both).
GAUSS_NEWTON_MAX_ITERATIONS = 2
GAUSS_NEWTON_STEP_TOLERANCE = 1e-5
# Grid of the Gauss–Newton solver (Hz).
GAUSS_NEWTON_RATE_HZ = 25.0
# Weight of each coordinate task, per rad² of deviation from the template.
COORDINATE_WEIGHT = 1e-3
# The pelvis orientation is held 10 times closer to the template than the joints: with the
# joints' weight its list drifts about 1.5° RMS off the template to help the feet.
PELVIS_ROTATION_WEIGHT = 1e-2
# The subtalar and MTP joints are held at 0 (as in the template).
HELD_COORDINATES = ("subtalar_angle_r", "subtalar_angle_l", "mtp_angle_r", "mtp_angle_l")
# No target marker is on the torso, so the lumbar joint is left out of the IK (kept at the template);
# :func:`solve_band_limited` then turns it back by the IK's pelvis rotation correction
# (:func:`keep_torso_in_room`).
TEMPLATE_ONLY_COORDINATES = ("lumbar_extension", "lumbar_bending", "lumbar_rotation")
# gait2392's pelvis rotations and the lumbar rotations about the same axes, in the order both
# joints turn (:func:`keep_torso_in_room`).
TORSO_COUNTER_ROTATIONS = (("pelvis_tilt", "lumbar_extension"), ("pelvis_list", "lumbar_bending"),
                           ("pelvis_rotation", "lumbar_rotation"))


def solve_whole_body_opensim(model_path: Path, times_s: np.ndarray, targets: MarkerTargets,
                             template_coordinates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Coordinates meeting ``targets`` on ``times_s``: name → ``(n_frames,)`` (rad, m).

    Parameters
    ----------
    model_path
        The subject's scaled model (with markers).
    times_s
        ``(n_frames,)`` uniformly spaced frame times.
    targets
        Marker targets and weights on ``times_s``.
    template_coordinates
        Name → ``(n_frames,)`` template values (rad, m) for every free coordinate; rotational
        ones get a coordinate task, and all of them give the first frame's initial guess.
    """
    grid = _grid(times_s, SOLVER_RATE_HZ)
    grid_times = times_s[grid]
    model = opensim.Model(str(model_path))
    for name in HELD_COORDINATES + TEMPLATE_ONLY_COORDINATES:
        model.getCoordinateSet().get(name).setDefaultLocked(True)
    state = model.initSystem()

    labels = list(targets.names)
    table = marker_table(labels, targets.positions_m[grid], grid_times)
    weight_set = opensim.SetMarkerWeights()
    for index, name in enumerate(labels):
        weight_set.cloneAndAppend(opensim.MarkerWeight(name, float(targets.weights[grid[0], index])))
    markers_reference = opensim.MarkersReference(table, weight_set)
    coordinate_references = opensim.SimTKArrayCoordinateReference()
    for name, values in template_coordinates.items():
        if name in PELVIS_TRANSLATIONS + HELD_COORDINATES + TEMPLATE_ONLY_COORDINATES:
            continue
        function = opensim.PiecewiseLinearFunction()
        for time, value in zip(grid_times, values[grid]):
            function.addPoint(float(time), float(value))
        reference = opensim.CoordinateReference(name, function)
        reference.setWeight(PELVIS_ROTATION_WEIGHT if name.startswith("pelvis_") else COORDINATE_WEIGHT)
        coordinate_references.push_back(reference)
    solver = opensim.InverseKinematicsSolver(model, markers_reference, coordinate_references)
    solver.setAccuracy(SOLVER_ACCURACY)

    coordinate_set = model.getCoordinateSet()
    for name, values in template_coordinates.items():
        if name not in TEMPLATE_ONLY_COORDINATES:
            coordinate_set.get(name).setValue(state, float(values[grid[0]]), False)
    names = [coordinate_set.get(i).getName() for i in range(coordinate_set.getSize())]
    solved = np.zeros((len(grid), len(names)))
    for row, frame in enumerate(grid):
        state.setTime(float(grid_times[row]))
        if row == 0:
            solver.assemble(state)  # creates the marker goal, which later frames re-weight
        else:
            for index, name in enumerate(labels):
                solver.updateMarkerWeight(name, float(targets.weights[frame, index]))
            solver.track(state)  # warm start: the previous frame's solution
        solved[row] = [coordinate_set.get(i).getValue(state) for i in range(len(names))]
    # Interpolate the correction to the template, which is smoother than the coordinates themselves.
    solution = {}
    for index, name in enumerate(names):
        reference = template_coordinates.get(name, np.zeros(len(times_s)))
        correction = CubicSpline(grid_times, solved[:, index] - reference[grid])(times_s)
        solution[name] = reference + (0.0 if name in TEMPLATE_ONLY_COORDINATES else correction)
    return solution


def solve_band_limited(model: opensim.Model, times_s: np.ndarray, targets: MarkerTargets,
                       template_coordinates: dict[str, np.ndarray], band_limit: Callable[[np.ndarray], np.ndarray],
                       n_passes: int = 2, knot_spacing_s: float | None = None,
                       shift: Callable[[ExternalWrench], np.ndarray] | None = None,
                       shift_share: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Whole-body IK whose result still meets the planted targets after ``band_limit``.

    The band-limit takes the part of a frame-wise IK correction above its cut-off away, and
    with it some of the planting. So the frame-wise solve (:func:`solve_whole_body`), band-limited,
    only starts: each of the ``n_passes - 1`` further passes refines the solution among
    band-limited motions (:func:`gait2hip.virtual_lab.band_limited_ik.refine_in_band`). When ``shift`` is
    given, before each further pass it maps the external wrench of the current solution
    (:class:`gait2hip.virtual_lab.ground_reactions.ExternalWrench`, from its momentum on the pass's
    linearisation grid) to a ``(n_frames, 3)`` m displacement of the body (the balance
    correction of :mod:`gait2hip.virtual_lab.balance`), which is added to the targets, each marker
    taking the share ``shift_share`` ``(n_frames, n_markers)`` (0–1) of it; displacements
    accumulate over passes. Returns the last solution, band-limited: name → ``(n_frames,)``
    (rad, m). ``band_limit`` filters one ``(n_frames,)`` series; the refinement's B-spline
    knots are ``knot_spacing_s`` apart (s; default :data:`gait2hip.virtual_lab.band_limited_ik.KNOT_SPACING_S`),
    matched to the band-limit.
    """
    from gait2hip.virtual_lab.band_limited_ik import KNOT_SPACING_S, filtered_basis, linearise, refine_in_band

    positions = targets.positions_m.copy()
    basis = filtered_basis(times_s, band_limit, knot_spacing_s or KNOT_SPACING_S) if n_passes > 1 else None
    solution = keep_torso_in_room({name: band_limit(values) for name, values in
                                   solve_whole_body(model, times_s, targets, template_coordinates).items()},
                                  template_coordinates)
    for _ in range(n_passes - 1):
        linearised = linearise(model, times_s, solution, targets.names, with_wrench=shift is not None)
        if shift is not None:
            positions += shift_share[..., None] * shift(linearised.wrench)[:, None, :]
        moved = MarkerTargets(targets.names, positions.copy(), targets.weights, targets.footprints_m)
        solution = keep_torso_in_room(refine_in_band(linearised, moved, template_coordinates, basis),
                                      template_coordinates)
    return solution


def keep_torso_in_room(solution: dict[str, np.ndarray], template_coordinates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``solution`` with the lumbar joint turned back by the IK's pelvis rotation correction.

    The IK turns the pelvis away from the template to plant the feet. With the lumbar joint at
    the template the torso, about half the body's mass, turned with it, faster than people
    turn theirs (they hold the trunk steady in space), and the angular momentum it threw about
    the centre of mass was what the balance correction then cancelled by accelerating the
    centre of mass sideways (virtual_lab/README.md, "Calibration against measured gait").
    Here the lumbar angles are those that give the torso the template's orientation in the
    room on top of the solved pelvis. gait2392's pelvis and back joints both turn about Z
    (tilt, extension), then X (list, bending), then Y (rotation) of frames aligned with the
    pelvis, so the torso's orientation is R_pelvis · R_lumbar and the lumbar rotation is
    R_pelvis,solvedᵀ · R_pelvis,template · R_lumbar,template. Name → ``(n_frames,)`` rad;
    returns a new dict, other coordinates unchanged (all of them when the solution or the
    template lacks one of the six coordinates of :data:`TORSO_COUNTER_ROTATIONS`).
    """
    pelvis = [name for name, _ in TORSO_COUNTER_ROTATIONS]
    lumbar = [name for _, name in TORSO_COUNTER_ROTATIONS]
    if not all(name in solution and name in template_coordinates for name in pelvis + lumbar):
        return dict(solution)

    def turned(coordinates: dict[str, np.ndarray], names: list[str]) -> Rotation:
        return Rotation.from_euler("ZXY", np.column_stack([coordinates[name] for name in names]))
    held_lumbar = (turned(solution, pelvis).inv() * turned(template_coordinates, pelvis)
                   * turned(template_coordinates, lumbar)).as_euler("ZXY")
    held = dict(solution)
    for column, name in enumerate(lumbar):
        held[name] = held_lumbar[:, column]
    return held


def solve_whole_body(model: opensim.Model, times_s: np.ndarray, targets: MarkerTargets,
                     template_coordinates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Coordinates meeting ``targets`` on ``times_s``: name → ``(n_frames,)`` (rad, m).

    Same cost and output as :func:`solve_whole_body_opensim`, on the loaded ``model`` (with its
    markers; its working state is reset, :func:`gait2hip.virtual_lab.model_poses.default_state`), solved
    by Gauss–Newton with the station Jacobians of OpenSim's matter subsystem on a
    :data:`GAUSS_NEWTON_RATE_HZ` grid, the correction to the template interpolated in between.
    """
    grid = _grid(times_s, GAUSS_NEWTON_RATE_HZ)
    state = default_state(model)
    coordinate_set = model.getCoordinateSet()
    names = [coordinate_set.get(i).getName() for i in range(coordinate_set.getSize())]
    speed_index = speed_indices(model, state)
    locked = set(HELD_COORDINATES + TEMPLATE_ONLY_COORDINATES)
    free = [name for name in names if name not in locked]
    free_columns = np.array([speed_index[name] for name in free])
    n_q = state.getNQ()
    template = np.zeros((len(times_s), n_q))   # (n_frames, n_q), in the state's q order
    for name in names:
        template[:, speed_index[name]] = template_coordinates.get(name, 0.0)
    task_weight = np.array([0.0 if name in PELVIS_TRANSLATIONS else
                            PELVIS_ROTATION_WEIGHT if name.startswith("pelvis_") else COORDINATE_WEIGHT
                            for name in free])
    marker_jacobian = MarkerJacobian(model, [model.getMarkerSet().get(name) for name in targets.names])
    solved = np.zeros((len(grid), n_q))
    correction = np.zeros(n_q)
    for row, frame in enumerate(grid):
        q = template[frame] + correction
        weights = np.repeat(targets.weights[frame] / targets.weights[frame].sum(), 3)  # (3 n_markers,)
        goal = targets.positions_m[frame].reshape(-1)
        for _ in range(GAUSS_NEWTON_MAX_ITERATIONS):
            state.setQ(opensim.Vector.createFromMat(q))
            model.realizePosition(state)
            position, rows = marker_jacobian.evaluate(state)
            J = rows[:, free_columns]               # u = dq/dt for every joint of the model
            deviation = q[free_columns] - template[frame, free_columns]
            normal = J.T @ (weights[:, None] * J) + np.diag(task_weight)
            gradient = J.T @ (weights * (goal - position)) - task_weight * deviation
            step = np.linalg.solve(normal + 1e-12 * np.eye(len(free)), gradient)
            q[free_columns] += step
            if np.max(np.abs(step)) < GAUSS_NEWTON_STEP_TOLERANCE:
                break
        solved[row] = q
        correction = q - template[frame]
    corrections = CubicSpline(times_s[grid], solved - template[grid])(times_s)   # (n_frames, n_q)
    return {name: template[:, speed_index[name]] + corrections[:, speed_index[name]] for name in names}


def _grid(times_s: np.ndarray, rate_hz: float) -> np.ndarray:
    """Indices of the frames of ``times_s`` nearest a ``rate_hz`` grid, first and last included."""
    step = max(1, int(round(1.0 / ((times_s[1] - times_s[0]) * rate_hz))))
    grid = np.arange(0, len(times_s), step)
    return grid if grid[-1] == len(times_s) - 1 else np.append(grid, len(times_s) - 1)
