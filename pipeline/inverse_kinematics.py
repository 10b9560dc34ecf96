"""Stage 2: joint coordinates from markers with OpenSim's ``InverseKinematicsTool``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import math

import numpy as np
import opensim

from gait2hip.core.errors import ConfigError, OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.pipeline.model_config import CoordinateTarget
from gait2hip.pipeline.opensim_log import run_tool_from_setup


@dataclass(frozen=True)
class IKResult:
    """Outputs of :func:`run_inverse_kinematics`.

    Attributes
    ----------
    coordinates_path
        OpenSim ``.mot`` of all model coordinates (rotations in degrees, translations in m).
    marker_errors_path
        ``.sto`` of per-frame total squared error, RMS and max marker error (m).
    marker_rms_error_m
        Mean over frames of the per-frame RMS marker error (m).
    marker_max_error_m
        Largest marker error in any frame (m).
    """

    coordinates_path: Path
    marker_errors_path: Path
    setup_path: Path
    marker_rms_error_m: float
    marker_max_error_m: float
    n_frames: int
    wall_time_s: float
    log_path: Path


def run_inverse_kinematics(*, model_path: Path, markers_trc_path: Path, out_dir: Path,
                           marker_weights: dict[str, float], accuracy: float,
                           time_range_s: tuple[float, float], trial_id: str,
                           coordinate_targets: dict[str, CoordinateTarget] | None = None,
                           log_dir: Path | None = None) -> IKResult:
    """Run IK on ``markers_trc_path`` with ``model_path``; setup XML and outputs in ``out_dir``.

    Parameters
    ----------
    marker_weights
        Marker name → weight; markers not listed are ignored.
    coordinate_targets
        Optional coordinates held near a value (degrees for rotations, m for translations) by
        a coordinate task of the target's weight, e.g. subtalar angle 0 in a static trial.
    log_dir
        Where the OpenSim logs go (default ``out_dir/logs``).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    coordinates_path = out_dir / "ik_coordinates.mot"
    errors_path = out_dir / "ik_ik_marker_errors.sto"
    setup_path = out_dir / "setup_ik.xml"
    for stale in (coordinates_path, errors_path):
        stale.unlink(missing_ok=True)

    tool = opensim.InverseKinematicsTool()
    tool.setName("ik")
    tool.set_model_file(str(Path(model_path).resolve()))
    tool.setMarkerDataFileName(str(Path(markers_trc_path).resolve()))
    tool.setOutputMotionFileName(str(coordinates_path))
    tool.setResultsDir(str(out_dir))
    tool.set_report_errors(True)
    tool.set_accuracy(accuracy)
    tool.setStartTime(time_range_s[0])
    tool.setEndTime(time_range_s[1])
    add_ik_tasks(tool.getIKTaskSet(), marker_weights, coordinate_targets or {},
                 opensim.Model(str(model_path)) if coordinate_targets else None)
    tool.printToXML(str(setup_path))

    log_path = run_tool_from_setup(opensim.InverseKinematicsTool, setup_path, coordinates_path, trial_id=trial_id,
                                   stage="ik", log_dir=log_dir or out_dir / "logs")
    if not errors_path.is_file():
        raise OpenSimToolError(trial_id, "ik", "InverseKinematicsTool wrote no marker errors", log_path)

    errors = read_opensim_table(errors_path)
    rms = errors["marker_error_RMS"].to_numpy()
    worst = errors["marker_error_max"].to_numpy()
    return IKResult(
        coordinates_path=coordinates_path,
        marker_errors_path=errors_path,
        setup_path=setup_path,
        marker_rms_error_m=float(np.mean(rms)),
        marker_max_error_m=float(np.max(worst)),
        n_frames=len(errors),
        wall_time_s=time.perf_counter() - start,
        log_path=log_path,
    )


def add_ik_tasks(task_set: opensim.IKTaskSet, marker_weights: dict[str, float],
                 coordinate_targets: dict[str, CoordinateTarget], model: opensim.Model | None) -> None:
    """Append marker tasks (name → weight) and coordinate tasks held at a value.

    A target's value is in degrees for a rotational coordinate of ``model`` and in m for a
    translational one; OpenSim reads an ``IKCoordinateTask`` value in the coordinate's
    internal unit (radians for a rotation), so rotations are converted here. ``model`` may be
    None when there are no coordinate targets.

    Raises
    ------
    ConfigError
        If a target names a coordinate ``model`` lacks.
    """
    for name, weight in marker_weights.items():
        task = opensim.IKMarkerTask()
        task.setName(name)
        task.setWeight(weight)
        task.setApply(True)
        task_set.cloneAndAppend(task)
    if not coordinate_targets:
        return
    coordinates = model.getCoordinateSet()
    for name, target in coordinate_targets.items():
        if not coordinates.contains(name):
            raise ConfigError(f"{model.getName()}: IK coordinate task names {name!r}, not a coordinate of the model")
        rotational = coordinates.get(name).getMotionType() == opensim.Coordinate.Rotational
        task = opensim.IKCoordinateTask()
        task.setName(name)
        task.setValueType(opensim.IKCoordinateTask.ManualValue)
        task.setValue(math.radians(target.value) if rotational else target.value)
        task.setWeight(target.weight)
        task.setApply(True)
        task_set.cloneAndAppend(task)
