"""Stage 2: joint coordinates from markers with OpenSim's ``InverseKinematicsTool``."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import math

import numpy as np
import opensim

from gait2hip.core.errors import ConfigError, OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.pipeline.markers import MarkerTrajectories, read_trc
from gait2hip.pipeline.model_config import CoordinateTarget
from gait2hip.pipeline.opensim_log import run_tool_from_setup

# Frames of OpenSim's marker-location output are matched to the TRC's frames by time.
_FRAME_MATCH_TOLERANCE_S = 1e-6


@dataclass(frozen=True)
class MarkerIKError:
    """One marker's distance from its model marker over the IK frames (m).

    Attributes
    ----------
    rms_m
        Root mean square over frames of the marker's error.
    max_m
        Largest error in any frame.
    """

    rms_m: float
    max_m: float


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
    marker_locations_path
        ``.sto`` of the model markers' positions in ground per frame (m), OpenSim's
        ``report_marker_locations`` output.
    tracked_markers
        The markers IK tracked (weight > 0), in the column order of ``marker_error_frames_m``.
    marker_error_frames_m
        ``(n_frames, n_tracked)`` distance of each tracked marker from its model marker (m),
        from ``marker_locations_path`` against the TRC; NaN where the marker is missing.
    """

    coordinates_path: Path
    marker_errors_path: Path
    setup_path: Path
    marker_rms_error_m: float
    marker_max_error_m: float
    n_frames: int
    wall_time_s: float
    log_path: Path
    marker_locations_path: Path | None = None
    tracked_markers: tuple[str, ...] = ()
    marker_error_frames_m: np.ndarray | None = None

    @property
    def marker_errors_m(self) -> dict[str, MarkerIKError]:
        """Marker name → its RMS and max error over the frames where it is present (m)."""
        if self.marker_error_frames_m is None:
            return {}
        errors = {}
        for name, distance_m in zip(self.tracked_markers, self.marker_error_frames_m.T):
            distance_m = distance_m[np.isfinite(distance_m)]
            if distance_m.size:
                errors[name] = MarkerIKError(rms_m=float(np.sqrt(np.mean(distance_m ** 2))),
                                             max_m=float(np.max(distance_m)))
        return errors

    def marker_errors_without(self, markers: Collection[str]) -> tuple[float, float]:
        """``(rms_m, max_m)`` as OpenSim computes them, over the tracked markers not in ``markers``.

        The mean over frames of each frame's RMS error and the largest error in any frame (m),
        e.g. leaving out markers that were down-weighted for not fitting the model. With no
        marker left out these are ``marker_rms_error_m`` and ``marker_max_error_m``.
        """
        if self.marker_error_frames_m is None:
            raise ValueError("this IK result holds no per-marker errors")
        keep = [i for i, name in enumerate(self.tracked_markers) if name not in set(markers)]
        if not keep:
            raise ValueError(f"no tracked marker is left once {', '.join(sorted(markers))} are left out")
        distance_m = self.marker_error_frames_m[:, keep]  # (n_frames, n_kept)
        per_frame_rms_m = np.sqrt(np.nanmean(distance_m ** 2, axis=1))
        return float(np.mean(per_frame_rms_m)), float(np.nanmax(distance_m))

    def marker_errors_to_json(self) -> dict[str, dict[str, float]]:
        """``{marker: {"rms_m": ..., "max_m": ...}}``, worst RMS first, for ``summary.json``."""
        ranked = sorted(self.marker_errors_m.items(), key=lambda item: -item[1].rms_m)
        return {name: {"rms_m": error.rms_m, "max_m": error.max_m} for name, error in ranked}


def run_inverse_kinematics(*, model_path: Path, markers_trc_path: Path, out_dir: Path,
                           marker_weights: dict[str, float], accuracy: float,
                           time_range_s: tuple[float, float], trial_id: str,
                           coordinate_targets: dict[str, CoordinateTarget] | None = None,
                           log_dir: Path | None = None) -> IKResult:
    """Run IK on ``markers_trc_path`` with ``model_path``; setup XML and outputs in ``out_dir``.

    Parameters
    ----------
    marker_weights
        Marker name → weight; markers not listed, or listed with weight 0, are ignored
        (OpenSim would leave a weight-0 marker out of the fit but count it in the errors).
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
    locations_path = out_dir / "ik_ik_model_marker_locations.sto"
    setup_path = out_dir / "setup_ik.xml"
    for stale in (coordinates_path, errors_path, locations_path):
        stale.unlink(missing_ok=True)

    tool = opensim.InverseKinematicsTool()
    tool.setName("ik")
    tool.set_model_file(str(Path(model_path).resolve()))
    tool.setMarkerDataFileName(str(Path(markers_trc_path).resolve()))
    tool.setOutputMotionFileName(str(coordinates_path))
    tool.setResultsDir(str(out_dir))
    tool.set_report_errors(True)
    tool.set_report_marker_locations(True)
    tool.set_accuracy(accuracy)
    tool.setStartTime(time_range_s[0])
    tool.setEndTime(time_range_s[1])
    tracked = {name: weight for name, weight in marker_weights.items() if weight > 0}
    add_ik_tasks(tool.getIKTaskSet(), tracked, coordinate_targets or {},
                 opensim.Model(str(model_path)) if coordinate_targets else None)
    tool.printToXML(str(setup_path))

    log_path = run_tool_from_setup(opensim.InverseKinematicsTool, setup_path, coordinates_path, trial_id=trial_id,
                                   stage="ik", log_dir=log_dir or out_dir / "logs")
    if not errors_path.is_file():
        raise OpenSimToolError(trial_id, "ik", "InverseKinematicsTool wrote no marker errors", log_path)
    if not locations_path.is_file():
        raise OpenSimToolError(trial_id, "ik", "InverseKinematicsTool wrote no model marker locations", log_path)

    tracked_names, error_frames_m = marker_error_frames(locations_path, markers_trc_path, trial_id=trial_id,
                                                        log_path=log_path)
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
        marker_locations_path=locations_path,
        tracked_markers=tracked_names,
        marker_error_frames_m=error_frames_m,
    )


def marker_error_frames(locations_path: Path, markers_trc_path: Path, *, trial_id: str,
                        log_path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """Each tracked marker's error (m) in each IK frame.

    The error of a marker in a frame is the distance between OpenSim's model marker
    (``locations_path``, the IK tool's ``report_marker_locations`` output, one ``_tx _ty _tz``
    triple per tracked marker) and the measured marker of the same frame in the TRC: the
    distances whose RMS and max OpenSim writes, frame by frame, to its marker-errors file.

    Returns
    -------
    tuple
        The tracked marker names, and their ``(n_frames, n_markers)`` errors (NaN where the
        TRC lacks the marker).

    Raises
    ------
    OpenSimToolError
        If a frame of the output has no TRC frame at its time.
    """
    locations = read_opensim_table(locations_path)
    markers = read_trc(markers_trc_path)
    names = tuple(column[:-len("_tx")] for column in locations.columns if column.endswith("_tx"))
    frames = marker_frames_at(markers, locations["time"].to_numpy())
    if frames is None:
        raise OpenSimToolError(trial_id, "ik", f"{locations_path.name}: frame times do not match "
                                              f"{Path(markers_trc_path).name}'s", log_path)
    model_m = np.stack([locations[[f"{n}_tx", f"{n}_ty", f"{n}_tz"]].to_numpy() for n in names], axis=1)
    measured_m = markers.positions_m[frames][:, [markers.marker_names.index(n) for n in names], :]
    return names, np.linalg.norm(model_m - measured_m, axis=2)  # (n_frames, n_markers)


def marker_frames_at(markers: MarkerTrajectories, times_s: np.ndarray) -> np.ndarray | None:
    """The marker frame at each of ``times_s`` (an IK output's frame times, s); None if one has none."""
    frames = np.clip(np.searchsorted(markers.times_s, times_s - _FRAME_MATCH_TOLERANCE_S), 0, len(markers.times_s) - 1)
    if np.any(np.abs(markers.times_s[frames] - times_s) > _FRAME_MATCH_TOLERANCE_S):
        return None
    return frames


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
