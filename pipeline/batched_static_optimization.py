"""Stage 4 without IPOPT: OpenSim's StaticOptimization problem, set up per frame and solved for all frames at once.

OpenSim's ``StaticOptimization`` (``StaticOptimizationTarget``) minimises ``Σ control²`` over every
actuator, muscles at ``control × calcInextensibleTendonActiveFiberForce(state, 1)`` (no passive fibre
force) and coordinate actuators at ``control × optimal force``, subject to the model's accelerations
of the unconstrained coordinates equalling the target ones, with each control within its actuator's
min/max control. The mass matrix maps that equality one to one onto ``A·control = τ``: column ``j``
of ``A`` is actuator ``j``'s generalized force at unit control and ``τ`` the model's inverse dynamics
(gravity, external loads, other force elements) at the target accelerations. This module builds
``A`` and ``τ`` from the model (moment arms from unit-speed lengthening speeds,
:mod:`gait2hip.pipeline.muscle_geometry`), takes the kinematics the way the AnalyzeTool does (its
own ``loadStatesFromFile``: low-pass with padding, GCV splines for speeds, then the GCV-spline
derivative of the speeds that StaticOptimization uses as target accelerations), solves the
bound-constrained least-norm problems together (:mod:`gait2hip.pipeline.bounded_least_squares`) and
writes OpenSim's two result files through OpenSim's ``Storage``.

One model serves every step. Its actuators are switched off (``setAppliesForce``) for the frames,
which makes its inverse dynamics that of the model without them (at zero control they apply no
force) and spares their path forces at Dynamics; ``τ`` is ``calcResidualForceIgnoringConstraints``
on the forces realized at Dynamics, the computation inside ``InverseDynamicsSolver.solve``. Per
frame one realization to Dynamics gives ``τ``, the capacities and the external loads' record
values, and one velocity realization per speed group gives the moment arms.

Unlike the tool it needs no muscle equilibrium at the first frame (rigid-tendon forces only), so it
never starts late. Model features it does not reproduce raise :class:`BatchedSOUnsupportedError`:
run the OpenSim solver then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import opensim

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.core.errors import Gait2HipError
from gait2hip.pipeline.bounded_least_squares import solve_bounded_least_norm
from gait2hip.pipeline.config import StaticOptimizationConfig
from gait2hip.pipeline.muscle_geometry import (UnitSpeedMomentArms, active_capacities, coordinate_indices,
                                               find_speed_groups)
from gait2hip.pipeline.static_optimization import SO_FAILURE_MESSAGE, SOResult

# OpenSim's StaticOptimization spline degree for the states (GCVSplineSet(5, states)).
_SPLINE_DEGREE = 5
# The AnalyzeTool's default output precision (digits after the point in its .sto files).
_OUTPUT_PRECISION = 8
# Equality residual (relative to the largest |τ| of the frame) at which a frame is solved.
_SOLVER_TOLERANCE = 1e-12
# Frames set up and solved together: their (frames, rows, actuators) matrices and the solver's
# working copies of them take ~0.1 MB a frame for gait2392 (a module constant, not a setting: it
# changes no result, so it stays out of the config hash).
CHUNK_FRAMES = 500
_log = logging.getLogger(__name__)


class BatchedSOUnsupportedError(Gait2HipError):
    """The model has a feature the batched solver does not reproduce; use ``solver: opensim``."""

    stage = "so"

    def __init__(self, trial_id: str, model_path: Path, feature: str):
        self.trial_id = trial_id
        self.model_path = Path(model_path)
        self.feature = feature
        super().__init__(f"{trial_id}: {self.model_path}: batched static optimization does not support {feature}; "
                         "run it with solver: opensim")


def run_batched_static_optimization(*, model_path: Path, coordinates_path: Path, external_loads_path: Path,
                                    actuators_path: Path, out_dir: Path, settings: StaticOptimizationConfig,
                                    time_range_s: tuple[float, float], trial_id: str, log_dir: Path | None = None,
                                    later_start_times_s: Sequence[float] = (),
                                    chunk_frames: int = CHUNK_FRAMES) -> SOResult:
    """Solve OpenSim's static optimization for every frame of ``time_range_s`` at once.

    Same inputs and outputs as :func:`gait2hip.pipeline.static_optimization.run_static_optimization`:
    ``so_StaticOptimization_force.sto`` (every force the ForceReporter lists: actuators in N or Nm,
    external loads) and ``so_StaticOptimization_activation.sto`` (controls) in ``out_dir``, same
    columns, times and format. ``later_start_times_s`` is accepted for the same signature and never
    needed: no frame depends on a muscle equilibrium. Frames are set up and solved ``chunk_frames``
    at a time (same results whatever the chunk: every frame is its own problem), which bounds the
    solver's memory whatever the trial's length. The settings actually used are written to
    ``setup_so_batched.json``; the log ``so_batched.log`` names every unsolved frame with OpenSim's
    wording, and those frames count in ``n_failed_frames``.

    Raises
    ------
    BatchedSOUnsupportedError
        For a model feature this solver does not reproduce (kinematic constraints, prescribed
        coordinates, non-coordinate actuators, activation exponent other than 2).
    """
    del later_start_times_s
    start = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = Path(log_dir or out_dir / "logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    forces_path = out_dir / "so_StaticOptimization_force.sto"
    activations_path = out_dir / "so_StaticOptimization_activation.sto"
    for stale in (forces_path, activations_path):
        stale.unlink(missing_ok=True)
    if settings.activation_exponent != 2.0:
        raise BatchedSOUnsupportedError(trial_id, model_path, f"activation_exponent {settings.activation_exponent:g} "
                                        "(only 2, a quadratic cost)")

    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be 1 or more, got {chunk_frames}")

    problem = _SOProblem(Path(model_path), Path(actuators_path), Path(external_loads_path), trial_id)
    times_s, q, u, udot = problem.target_kinematics(Path(coordinates_path), settings.lowpass_cutoff_hz, time_range_s)
    n_frames, n_columns = len(times_s), len(problem.names)
    controls = np.zeros((n_frames, n_columns))
    actuations = np.zeros((n_frames, n_columns))
    converged = np.zeros(n_frames, dtype=bool)
    other_values: list = []
    iterations = 0
    # Frames are independent problems, so solving them a chunk at a time gives the same bits as
    # all at once while the (frames, rows, actuators) matrices stay the size of one chunk.
    for first in range(0, n_frames, chunk_frames):
        chunk = slice(first, min(first + chunk_frames, n_frames))
        matrix, target, optimal_forces, chunk_other_values = problem.frames(
            times_s[chunk], q[chunk], u[chunk], udot[chunk], settings.use_muscle_physiology)
        solution = solve_bounded_least_norm(matrix, target, problem.lower, problem.upper,
                                            tolerance=_SOLVER_TOLERANCE, max_iterations=settings.max_iterations)
        controls[chunk] = solution.x
        actuations[chunk] = solution.x * optimal_forces
        converged[chunk] = solution.converged
        other_values.extend(chunk_other_values)
        iterations = max(iterations, solution.iterations)
        del matrix, target, optimal_forces, solution
    problem.write_results(times_s, controls, actuations, other_values, forces_path, activations_path)

    setup_path = write_json_atomically(out_dir / "setup_so_batched.json", {
        "solver": "batched", "model": str(Path(model_path).resolve()),
        "coordinates": str(Path(coordinates_path).resolve()),
        "external_loads": str(Path(external_loads_path).resolve()), "actuators": str(Path(actuators_path).resolve()),
        "time_range_s": list(time_range_s), "lowpass_cutoff_hz": settings.lowpass_cutoff_hz,
        "activation_exponent": settings.activation_exponent, "use_muscle_physiology": settings.use_muscle_physiology,
        "max_iterations": settings.max_iterations, "equality_tolerance_relative": _SOLVER_TOLERANCE})
    failed_times = times_s[~converged]
    lines = [f"{trial_id}: batched static optimization of {n_frames} frames ({times_s[0]:g} to {times_s[-1]:g} s),"
             f" {n_columns} actuators, {len(problem.rows)} acceleration constraints, "
             f"{iterations} Newton iterations"]
    lines += [f"StaticOptimization.record: The {SO_FAILURE_MESSAGE} at time = {t:g}." for t in failed_times]
    log_path = log_dir / "so_batched.log"
    write_atomically(log_path, lambda temporary: temporary.write_text("\n".join(lines) + "\n"))
    if len(failed_times):
        _log.warning("%s: batched SO found no solution at %d frame(s), first at %.3f s", trial_id,
                     len(failed_times), failed_times[0])
    return SOResult(forces_path, activations_path, setup_path, int(len(failed_times)), time.perf_counter() - start,
                    log_path, start_time_s=float(times_s[0]))


class _SOProblem:
    """The SO model (model + actuators + external loads, as the AnalyzeTool builds it) and its per-frame terms."""

    def __init__(self, model_path: Path, actuators_path: Path, external_loads_path: Path, trial_id: str):
        self.trial_id, self.model_path = trial_id, model_path
        model = opensim.Model(str(model_path))
        extra = opensim.ForceSet(str(actuators_path))
        for index in range(extra.getSize()):
            model.updForceSet().cloneAndAppend(extra.get(index))
        model.addModelComponent(opensim.ExternalLoads(str(external_loads_path), True))
        self.model = model
        self.state = model.initSystem()
        self._check_supported()
        self.coordinate_names, self.q_index, self.u_index = coordinate_indices(model, self.state)
        coordinates = model.getCoordinateSet()
        self.locked = np.array([coordinates.get(name).isConstrained(self.state) for name in self.coordinate_names])
        # Acceleration constraints only on the unconstrained coordinates, as StaticOptimizationTarget sets them.
        self.rows = self.u_index[~self.locked]

        actuators = [model.getActuators().get(i) for i in range(model.getActuators().getSize())]
        self.actuators = [actuator for actuator in actuators if actuator.get_appliesForce()]
        self.names = [actuator.getName() for actuator in self.actuators]
        self.muscles, self.muscle_columns, self.coordinate_actuators = [], [], []
        for column, actuator in enumerate(self.actuators):
            muscle = opensim.Muscle.safeDownCast(actuator)
            if muscle is not None:
                self.muscles.append(muscle)
                self.muscle_columns.append(column)
                continue
            coordinate_actuator = opensim.CoordinateActuator.safeDownCast(actuator)
            if coordinate_actuator is None:
                raise BatchedSOUnsupportedError(trial_id, model_path,
                                                f"actuator {actuator.getName()} of type {actuator.getConcreteClassName()}"
                                                " (only muscles and CoordinateActuators)")
            u_of = self.u_index[self.coordinate_names.index(coordinate_actuator.getCoordinate().getName())]
            self.coordinate_actuators.append((column, u_of, coordinate_actuator.getOptimalForce()))
        self.muscle_columns = np.asarray(self.muscle_columns, dtype=int)
        scalar = [opensim.ScalarActuator.safeDownCast(actuator) for actuator in self.actuators]
        self.lower = np.array([actuator.getMinControl() for actuator in scalar])
        self.upper = np.array([actuator.getMaxControl() for actuator in scalar])
        for actuator in scalar:
            actuator.overrideActuation(self.state, True)
            actuator.setOverrideActuation(self.state, 0.0)
        self.groups = find_speed_groups(model, [muscle.getName() for muscle in self.muscles],
                                        dict(zip(self.coordinate_names, self.u_index)), self.state.getNU())
        # Every force the ForceReporter records, in its order; the actuators' values are replaced.
        self.forces = [opensim.Force.safeDownCast(component) for component in model.getComponentsList()
                       if opensim.Force.safeDownCast(component) is not None]
        self.forces = [force for force in self.forces if force.appliesForce(self.state)]
        actuator_column = {name: column for column, name in enumerate(self.names)}
        self.force_actuator_column = [actuator_column.get(force.getName(), -1) for force in self.forces]
        self.recorded_forces = [force if column < 0 else None
                                for force, column in zip(self.forces, self.force_actuator_column)]

    def _check_supported(self) -> None:
        constraints = self.model.getConstraintSet()
        for index in range(constraints.getSize()):
            if constraints.get(index).isEnforced(self.state):
                raise BatchedSOUnsupportedError(self.trial_id, self.model_path, "kinematic constraints "
                                                f"(constraint {constraints.get(index).getName()})")
        coordinates = self.model.getCoordinateSet()
        for index in range(coordinates.getSize()):
            coordinate = coordinates.get(index)
            if coordinate.isPrescribed(self.state):
                raise BatchedSOUnsupportedError(self.trial_id, self.model_path,
                                                f"prescribed coordinate {coordinate.getName()}")

    def target_kinematics(self, coordinates_path: Path, lowpass_cutoff_hz: float, time_range_s: tuple[float, float]):
        """``(times_s (F,), q (F, nq), u (F, nu), udot (F, nu))`` of the frames StaticOptimization visits.

        The AnalyzeTool's own ``loadStatesFromFile`` makes the states (pad by half the rows,
        ``lowpassIIR``, GCV-spline speeds, assembled); the targets are the derivatives of the
        degree-5 GCV splines of the speed columns, as StaticOptimization's ``GCVSplineSet(5, states)``.
        Locked coordinates get zero target acceleration (their constraint holds them).
        """
        tool = opensim.AnalyzeTool()
        tool.setModel(self.model)
        tool.setCoordinatesFileName(str(Path(coordinates_path).resolve()))
        tool.setLowpassCutoffFrequency(lowpass_cutoff_hz)
        tool.loadStatesFromFile(self.state)
        states = tool.getStatesStorage()
        coordinates = self.model.getCoordinateSet()
        value_columns, speed_columns = [], []
        for name in self.coordinate_names:
            coordinate = coordinates.get(name)
            paths = coordinate.getStateVariableNames()
            value_columns.append(_state_column(states, paths.get(0), coordinate.getName()))
            speed_columns.append(_state_column(states, paths.get(1), coordinate.getSpeedName()))
        all_times = np.array([states.getStateVector(i).getTime() for i in range(states.getSize())])
        data = np.array([states.getStateVector(i).getData().getAsVector().to_numpy() for i in range(states.getSize())])
        first, last = states.findIndex(time_range_s[0]), states.findIndex(time_range_s[1])
        frames = np.arange(first, last + 1)

        # Only the unlocked coordinates' speeds are splined; the derivative storage holds each spline's
        # first derivative at every node, i.e. at every state time.
        splined = [k for k in range(len(speed_columns)) if not self.locked[k]]
        speeds = opensim.Storage()
        labels = opensim.ArrayStr()
        for label in ["time", *[f"u{k}" for k in splined]]:
            labels.append(label)
        speeds.setColumnLabels(labels)
        splined_columns = np.asarray(speed_columns)[splined]
        for row in range(len(all_times)):
            speeds.append(float(all_times[row]), opensim.Vector.createFromMat(data[row, splined_columns]))
        derivatives = opensim.GCVSplineSet(_SPLINE_DEGREE, speeds).constructStorage(1)
        derivative_times = np.array([derivatives.getStateVector(i).getTime() for i in range(derivatives.getSize())])
        if not np.array_equal(derivative_times, all_times):
            raise RuntimeError("the speed splines' derivative storage is not at the state times")
        n_q, n_u = self.state.getNQ(), self.state.getNU()
        q = np.zeros((len(frames), n_q))
        u = np.zeros((len(frames), n_u))
        udot = np.zeros((len(frames), n_u))
        q[:, self.q_index] = data[np.ix_(frames, value_columns)]
        u[:, self.u_index] = data[np.ix_(frames, speed_columns)]
        udot[:, self.u_index[splined]] = [derivatives.getStateVector(int(row)).getData().getAsVector().to_numpy()
                                          for row in frames]
        return all_times[frames], q, u, udot

    def frames(self, times_s, q, u, udot, use_muscle_physiology: bool):
        """Per frame: ``A (F, m, n)``, ``τ (F, m)``, force per unit control ``(F, n)``, other forces' record values.

        One realization to Dynamics at the frame's q and u gives the muscles' capacities (they need
        Velocity), the applied forces of the inverse dynamics and the other forces' record values;
        then one velocity realization per speed group gives the moment arms.
        """
        model, state = self.model, self.state
        # The inverse dynamics is the model's with every actuator at zero control, i.e. without the
        # actuators: switched off, their paths need no force evaluation at Dynamics. Lengthening
        # speeds and fibre forces do not depend on whether a force applies.
        for actuator in self.actuators:
            actuator.setAppliesForce(state, False)
        n_frames, n_columns = len(times_s), len(self.actuators)
        n_muscles, n_u = len(self.muscles), state.getNU()
        max_isometric = np.array([muscle.getMaxIsometricForce() for muscle in self.muscles])
        moment_arms = UnitSpeedMomentArms(model, self.muscles, self.groups, n_u)
        matter = model.getMatterSubsystem()
        readings = np.zeros((n_frames, moment_arms.n_readings))
        capacities = np.zeros((n_frames, n_muscles))
        tau = np.zeros((n_frames, n_u))
        residual = opensim.Vector(n_u, 0.0)
        other_values = []
        for frame in range(n_frames):
            state.setTime(float(times_s[frame]))
            state.setQ(opensim.Vector.createFromMat(q[frame]))
            state.setU(opensim.Vector.createFromMat(u[frame]))
            model.realizeDynamics(state)
            capacities[frame] = active_capacities(state, self.muscles) if use_muscle_physiology else max_isometric
            # InverseDynamicsSolver.solve: the residual of M·u̇ + bias against the applied forces.
            matter.calcResidualForceIgnoringConstraints(state, model.getMobilityForces(state),
                                                        model.getRigidBodyForces(state),
                                                        opensim.Vector.createFromMat(udot[frame]), residual)
            tau[frame] = residual.to_numpy()
            other_values.append([None if force is None else force.getRecordValues(state).getAsVector().to_numpy()
                                 for force in self.recorded_forces])
            readings[frame] = moment_arms.readings(state)
        arms = moment_arms.to_arms(readings)
        per_unit = np.zeros((n_frames, n_u, n_columns))
        optimal_forces = np.zeros((n_frames, n_columns))
        for column, u_of, optimal_force in self.coordinate_actuators:
            per_unit[:, u_of, column] = optimal_force
            optimal_forces[:, column] = optimal_force
        per_unit[:, :, self.muscle_columns] = arms.transpose(0, 2, 1) * capacities[:, None, :]
        optimal_forces[:, self.muscle_columns] = capacities
        return per_unit[:, self.rows], tau[:, self.rows], optimal_forces, other_values

    def write_results(self, times_s, controls, actuations, other_values, forces_path: Path, activations_path: Path):
        """Write the activation and force ``.sto`` files as StaticOptimization's ``printResults`` does."""
        opensim.IO.SetPrecision(_OUTPUT_PRECISION)
        activations = opensim.Storage(1000, "Static Optimization")
        activations.setDescription("This file contains static optimization results.\n\n")
        labels = opensim.ArrayStr()
        for label in ["time", *self.names]:
            labels.append(label)
        activations.setColumnLabels(labels)
        # The reporter's own storage carries its name and description; its columns are each
        # force's record labels, in the order ForceReporter.begin lists them.
        reporter = opensim.ForceReporter(self.model)
        forces = reporter.updForceStorage()
        labels = opensim.ArrayStr()
        labels.append("time")
        for force in self.forces:
            record_labels = force.getRecordLabels()
            for index in range(record_labels.getSize()):
                labels.append(record_labels.get(index))
        forces.setColumnLabels(labels)
        for frame, t in enumerate(times_s):
            activations.append(float(t), opensim.Vector.createFromMat(np.ascontiguousarray(controls[frame])))
            row = [np.array([actuations[frame, column]]) if column >= 0 else values
                   for values, column in zip(other_values[frame], self.force_actuator_column)]
            forces.append(float(t), opensim.Vector.createFromMat(np.concatenate(row)))
        if forces.getColumnLabels().getSize() != 1 + len(np.concatenate(row)):
            raise RuntimeError("force columns do not match the ForceReporter's labels")
        write_atomically(activations_path, lambda temporary: activations.printToFile(str(temporary), "w"))
        write_atomically(forces_path, lambda temporary: forces.printToFile(str(temporary), "w"))


def _state_column(states: opensim.Storage, path: str, short_name: str) -> int:
    """Index (time excluded) of a coordinate's state column, by its full path or short name."""
    for name in (path, short_name):
        index = states.getStateIndex(name)
        if index >= 0:
            return index
    raise ValueError(f"states have no column {path}")
