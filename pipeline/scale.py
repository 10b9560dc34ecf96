"""Stage 1: scale the generic model to a subject with OpenSim's ``ScaleTool``.

Measurement-based scaling (marker-pair distances of the static trial, each applied to the
axes its ``model.yaml`` entry names), then any manual per-body factors, the subject's mass,
then marker placement: the model's markers are moved to where the static trial puts them.
With ``scale.hip_joint_centre: harrington2007`` scaling and marker placement run a second time
with virtual markers at Harrington et al.'s hip joint centres of the static trial, fixed at the
model's hip joints (gait2hip.pipeline.hip_joint_centre).
The model scaled *before* marker placement is kept to report how well it fits the static
markers (the scaling QC), since after placement the errors are near zero by construction.
"""

from __future__ import annotations

import logging

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import opensim

from gait2hip.pipeline.config import PipelineConfig
from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.core.opensim_files import within
from gait2hip.pipeline.hip_joint_centre import (HipJointCentreMarkers, harrington_hip_centre_trajectories_m,
                                                harrington_hip_centres_m, hip_joint_offsets_m, hip_joint_parent_body,
                                                marker_locations_in_body, write_marker_set_with_hip_markers)
from gait2hip.pipeline.inverse_kinematics import add_ik_tasks, run_inverse_kinematics
from gait2hip.pipeline.markers import MarkerTrajectories, check_and_fill, read_trc, write_trc_m
from gait2hip.pipeline.model_config import ModelConfig, ScaleMeasurement, model_yaml_path
from gait2hip.pipeline.muscle_strength import scale_muscle_strength
from gait2hip.pipeline.opensim_log import opensim_output_to, run_tool_from_setup
from gait2hip.pipeline.subject import SubjectInfo

_log = logging.getLogger(__name__)

# The hip markers outweigh the static trial's landmarks (weight 10) so that the static pose puts
# the hip joints on the regression's centres; at equal weight the legs' landmarks pull the
# pelvis off them.
HIP_MARKER_STATIC_WEIGHT = 100.0


@dataclass(frozen=True)
class ScaleResult:
    """Outputs of :func:`scale_subject`.

    Attributes
    ----------
    scaled_model_path
        The subject's model with scaled segments, its mass, and placed markers.
    scale_factors
        Body name → ``(3,)`` scale factors along X, Y, Z (dimensionless).
    marker_rms_error_m, marker_max_error_m
        Fit of the scaled model (before marker placement) to the static trial's bony landmarks,
        in m (RMS and worst marker), at the static pose: the landmarks averaged over the static
        time range, as OpenSim's ``MarkerPlacer`` averages the frames it places markers on.
    """

    scaled_model_path: Path
    setup_path: Path
    scale_factors: dict[str, np.ndarray]
    marker_rms_error_m: float
    marker_max_error_m: float
    wall_time_s: float
    log_path: Path


def scale_subject(subject: SubjectInfo, static_trc_path: Path, out_dir: Path, config: PipelineConfig) -> ScaleResult:
    """Scale the configured model to ``subject`` from its static trial.

    Parameters
    ----------
    subject
        Mass (kg) and height (m) of the subject.
    static_trc_path
        Static standing trial (TRC; units from its header).
    out_dir
        Folder for every file this stage writes (setup XML, scaled models, logs).
    config
        Pipeline settings; ``config.model`` selects the model.

    Raises
    ------
    ConfigError
        If the model's ``model.yaml`` names a body, coordinate or marker the model or its
        marker set lacks, lacks ``generic_height_m`` with ``scale.muscle_strength: muscle_volume``,
        or lacks ``hip_joint_centre`` with ``scale.hip_joint_centre: harrington2007``.
    InputDataError
        If the static trial is missing, unreadable, or lacks a marker the scaling uses.
    OpenSimToolError
        If the ScaleTool fails or writes no scaled model.
    """
    start = time.perf_counter()
    model_config = ModelConfig.load(config.model)
    if config.scale.muscle_strength == "muscle_volume" and model_config.generic_height_m is None:
        raise ConfigError(f"{model_yaml_path(config.model)}: scale.muscle_strength: muscle_volume needs "
                          "generic_height_m (the height, m, of the subject the generic model represents)")
    if config.scale.hip_joint_centre == "harrington2007" and model_config.hip_joint_centre is None:
        raise ConfigError(f"{model_yaml_path(config.model)}: scale.hip_joint_centre: harrington2007 needs "
                          "hip_joint_centre (the ASIS and sacral markers and the hip joints)")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with opensim_output_to(out_dir / "logs", "inputs"):
        model_config.check_names(model_yaml_path(config.model))
        markers = check_and_fill(read_trc(static_trc_path), model_config.markers_required("static"),
                                 config.markers.max_gap_fill_s, optional=list(model_config.markers_used("static")))
        static_markers_path = write_trc_m(markers, out_dir / "static_markers.trc")
    time_range = config.scale.static_time_range_s or (float(markers.times_s[0]), float(markers.times_s[-1]))
    if time_range[0] < markers.times_s[0] - 1e-6 or time_range[1] > markers.times_s[-1] + 1e-6:
        raise InputDataError(static_trc_path, f"static_time_range_s {time_range} lies outside the trial "
                                              f"{markers.times_s[0]:.3f}-{markers.times_s[-1]:.3f} s")

    unplaced_path = out_dir / "scaled_before_marker_placement.osim"
    scaled_path = out_dir / "scaled_model.osim"
    factors_path = out_dir / "scale_factors.xml"
    setup_path = out_dir / "setup_scale.xml"
    for stale in (unplaced_path, scaled_path, factors_path, out_dir / "hip_joint_centres.json",
                  out_dir / "markerset_hip_joint_centres.xml", out_dir / "static_markers_hip_joint_centres.trc"):
        stale.unlink(missing_ok=True)

    static_weights = {name: weight for name, weight in model_config.markers_used("static").items()
                      if name in markers.marker_names}
    measurements = _measurements_with_markers(model_config, set(markers.marker_names), static_trc_path)
    trial_id = f"{subject.subject_id}/static"

    def run_scale_tool(marker_set_path: Path, trc_path: Path, with_measurements: list[ScaleMeasurement],
                       weights: dict[str, float]) -> Path:
        tool = _build_scale_tool(subject, model_config, marker_set_path, with_measurements, weights, config,
                                 trc_path, time_range, unplaced_path, scaled_path, factors_path, relative_to=out_dir)
        tool.printToXML(str(setup_path))
        return run_tool_from_setup(opensim.ScaleTool, setup_path, scaled_path, trial_id=trial_id, stage="scale",
                                   log_dir=out_dir / "logs")

    log_path = run_scale_tool(model_config.marker_set_path, static_markers_path, measurements, static_weights)
    static_pose = _static_pose(markers, time_range)
    if config.scale.hip_joint_centre == "harrington2007":
        _rescale_with_harrington_hip_markers(model_config, run_scale_tool, markers, measurements, static_weights,
                                             scaled_path, out_dir)
    if config.scale.muscle_strength == "muscle_volume":
        with opensim_output_to(out_dir / "logs", "muscle_strength"):
            scale_muscle_strength(scaled_path, model_config.model_path, subject.mass_kg, subject.height_m,
                                  model_config.generic_height_m)

    # Best practice judges scaling by the bony landmarks: the markers of the measurements, at
    # the one pose the scaling and the marker placement saw (the frames' average).
    landmarks = {name for m in measurements for pair in m.marker_pairs for name in pair}
    fit = run_inverse_kinematics(
        model_path=unplaced_path, markers_trc_path=write_trc_m(static_pose, out_dir / "static_pose_markers.trc"),
        out_dir=out_dir / "static_fit",
        marker_weights={name: w for name, w in static_weights.items() if name in landmarks}, accuracy=config.inverse_kinematics.accuracy,
        time_range_s=(float(static_pose.times_s[0]), float(static_pose.times_s[-1])), trial_id=trial_id,
        coordinate_targets=model_config.static_pose_coordinates, log_dir=out_dir / "logs",
    )
    with opensim_output_to(out_dir / "logs", "scale_factors"):
        scale_factors = read_scale_factors(factors_path, scaled_path)
    return ScaleResult(
        scaled_model_path=scaled_path,
        setup_path=setup_path,
        scale_factors=scale_factors,
        marker_rms_error_m=fit.marker_rms_error_m,
        marker_max_error_m=fit.marker_max_error_m,
        wall_time_s=time.perf_counter() - start,
        log_path=log_path,
    )


def _rescale_with_harrington_hip_markers(model_config: ModelConfig, run_scale_tool, markers: MarkerTrajectories,
                                         measurements: list[ScaleMeasurement], static_weights: dict[str, float],
                                         scaled_path: Path, out_dir: Path) -> None:
    """Scale and place markers again with virtual markers at Harrington's hip centres of each static frame.

    ``run_scale_tool(marker_set, static_trc, measurements, weights)`` reruns scaling and marker
    placement. The hip markers are fixed at the model's hip joints and weigh
    ``HIP_MARKER_STATIC_WEIGHT`` in the static pose; the thigh measurement runs from them to the
    knee markers. Writes ``hip_joint_centres.json``: per side, how far (mm) the model's hip
    joint is from Harrington's centre of its own placed pelvis markers, before and after.
    """
    spec = model_config.hip_joint_centre
    missing = [name for name in spec.pelvis_markers if name not in markers.marker_names]
    if missing:
        raise InputDataError(markers.source_path, f"scale.hip_joint_centre: harrington2007 needs the pelvis marker(s) "
                                                  f"{', '.join(missing)}, which the static trial lacks")
    log_dir = out_dir / "logs"
    with opensim_output_to(log_dir, "hip_joint_centre"):
        try:
            pelvis = hip_joint_parent_body(model_config.model_path, spec.joints)
            generic_hips_m = hip_joint_offsets_m(model_config.model_path, spec.joints)
            before_m = _hip_joint_distances_m(scaled_path, spec, pelvis)
            marker_set_path = write_marker_set_with_hip_markers(
                model_config.marker_set_path, out_dir / "markerset_hip_joint_centres.xml", pelvis, spec.hip_markers,
                generic_hips_m, pelvis_markers=spec.pelvis_markers)
        except ValueError as error:
            raise ConfigError(f"{model_config.name} model.yaml hip_joint_centre: {error}") from error
    centres_m = harrington_hip_centre_trajectories_m(markers.positions_m, markers.marker_names, spec)
    sides = tuple(spec.joints)
    with_hips = replace(markers, marker_names=markers.marker_names + tuple(spec.hip_markers[side] for side in sides),
                        positions_m=np.concatenate([markers.positions_m] + [centres_m[side][:, None] for side in sides],
                                                   axis=1))
    static_trc = write_trc_m(with_hips, out_dir / "static_markers_hip_joint_centres.trc")
    knees = {spec.knee_markers[side]: spec.hip_markers[side] for side in sides}
    thigh_measurements = []
    for measurement in measurements:
        if measurement.name == spec.thigh_measurement:
            pairs = tuple((knees[knee], knee) for knee in knees if knee in markers.marker_names)
            measurement = replace(measurement, marker_pairs=pairs or measurement.marker_pairs)
        thigh_measurements.append(measurement)
    weights = dict(static_weights) | {spec.hip_markers[side]: HIP_MARKER_STATIC_WEIGHT for side in sides}
    run_scale_tool(marker_set_path, static_trc, thigh_measurements, weights)
    with opensim_output_to(log_dir, "hip_joint_centre"):
        after_m = _hip_joint_distances_m(scaled_path, spec, pelvis)
    write_json_atomically(out_dir / "hip_joint_centres.json", {
        "method": "harrington2007",
        "pelvis_markers": list(spec.pelvis_markers),
        "hip_markers": spec.hip_markers,
        "hip_marker_static_weight": HIP_MARKER_STATIC_WEIGHT,
        "hip_to_harrington_centre_mm": {
            side: {"scaled_generic": round(before_m[side] * 1000.0, 2), "placed": round(after_m[side] * 1000.0, 2)}
            for side in sides},
    })


def _hip_joint_distances_m(model_path: Path, spec: HipJointCentreMarkers, pelvis: str) -> dict[str, float]:
    """Side → distance (m) from the model's hip joint to Harrington's centre of its own pelvis markers."""
    placed = marker_locations_in_body(model_path, spec.pelvis_markers, pelvis)
    centres_m = harrington_hip_centres_m(right_asis_m=placed[spec.right_asis], left_asis_m=placed[spec.left_asis],
                                         sacrum_m=np.mean([placed[name] for name in spec.sacrum], axis=0))
    hips_m = hip_joint_offsets_m(model_path, spec.joints)
    return {side: float(np.linalg.norm(centres_m[side] - hips_m[side])) for side in spec.joints}


def _static_pose(markers: MarkerTrajectories, time_range_s: tuple[float, float]) -> MarkerTrajectories:
    """Each marker's mean position (m) over the frames of ``time_range_s``, as a trial of two equal frames.

    Two frames, one frame apart from the range's first, because a trial file holds at least two.
    A marker missing on every frame of the range stays missing (NaN), which IK leaves out.
    """
    inside = within(markers.times_s, time_range_s)
    if not inside.any():
        raise InputDataError(markers.source_path, f"static time range {time_range_s[0]:g}-{time_range_s[1]:g} s "
                                                  "holds no frame")
    positions = markers.positions_m[inside]
    seen = np.isfinite(positions).all(axis=2).any(axis=0)
    mean = np.full(positions.shape[1:], np.nan)
    mean[seen] = np.nanmean(positions[:, seen], axis=0)
    first_s = float(markers.times_s[inside][0])
    return replace(markers, times_s=first_s + np.arange(2) / markers.rate_hz,
                               positions_m=np.repeat(mean[None], 2, axis=0))


def read_scale_factors(path: Path, model_path: Path) -> dict[str, np.ndarray]:
    """Read the ``ScaleSet`` XML the ScaleTool wrote: body name → ``(3,)`` factors.

    Only the model's bodies are kept (the file also lists ground and offset frames).
    """
    model = opensim.Model(str(model_path))  # keep a reference: the body set lives in the model
    bodies = model.getBodySet()
    body_names = {bodies.get(i).getName() for i in range(bodies.getSize())}
    scale_set = opensim.ScaleSet(str(path))
    factors = {}
    for index in range(scale_set.getSize()):
        scale = scale_set.get(index)
        if scale.getSegmentName() not in body_names:
            continue
        vector = scale.getScaleFactors()
        factors[scale.getSegmentName()] = np.array([vector.get(i) for i in range(3)])
    return factors


def _measurements_with_markers(model_config: ModelConfig, present: set[str],
                               static_trc_path: Path) -> list[ScaleMeasurement]:
    """The model's measurements restricted to marker pairs the static trial has.

    Raises InputDataError when a measurement is left with no pair: its bodies cannot be scaled.
    """
    usable, borrowed = {}, {}
    for measurement in model_config.scale_measurements:
        pairs = tuple(pair for pair in measurement.marker_pairs if set(pair) <= present)
        if not pairs:
            pairs = tuple(pair for pair in measurement.fallback_marker_pairs if set(pair) <= present)
            if pairs:
                _log.info("%s: scaling %s by %s (the static trial lacks %s)", static_trc_path, measurement.name,
                          ", ".join("–".join(p) for p in pairs), " and ".join("–".join(p) for p in measurement.marker_pairs))
        if not pairs and measurement.fallback_measurement is not None:
            _log.info("%s: scaling %s like %s (the static trial has none of its marker pairs)", static_trc_path,
                      measurement.name, measurement.fallback_measurement)
            borrowed.setdefault(measurement.fallback_measurement, []).extend(measurement.bodies)
            continue
        if not pairs:
            wanted = " or ".join("–".join(pair) for pair in measurement.marker_pairs + measurement.fallback_marker_pairs)
            raise InputDataError(static_trc_path, f"cannot scale {measurement.name} ({', '.join(measurement.bodies)}): "
                                                  f"the static trial lacks the marker pair {wanted}")
        usable[measurement.name] = ScaleMeasurement(measurement.name, pairs, measurement.bodies, measurement.axes)
    for name, bodies in borrowed.items():
        if name not in usable:
            raise InputDataError(static_trc_path, f"cannot scale {', '.join(bodies)} like {name}: {name} itself has "
                                                  "no marker pair in the static trial")
        lender = usable[name]
        usable[name] = ScaleMeasurement(lender.name, lender.marker_pairs, lender.bodies + tuple(bodies), lender.axes)
    return list(usable.values())


def _build_scale_tool(subject: SubjectInfo, model_config: ModelConfig, marker_set_path: Path,
                      measurements: list[ScaleMeasurement],
                      static_weights: dict[str, float], config: PipelineConfig,
                      static_markers_path: Path, time_range: tuple[float, float],
                      unplaced_path: Path, scaled_path: Path, factors_path: Path,
                      relative_to: Path) -> opensim.ScaleTool:
    # The ScaleTool resolves every file relative to its setup file's folder.
    def rel(path: Path) -> str:
        return os.path.relpath(path, relative_to)

    tool = opensim.ScaleTool()
    tool.setName(subject.subject_id)
    tool.setSubjectMass(subject.mass_kg)
    tool.setSubjectHeight(subject.height_m * 1000.0)  # ScaleTool documents height in mm
    times = opensim.ArrayDouble()
    times.append(time_range[0])
    times.append(time_range[1])

    maker = tool.getGenericModelMaker()
    maker.setModelFileName(rel(model_config.model_path))
    maker.setMarkerSetFileName(rel(marker_set_path))

    scaler = tool.getModelScaler()
    scaler.setApply(True)
    order = opensim.ArrayStr()
    order.append("measurements")
    if model_config.manual_scale_factors:
        # Later steps replace earlier ones: a body's manual factors win over its measurement.
        order.append("manualScale")
    scaler.setScalingOrder(order)
    scaler.setMarkerFileName(rel(static_markers_path))
    scaler.setTimeRange(times)
    scaler.setPreserveMassDist(config.scale.preserve_mass_distribution)
    scaler.setOutputModelFileName(rel(unplaced_path))
    scaler.setOutputScaleFileName(rel(factors_path))
    for measurement_config in measurements:
        measurement = opensim.Measurement()
        measurement.setName(measurement_config.name)
        measurement.setApply(True)
        for first, second in measurement_config.marker_pairs:
            measurement.getMarkerPairSet().cloneAndAppend(opensim.MarkerPair(first, second))
        for body in measurement_config.bodies:
            body_scale = opensim.BodyScale()
            body_scale.setName(body)
            axes = opensim.ArrayStr()
            for axis in measurement_config.axes:
                axes.append(axis)
            body_scale.setAxisNames(axes)
            measurement.getBodyScaleSet().cloneAndAppend(body_scale)
        scaler.addMeasurement(measurement)
    for body, factors in model_config.manual_scale_factors.items():
        manual = opensim.Scale()
        manual.setName(f"{body}_manual")
        manual.setSegmentName(body)
        manual.setScaleFactors(opensim.Vec3(*factors))
        manual.setApply(True)
        scaler.getScaleSet().cloneAndAppend(manual)

    placer = tool.getMarkerPlacer()
    placer.setApply(True)
    placer.setMarkerFileName(rel(static_markers_path))
    placer.setTimeRange(times)
    placer.setOutputModelFileName(rel(scaled_path))
    placer.setMoveModelMarkers(True)
    add_ik_tasks(placer.getIKTaskSet(), static_weights, model_config.static_pose_coordinates,
                 opensim.Model(str(model_config.model_path)))
    return tool
