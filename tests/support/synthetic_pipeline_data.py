"""Small, exactly known inputs that the pipeline tests build for themselves.

Markers come from the generic gait2392 model placed at known coordinates by OpenSim's
forward kinematics; GRFs of a still posture are body weight acting under the centre of
mass. Nothing here is a label: the tests compare the pipeline against these known values.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import opensim

from gait2hip import opensim_models
from gait2hip.core import opensim_files


def model_with_markers(out_path: Path, scale_factor: float = 1.0) -> Path:
    """Write gait2392 with its marker set attached (optionally scaled uniformly) to ``out_path``."""
    model = opensim.Model(str(opensim_models.model_path("gait2392")))
    markers = opensim.MarkerSet(str(opensim_models.marker_set_path("gait2392")))
    for index in range(markers.getSize()):
        model.addMarker(markers.get(index).clone())
    model.finalizeConnections()
    state = model.initSystem()
    if scale_factor != 1.0:
        scale_set = opensim.ScaleSet()
        bodies = model.getBodySet()
        for index in range(bodies.getSize()):
            scale = opensim.Scale()
            scale.setSegmentName(bodies.get(index).getName())
            scale.setScaleFactors(opensim.Vec3(scale_factor))
            scale.setApply(True)
            scale_set.cloneAndAppend(scale)
        model.scale(state, scale_set, True, -1.0)
    model.printToXML(str(out_path))
    return out_path


def marker_positions(model_path: Path, coordinates: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Forward kinematics: ``(names, (n_frames, n_markers, 3) positions in m)``.

    ``coordinates`` maps coordinate names to ``(n_frames,)`` values in model units (rad, m);
    coordinates not given stay at their defaults.
    """
    model = opensim.Model(str(model_path))
    state = model.initSystem()
    n_frames = len(next(iter(coordinates.values())))
    markers = model.getMarkerSet()
    names = [markers.get(i).getName() for i in range(markers.getSize())]
    positions = np.zeros((n_frames, len(names), 3))
    for frame in range(n_frames):
        for name, values in coordinates.items():
            model.getCoordinateSet().get(name).setValue(state, float(values[frame]), False)
        model.realizePosition(state)
        for index in range(len(names)):
            location = markers.get(index).getLocationInGround(state)
            positions[frame, index] = [location.get(0), location.get(1), location.get(2)]
    return names, positions


def write_trc(path: Path, names: list[str], positions_m: np.ndarray, rate_hz: float, units: str = "mm") -> Path:
    """Write ``(n_frames, n_markers, 3)`` positions (m) as a TRC in ``units``, frames from t = 0 at ``rate_hz``."""
    times_s = np.arange(positions_m.shape[0]) / rate_hz
    return opensim_files.write_trc(path, names, positions_m, times_s, rate_hz, units=units)


def centre_of_mass_m(model_path: Path, coordinates: dict[str, float]) -> np.ndarray:
    """Whole-body centre of mass ``(3,)`` in m at a still pose (coordinates in rad, m)."""
    model = opensim.Model(str(model_path))
    state = model.initSystem()
    for name, value in coordinates.items():
        model.getCoordinateSet().get(name).setValue(state, value, False)
    model.realizePosition(state)
    com = model.calcMassCenterPosition(state)
    return np.array([com.get(0), com.get(1), com.get(2)])


def write_still_grf(path: Path, duration_s: float, rate_hz: float, body_weight_n: float,
                    centre_of_pressure_m: np.ndarray, right_share: float = 0.5) -> Path:
    """Write a GRF ``.mot`` of a still posture: body weight, shared between the feet, at one point."""
    times = np.arange(int(round(duration_s * rate_hz)) + 1) / rate_hz
    force, point, torque = {}, {}, {}
    for side, share in (("r", right_share), ("l", 1.0 - right_share)):
        force[side] = np.tile([0.0, body_weight_n * share, 0.0], (len(times), 1))
        point[side] = np.tile([centre_of_pressure_m[0], 0.0, centre_of_pressure_m[2]], (len(times), 1))
        torque[side] = np.zeros((len(times), 3))
    return opensim_files.write_mot(path, opensim_files.grf_columns(force, point, torque), times, in_degrees=False)


def degrees_to_radians(values_deg: dict[str, float]) -> dict[str, float]:
    """Convert a name → degrees mapping to radians."""
    return {name: math.radians(value) for name, value in values_deg.items()}


def write_tiny_cohort(folder: Path, n_subjects: int = 2, trials_per_subject: int = 2,
                      duration_s: float = 0.4, rate_hz: float = 100.0) -> Path:
    """Write a tiny cohort in the documented layout: still flexed postures with consistent GRFs.

    Each subject is the generic model at a different mass; each trial holds a slightly
    different posture. Good enough for exercising the batch engine, quick to label. The
    default 0.4 s leaves frames past the filters' edge reach (117 ms at each end), where the
    labels are valid and QC judges the residuals.
    """
    import yaml  # local: only the cohort writer needs it

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cohort.yaml").write_text(yaml.safe_dump({"name": "tiny", "synthetic": True, "model": "gait2392",
                                                         "description": "test cohort of still postures"}))
    marker_model = model_with_markers(folder / "_model_with_markers.osim")
    names, static_positions = marker_positions(marker_model, {"pelvis_tilt": np.zeros(30)})
    n_frames = int(round(duration_s * rate_hz)) + 1
    for subject_index in range(n_subjects):
        subject_id = f"S{subject_index + 1:02d}"
        subject_dir = folder / subject_id
        (subject_dir / "trials").mkdir(parents=True, exist_ok=True)
        mass_kg = 70.0 + 5.0 * subject_index
        (subject_dir / "subject.yaml").write_text(yaml.safe_dump(
            {"id": subject_id, "mass_kg": mass_kg, "height_m": 1.75, "group": "healthy", "affected_side": None}))
        write_trc(subject_dir / "static.trc", names, static_positions, rate_hz)
        for trial_index in range(trials_per_subject):
            trial_id = f"walk_{trial_index + 1:02d}"
            trial_dir = subject_dir / "trials" / trial_id
            trial_dir.mkdir(exist_ok=True)
            pose = degrees_to_radians({"hip_flexion_r": 15.0 + 5 * trial_index, "hip_flexion_l": 15.0,
                                       "knee_angle_r": -20.0, "knee_angle_l": -20.0 - 5 * trial_index,
                                       "lumbar_extension": -20.0})
            names, positions = marker_positions(marker_model, {k: np.full(n_frames, v) for k, v in pose.items()})
            write_trc(trial_dir / "markers.trc", names, positions, rate_hz)
            write_still_grf(trial_dir / "grf.mot", duration_s + 0.05, rate_hz, mass_kg * 9.80665,
                            centre_of_mass_m(marker_model, pose))
            (trial_dir / "trial.yaml").write_text(yaml.safe_dump(
                {"id": trial_id, "cadence_condition": f"cadence_{90 + 20 * trial_index}",
                 "cadence_steps_per_min": None, "events": {}}))
    return folder
