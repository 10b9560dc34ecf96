"""Optional stage between IK and ID: OpenSim's Residual Reduction Algorithm (``RRATool``).

RRA tracks the IK coordinates with the muscles replaced by ideal joint actuators and weak
pelvis residual actuators, so the optimizer moves the kinematics (within the task weights)
and the torso's centre of mass rather than call on the residuals; it writes a model with the
torso COM moved and recommends a change of total mass (from the mean vertical residual).
With ``passes: 2`` the recommended mass change is applied to every body in proportion to its
mass and RRA runs again on that model, as OpenSim's RRA tutorial does.

Tasks, actuators and their limits follow OpenSim's gait2354/gait2392 RRA example
(``gait2354_RRA_Tasks.xml``, ``gait2354_RRA_Actuators.xml``, ``..._ControlConstraints.xml``),
built here through the API for the model's own unlocked coordinates. The residuals are a
``PointActuator`` per ground axis at the pelvis centre of mass and a ``TorqueActuator`` per
ground axis, named ``FX FY FZ MX MY MZ``: RRATool finds them by those names to average them
and moves the COM by its formula for ground-frame moments.

RRA on frames where a foot stands on the floor off the plates fights the missing load, so run
it over a window where every loaded foot is on a plate. Outputs a caller uses (the adjusted
model and coordinates) are written last, only once RRA has tracked; a failed run leaves none.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim
import pandas as pd

from gait2hip.core.atomic import write_atomically
from gait2hip.core.errors import OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table, table_in_degrees, within, write_mot
from gait2hip.pipeline.config import ResidualReductionConfig
from gait2hip.pipeline.inverse_dynamics import run_inverse_dynamics
from gait2hip.pipeline.opensim_log import run_tool_from_setup

# The residual actuators' names: RRATool reads its residuals by exactly these.
RESIDUAL_FORCES = ("FX", "FY", "FZ")
RESIDUAL_MOMENTS = ("MX", "MY", "MZ")
ADJUSTED_MODEL_FILE = "rra_adjusted_model.osim"
ADJUSTED_COORDINATES_FILE = "rra_coordinates.mot"
# ID and SO read RRA's coordinates unfiltered (OpenSim's "no filter", -1): they are RRA's forward
# simulation of motion it already low-passed, smooth to the second derivative, and the window is
# short: filtering it again pads its ends and puts spurious accelerations well inside it.
ADJUSTED_COORDINATES_CUTOFF_HZ = -1.0
# RRATool's CMC target step (s, its cmc_time_window default): CMC stops one step before the
# final time it is given, so it is given the window's end plus one step.
CMC_STEP_S = 1e-3
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RRAPass:
    """One RRATool run: its files and what it reported.

    ``mass_change_kg`` is the total mass change RRA recommends; ``com_shift_m`` the (x, z) shift
    of the adjusted body's COM it applied; ``peak_residual_force_n`` / ``_moment_nm`` the peak
    norm of its FX-FZ / MX-MZ actuators; ``max_tracking_error_deg`` / ``_m`` its worst task error.
    """

    setup_path: Path
    results_dir: Path
    log_path: Path
    mass_change_kg: float
    com_shift_m: tuple[float, float]
    peak_residual_force_n: float
    peak_residual_moment_nm: float
    max_tracking_error_deg: float
    max_tracking_error_m: float


@dataclass(frozen=True)
class RRAResult:
    """Outputs of :func:`run_residual_reduction`.

    Attributes
    ----------
    adjusted_model_path
        The model with RRA's COM (and, with 2 passes, mass) changes; muscles kept.
    adjusted_coordinates_path
        ``.mot`` of RRA's kinematics on the IK frames inside the time range, degrees, the IK file's columns.
    mass_change_applied_kg
        Total mass change put into the model between passes (0 with one pass).
    mass_change_recommended_kg
        What the last pass still recommends (not applied).
    peak_residual_force_before_n, peak_residual_force_after_n, peak_residual_moment_before_nm, peak_residual_moment_after_nm
        Peak norm of the pelvis residual forces (N) and moments (Nm) from OpenSim's ID over the
        time range less ``edge_exclusion_s`` at each end: input model and IK coordinates (filtered at
        ``lowpass_cutoff_hz``), then the adjusted model and coordinates (unfiltered,
        :data:`ADJUSTED_COORDINATES_CUTOFF_HZ`), both with the same external loads.
    """

    adjusted_model_path: Path
    adjusted_coordinates_path: Path
    passes: tuple[RRAPass, ...]
    mass_change_applied_kg: float
    mass_change_recommended_kg: float
    peak_residual_force_before_n: float
    peak_residual_force_after_n: float
    peak_residual_moment_before_nm: float
    peak_residual_moment_after_nm: float
    time_range_s: tuple[float, float]
    wall_time_s: float
    adjusted_id_forces_path: Path | None = None


def run_residual_reduction(*, model_path: Path, coordinates_path: Path, external_loads_path: Path, out_dir: Path,
                           settings: ResidualReductionConfig, pelvis_translations: Sequence[str],
                           pelvis_rotations: Sequence[str], time_range_s: tuple[float, float], trial_id: str,
                           log_dir: Path | None = None) -> RRAResult:
    """Run RRA (1 or 2 passes) over ``time_range_s`` and check it with OpenSim's ID before and after.

    Parameters
    ----------
    model_path, coordinates_path, external_loads_path
        Scaled model, IK ``.mot`` (degrees) and the ``ExternalLoads`` XML ID uses.
    pelvis_translations, pelvis_rotations
        The root coordinates (the model YAML's): residual actuators replace their joint actuators.
    time_range_s
        ``(start, end)`` in s; a window where every loaded foot is on a plate.

    Raises
    ------
    OpenSimToolError
        If RRATool fails, writes no kinematics, stops short of the end, or does not track
        (a task error past ``max_tracking_error_deg`` / ``_m``). No adjusted output is left then.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    log_dir = Path(log_dir or out_dir / "logs")
    adjusted_model_path, adjusted_coordinates_path = out_dir / ADJUSTED_MODEL_FILE, out_dir / ADJUSTED_COORDINATES_FILE
    for stale in (adjusted_model_path, adjusted_coordinates_path):
        stale.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = opensim.Model(str(model_path))
    model.initSystem()
    pelvis = set(pelvis_translations) | set(pelvis_rotations)
    tasks_path = _write_tasks(model, settings, out_dir / "rra_tasks.xml")
    actuators_path = _write_actuators(model, pelvis, pelvis_translations[0], settings, out_dir / "rra_actuators.xml")

    passes, pass_model, applied_kg = [], Path(model_path).resolve(), 0.0
    for index in range(1, settings.passes + 1):
        rra_pass = _run_pass(index, model_path=pass_model, coordinates_path=coordinates_path,
                             external_loads_path=external_loads_path, tasks_path=tasks_path,
                             actuators_path=actuators_path, out_dir=out_dir / f"pass{index}", settings=settings,
                             time_range_s=time_range_s, trial_id=trial_id, log_dir=log_dir)
        passes.append(rra_pass)
        pass_model = rra_pass.results_dir / "adjusted_model.osim"
        if index < settings.passes:
            pass_model = _with_mass_change(pass_model, rra_pass.mass_change_kg, out_dir / f"pass{index}_mass_adjusted.osim")
            applied_kg += rra_pass.mass_change_kg

    staged_coordinates = out_dir / f"pass{settings.passes}" / "rra_coordinates_on_ik_frames.mot"
    _write_on_ik_frames(passes[-1].results_dir / "rra_Kinematics_q.sto", coordinates_path, time_range_s,
                        staged_coordinates, trial_id, passes[-1].log_path)
    before = _peak_residuals(model_path, coordinates_path, external_loads_path, out_dir / "id_before", settings,
                             settings.lowpass_cutoff_hz, pelvis_translations, pelvis_rotations, time_range_s, trial_id)
    after = _peak_residuals(pass_model, staged_coordinates, external_loads_path, out_dir / "id_after", settings,
                            ADJUSTED_COORDINATES_CUTOFF_HZ, pelvis_translations, pelvis_rotations, time_range_s,
                            trial_id)
    # The files a caller uses appear last, each whole: a failure above leaves neither.
    write_atomically(adjusted_model_path, lambda temporary: shutil.copyfile(pass_model, temporary))
    write_atomically(adjusted_coordinates_path, lambda temporary: shutil.copyfile(staged_coordinates, temporary))
    return RRAResult(adjusted_model_path, adjusted_coordinates_path, tuple(passes), applied_kg,
                     passes[-1].mass_change_kg, before[0], after[0], before[1], after[1],
                     (float(time_range_s[0]), float(time_range_s[1])), time.perf_counter() - start,
                     adjusted_id_forces_path=after[2])


def _write_tasks(model: opensim.Model, settings: ResidualReductionConfig, path: Path) -> Path:
    """``CMC_TaskSet`` XML: one ``CMC_Joint`` task per unlocked, independent coordinate."""
    tasks = opensim.CMC_TaskSet()
    tasks.setName("rra_tasks")
    for coordinate in _free_coordinates(model):
        name = coordinate.getName()
        task = opensim.CMC_Joint(name)
        task.setName(name)
        task.setOn(True)
        task.setWeight(settings.task_weights.get(name, settings.default_task_weight), 1.0, 1.0)
        task.setActive(True, False, False)
        task.setKP(settings.task_kp, 1.0, 1.0)
        task.setKV(settings.task_kv, 1.0, 1.0)
        task.setKA(1.0, 1.0, 1.0)
        tasks.cloneAndAppend(task)
    tasks.printToXML(str(path))
    return path


def _write_actuators(model: opensim.Model, pelvis: set[str], root_coordinate: str,
                     settings: ResidualReductionConfig, path: Path) -> Path:
    """``ForceSet`` XML: residuals FX..MZ on the root body, an ideal actuator on every other free coordinate."""
    root_body = model.getCoordinateSet().get(root_coordinate).getJoint().getChildFrame().findBaseFrame().getName()
    centre_of_mass = model.getBodySet().get(root_body).getMassCenter()
    force_set = opensim.ForceSet()
    force_set.setName("rra_actuators")
    for axis, name in enumerate(RESIDUAL_FORCES):
        actuator = opensim.PointActuator(root_body)
        actuator.setName(name)
        actuator.set_point(centre_of_mass)
        actuator.set_point_is_global(False)
        actuator.set_direction(opensim.Vec3(*[1.0 if i == axis else 0.0 for i in range(3)]))
        actuator.set_force_is_global(True)
        actuator.setOptimalForce(settings.residual_vertical_force_optimal_n if name == "FY"
                                 else settings.residual_force_optimal_n)
        _bound(actuator, settings.residual_force_max_control)
        force_set.cloneAndAppend(actuator)
    for axis, name in enumerate(RESIDUAL_MOMENTS):
        actuator = opensim.TorqueActuator()
        actuator.setName(name)
        actuator.set_bodyA(root_body)
        actuator.set_bodyB("ground")
        actuator.set_axis(opensim.Vec3(*[1.0 if i == axis else 0.0 for i in range(3)]))
        actuator.set_torque_is_global(True)
        actuator.setOptimalForce(settings.residual_moment_optimal_nm)
        _bound(actuator, settings.residual_moment_max_control)
        force_set.cloneAndAppend(actuator)
    for coordinate in _free_coordinates(model):
        name = coordinate.getName()
        if name in pelvis:
            continue
        actuator = opensim.CoordinateActuator(name)
        actuator.setName(name)
        actuator.setOptimalForce(settings.joint_optimal_forces_nm.get(name, settings.default_joint_optimal_force_nm))
        _bound(actuator, settings.joint_max_control)
        force_set.cloneAndAppend(actuator)
    force_set.printToXML(str(path))
    return path


def _bound(actuator, max_control: float) -> None:
    actuator.setMinControl(-max_control)
    actuator.setMaxControl(max_control)


def _free_coordinates(model: opensim.Model) -> list:
    coordinates = model.getCoordinateSet()
    return [coordinates.get(i) for i in range(coordinates.getSize())
            if not coordinates.get(i).get_locked() and coordinates.get(i).getMotionType() != coordinates.get(i).Coupled]


def _run_pass(index: int, *, model_path: Path, coordinates_path: Path, external_loads_path: Path, tasks_path: Path,
              actuators_path: Path, out_dir: Path, settings: ResidualReductionConfig,
              time_range_s: tuple[float, float], trial_id: str, log_dir: Path) -> RRAPass:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    tool = opensim.RRATool()
    tool.setName("rra")
    tool.setModelFilename(str(model_path))
    tool.setDesiredKinematicsFileName(str(Path(coordinates_path).resolve()))
    tool.setExternalLoadsFileName(str(Path(external_loads_path).resolve()))
    tool.setTaskSetFileName(str(tasks_path))
    force_set_files = opensim.ArrayStr()
    force_set_files.append(str(actuators_path))
    tool.setForceSetFiles(force_set_files)
    tool.setReplaceForceSet(True)
    tool.setLowpassCutoffFrequency(settings.lowpass_cutoff_hz)
    tool.setInitialTime(float(time_range_s[0]))
    tool.setFinalTime(float(time_range_s[1]) + CMC_STEP_S)
    tool.setResultsDir(str(out_dir))
    tool.setAdjustCOMToReduceResiduals(True)
    tool.setAdjustedCOMBody(settings.adjusted_com_body)
    tool.setOutputModelFileName(str(out_dir / "adjusted_model.osim"))
    setup_path = out_dir / "setup_rra.xml"
    tool.printToXML(str(setup_path))
    stage = f"rra_pass{index}"
    log_path = run_tool_from_setup(opensim.RRATool, setup_path, out_dir / "rra_Kinematics_q.sto", trial_id=trial_id,
                                   stage=stage, log_dir=log_dir)
    if not (out_dir / "adjusted_model.osim").is_file():
        raise OpenSimToolError(trial_id, stage, "RRA wrote no adjusted model", log_path)
    log_text = log_path.read_text(errors="replace")
    mass = re.search(r"Total mass change:\s*(\S+)", log_text)
    shift = re.search(r"adjustment:\s*dx\s*=\s*(\S+?),\s*dz\s*=\s*(\S+)", log_text)
    if mass is None or shift is None:
        raise OpenSimToolError(trial_id, stage, "RRA's log has no mass and COM adjustment summary", log_path)
    forces = _read_rra_storage(out_dir / "rra_Actuation_force.sto")
    errors = _read_rra_storage(out_dir / "rra_pErr.sto")
    rotation_columns, translation_columns = _error_columns(errors, Path(model_path))
    rotation_error_deg = float(np.degrees(np.abs(errors[rotation_columns].to_numpy()).max())) if rotation_columns else 0.0
    translation_error_m = float(np.abs(errors[translation_columns].to_numpy()).max()) if translation_columns else 0.0
    if not (rotation_error_deg <= settings.max_tracking_error_deg and translation_error_m <= settings.max_tracking_error_m):
        raise OpenSimToolError(trial_id, stage, f"RRA did not track the kinematics: worst task error "
                                                f"{rotation_error_deg:.3g} deg, {translation_error_m:.3g} m (limits "
                                                f"{settings.max_tracking_error_deg:g} deg, {settings.max_tracking_error_m:g} m)",
                               log_path)
    return RRAPass(setup_path, out_dir, log_path, float(mass.group(1)), (float(shift.group(1)), float(shift.group(2))),
                   _peak_norm(forces, list(RESIDUAL_FORCES)), _peak_norm(forces, list(RESIDUAL_MOMENTS)),
                   rotation_error_deg, translation_error_m)


def _error_columns(errors, model_path: Path) -> tuple[list[str], list[str]]:
    """The position-error columns of rotational and translational tasks (``pErr`` is in rad and m)."""
    model = opensim.Model(str(model_path))
    coordinates = model.getCoordinateSet()
    rotations, translations = [], []
    for column in errors.columns[1:]:
        if not coordinates.contains(column):
            continue
        is_rotation = coordinates.get(column).getMotionType() == coordinates.get(column).Rotational
        (rotations if is_rotation else translations).append(column)
    return rotations, translations


def _read_rra_storage(path: Path) -> pd.DataFrame:
    """An RRA output ``.sto`` as a DataFrame (``time`` first), one row per time.

    CMC writes its last step twice; OpenSim's ``Storage`` (not ``TimeSeriesTable``, which
    refuses repeated times) reads it, and the repeated row is dropped.
    """
    storage = opensim.Storage(str(path))
    times = opensim.ArrayDouble()
    storage.getTimeColumn(times)
    columns = {"time": np.array([times.get(i) for i in range(times.getSize())])}
    labels = storage.getColumnLabels()
    for index in range(1, labels.getSize()):
        values = opensim.ArrayDouble()
        storage.getDataColumn(labels.get(index), values)
        columns[labels.get(index)] = np.array([values.get(i) for i in range(values.getSize())])
    table = pd.DataFrame(columns)
    return table[~table["time"].duplicated(keep="last")].reset_index(drop=True)


def _peak_norm(table, columns: list[str]) -> float:
    return float(np.max(np.linalg.norm(table[columns].to_numpy(), axis=1)))


def _with_mass_change(model_path: Path, mass_change_kg: float, out_path: Path) -> Path:
    """The model with ``mass_change_kg`` spread over its bodies in proportion to their mass (RRA's recommendation)."""
    model = opensim.Model(str(model_path))
    bodies = model.getBodySet()
    total_kg = sum(bodies.get(i).getMass() for i in range(bodies.getSize()))
    for i in range(bodies.getSize()):
        body = bodies.get(i)
        body.setMass(body.getMass() * (1.0 + mass_change_kg / total_kg))
    model.printToXML(str(out_path))
    return out_path


def _write_on_ik_frames(rra_kinematics_path: Path, ik_path: Path, time_range_s: tuple[float, float], out_path: Path,
                        trial_id: str, log_path: Path) -> Path:
    """RRA's coordinates (its 1 kHz CMC steps) at the IK frames inside ``time_range_s``, degrees, the IK columns."""
    rra = _read_rra_storage(rra_kinematics_path)
    ik = read_opensim_table(ik_path)
    rra_times = rra["time"].to_numpy()
    ik_times = ik["time"].to_numpy()
    frames = ik_times[within(ik_times, time_range_s)]
    if rra_times[0] > frames[0] + 1e-9 or rra_times[-1] < frames[-1] - 1e-9:
        raise OpenSimToolError(trial_id, "rra", f"RRA's kinematics cover {rra_times[0]:.3f}-{rra_times[-1]:.3f} s, "
                                                f"not the IK frames {frames[0]:.3f}-{frames[-1]:.3f} s", log_path)
    missing = [name for name in ik.columns[1:] if name not in rra.columns]
    if missing:
        raise OpenSimToolError(trial_id, "rra", f"RRA's kinematics lack coordinate(s) {', '.join(missing)}", log_path)
    if opensim.Storage(str(rra_kinematics_path)).isInDegrees() != table_in_degrees(ik_path):
        raise OpenSimToolError(trial_id, "rra", f"{rra_kinematics_path.name} and {ik_path.name} differ in inDegrees",
                               log_path)
    columns = {name: np.interp(frames, rra_times, rra[name].to_numpy()) for name in ik.columns[1:]}
    if not all(np.isfinite(values).all() for values in columns.values()):
        raise OpenSimToolError(trial_id, "rra", "RRA's kinematics hold NaN or infinite values", log_path)
    return write_mot(out_path, columns, frames, in_degrees=table_in_degrees(ik_path))


def _peak_residuals(model_path: Path, coordinates_path: Path, external_loads_path: Path, out_dir: Path,
                    settings: ResidualReductionConfig, lowpass_cutoff_hz: float, translations: Sequence[str],
                    rotations: Sequence[str], time_range_s: tuple[float, float],
                    trial_id: str) -> tuple[float, float, Path]:
    """Peak norm of the pelvis residual force (N) and moment (Nm) from OpenSim's ID over ``time_range_s``, and its file.

    ID logs into ``out_dir/logs``, beside its output, so the trial's own ``id`` log stays the trial's ID.
    """
    result = run_inverse_dynamics(model_path=model_path, coordinates_path=coordinates_path,
                                  external_loads_path=external_loads_path, out_dir=out_dir,
                                  lowpass_cutoff_hz=lowpass_cutoff_hz, time_range_s=time_range_s,
                                  trial_id=trial_id, log_dir=out_dir / "logs")
    table = read_opensim_table(result.generalized_forces_path)
    times = table["time"].to_numpy()
    edge_s = settings.edge_exclusion_s
    inside = within(times, (time_range_s[0] + edge_s, time_range_s[1] - edge_s))
    table = table[inside] if inside.sum() >= 2 else table
    return (_peak_norm(table, [f"{name}_force" for name in translations]),
            _peak_norm(table, [f"{name}_moment" for name in rotations]), result.generalized_forces_path)
