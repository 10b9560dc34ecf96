"""One trial end to end: check inputs → IK → ID → SO → labels, QC and ``summary.json``.

Everything the trial writes goes under its own folder. The label table and the summary are
written atomically, last; a failed trial (an error, or a QC figure past its fail limit)
leaves a ``summary.json`` with status ``failed``, the stage and the error or the QC reasons,
and no ``labels.parquet``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import opensim

from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.errors import Gait2HipError, InputDataError, OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table, within
from gait2hip.pipeline.actuators import write_so_actuators
from gait2hip.pipeline.config import PipelineConfig, StaticOptimizationConfig
from gait2hip.pipeline.foot_contact import ContactReport, detect_contact, edge_reach_s, foot_marker_names
from gait2hip.pipeline.ground_reactions import read_grf, write_external_loads, write_filtered_grf
from gait2hip.pipeline.hip_muscles import find_hip_muscles
from gait2hip.pipeline.inverse_dynamics import run_inverse_dynamics
from gait2hip.pipeline.inverse_kinematics import run_inverse_kinematics
from gait2hip.pipeline.labels import build_label_table, write_labels
from gait2hip.pipeline.marker_consistency import MarkerConsistency, check_marker_consistency
from gait2hip.pipeline.marker_registration import MarkerRegistration, register_technical_markers
from gait2hip.pipeline.markers import check_and_fill, read_trc, write_trc_m
from gait2hip.pipeline.model_config import CoordinateTarget, ModelConfig
from gait2hip.pipeline.model_tree import bodies_beyond, marker_body, read_model
from gait2hip.pipeline.opensim_log import opensim_output_to
from gait2hip.pipeline.qc import compute_qc
from gait2hip.pipeline.rra_check import RRACheck, check_with_rra, longest_residual_window
from gait2hip.pipeline.batched_static_optimization import BatchedSOUnsupportedError, run_batched_static_optimization
from gait2hip.pipeline.so_cross_check import SOCrossCheck, cross_check_with_opensim
from gait2hip.pipeline.static_optimization import MAX_START_RETRIES, SOResult, run_static_optimization
from gait2hip.pipeline.status import USABLE_STATUSES, TrialStatus
from gait2hip.pipeline.subject import SubjectInfo

LABELS_FILE = "labels.parquet"
SUMMARY_FILE = "summary.json"
_log = logging.getLogger(__name__)


@dataclass
class TrialResult:
    """What :func:`label_trial` produced for one trial (paths, QC, stage wall times in s)."""

    trial_id: str
    out_dir: Path
    status: TrialStatus
    reasons: list[str] = field(default_factory=list)
    qc: dict[str, float] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    n_frames: int = 0
    marker_notes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    labels_path: Path | None = None
    summary_path: Path | None = None
    ik_coordinates_path: Path | None = None
    id_forces_path: Path | None = None
    so_forces_path: Path | None = None
    so_solver: str | None = None
    so_cross_check: SOCrossCheck | None = None
    contact: ContactReport | None = None
    marker_consistency: MarkerConsistency | None = None
    marker_registration: MarkerRegistration | None = None
    ik_marker_errors: dict[str, dict[str, float]] = field(default_factory=dict)
    rra_check: RRACheck | None = None


def label_trial(subject: SubjectInfo, scaled_model_path: Path, markers_trc_path: Path, grf_mot_path: Path,
                out_dir: Path, config: PipelineConfig, trial_id: str,
                provenance: dict | None = None, time_range_s: tuple[float, float] | None = None) -> TrialResult:
    """Label one walking trial with the subject's scaled model.

    Parameters
    ----------
    subject
        Body mass (kg) normalises the labels; body weight scales the residual QC.
    scaled_model_path
        The subject's model from :func:`gait2hip.pipeline.scale.scale_subject`.
    markers_trc_path, grf_mot_path
        The walking trial's markers (TRC) and ground reaction forces (``.mot``).
    out_dir
        The trial's own folder; every file of the trial goes there.
    trial_id
        ``subject/trial`` identifier used in messages and the summary.
    provenance
        Extra entries recorded under ``provenance`` in ``summary.json`` (e.g. input hashes).
    time_range_s
        ``(start, end)`` in s: label only this part of the trial (``trial.yaml``'s
        ``time_range_s``, ``label-trial --time-range``); None labels the whole trial.

    Raises
    ------
    InputDataError, OpenSimToolError
        On bad input or a failed tool; ``summary.json`` then records the failure, and the
        error's ``stage`` names the stage it stopped (``inputs``, ``ik``, ``id``, ``so``, ``labels``, ``qc``).
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / LABELS_FILE, out_dir / SUMMARY_FILE):
        stale.unlink(missing_ok=True)
    result = TrialResult(trial_id=trial_id, out_dir=out_dir, status=TrialStatus.FAILED)
    stage = "inputs"
    try:
        start = time.perf_counter()
        model_config = ModelConfig.load(config.model)
        with opensim_output_to(out_dir / "logs", "inputs"):
            model = _load_checked_model(scaled_model_path, model_config)
            markers = check_and_fill(read_trc(markers_trc_path), model_config.markers_required("dynamic"),
                                     config.markers.max_gap_fill_s, optional=list(model_config.markers_used("dynamic")))
            # The scaled model carries the markers its static trial had: a walking marker the
            # static trial lacked was never placed, so IK cannot track it.
            model_markers = model.getMarkerSet()
            ik_weights = {name: weight for name, weight in model_config.markers_used("dynamic").items()
                          if name in markers.marker_names and model_markers.contains(name)}
            result.marker_notes = list(markers.filled_gaps)
            time_range = _time_range(markers.times_s, time_range_s, markers_trc_path)
            # Markers no rigid model can fit (static and walking distances disagree) are
            # down-weighted before IK, and named, rather than failing the trial on their error.
            consistency = check_marker_consistency(model, markers, ik_weights, config.marker_consistency,
                                                   required=model_config.markers_required("dynamic"),
                                                   time_range_s=time_range)
            ik_weights = consistency.weights
            result.marker_consistency = consistency
            result.notes.extend(consistency.notes())
            ground_reactions = read_grf(grf_mot_path, config.grf, time_range)
            clean_markers_path = write_trc_m(markers, out_dir / "markers_clean.trc")
            labelled = within(markers.times_s, time_range)
            id_loads_path, so_loads_path = _external_loads(Path(grf_mot_path).resolve(), config, model_config, out_dir,
                                                           markers.times_s[labelled])
            actuators_path = out_dir / "so_actuators.xml"
            write_so_actuators(model, model_config, config.static_optimization, actuators_path)
            hip_muscles = find_hip_muscles(model, model_config.hip_coordinates)
            muscle_names = [model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())]
            result.contact = _detect_contact(model, model_config, markers, ground_reactions, labelled, config)
        result.timings_s["inputs"] = time.perf_counter() - start
        _log.debug("%s: inputs checked (%s)", trial_id, "; ".join(markers.filled_gaps) or "no gaps")

        stage = "ik"
        held = _unobserved_coordinates(model, ik_weights, model_config)
        if held:
            result.notes.append(f"walking IK holds at their default value the coordinates no tracked marker "
                                f"observes: {', '.join(sorted(held))}")
        def run_ik(model_path: Path):
            return run_inverse_kinematics(model_path=model_path, markers_trc_path=clean_markers_path,
                                          out_dir=out_dir / "ik", marker_weights=ik_weights,
                                          accuracy=config.inverse_kinematics.accuracy, time_range_s=time_range,
                                          coordinate_targets={**held, **model_config.walking_ik_coordinates},
                                          trial_id=trial_id, log_dir=out_dir / "logs")

        ik = run_ik(scaled_model_path)
        result.timings_s["ik"] = ik.wall_time_s
        if config.marker_registration.enabled:
            stage = "marker_registration"
            started = time.perf_counter()
            with opensim_output_to(out_dir / "logs", "marker_registration"):
                registration, ik = register_technical_markers(
                    model_path=scaled_model_path, markers=markers, first_ik=ik,
                    technical_markers=model_config.technical_markers, marker_weights=ik_weights,
                    settings=config.marker_registration, run_ik=run_ik,
                    out_path=out_dir / "ik" / "registered_markers_model.osim", trial_id=trial_id,
                    left_out=tuple(consistency.changed_markers))
            result.marker_registration = registration
            if registration is not None:
                result.notes.extend(registration.notes())
            result.timings_s["marker_registration"] = time.perf_counter() - started
            stage = "ik"
        result.ik_coordinates_path = ik.coordinates_path
        result.ik_marker_errors = ik.marker_errors_to_json()
        full_weight_rms_m, full_weight_max_m = ik.marker_errors_without(consistency.changed_markers)

        stage = "id"
        inverse_dynamics = run_inverse_dynamics(
            model_path=scaled_model_path, coordinates_path=ik.coordinates_path,
            external_loads_path=id_loads_path, out_dir=out_dir / "id",
            lowpass_cutoff_hz=config.inverse_dynamics.lowpass_cutoff_hz, time_range_s=time_range,
            trial_id=trial_id, log_dir=out_dir / "logs")
        result.timings_s["id"] = inverse_dynamics.wall_time_s
        result.id_forces_path = inverse_dynamics.generalized_forces_path

        if config.residual_reduction.enabled:
            stage = "rra"
            window = longest_residual_window(result.contact)
            if window is None:
                result.notes.append("RRA check skipped: no window of 0.2 s or more with every loaded foot on a plate")
            else:
                started = time.perf_counter()
                try:
                    result.rra_check = check_with_rra(
                        model_path=scaled_model_path, ik_coordinates_path=ik.coordinates_path,
                        id_forces_path=inverse_dynamics.generalized_forces_path, external_loads_path=id_loads_path,
                        window_s=window, model_config=model_config, body_mass_kg=subject.mass_kg,
                        settings=config.residual_reduction, out_dir=out_dir / "rra", trial_id=trial_id,
                        log_dir=out_dir / "logs")
                except OpenSimToolError as error:
                    # A check that cannot run is no verdict on the labels: QC judges ID's own
                    # residual instead, and the note says why.
                    result.notes.append(f"RRA check failed, so QC judges the ID residual: {error}")
                    _log.info("%s: RRA check failed: %s", trial_id, error)
                result.timings_s["rra"] = time.perf_counter() - started

        stage = "so"
        so_inputs = dict(model_path=scaled_model_path, coordinates_path=ik.coordinates_path,
                         external_loads_path=so_loads_path, actuators_path=actuators_path, out_dir=out_dir / "so",
                         time_range_s=time_range, trial_id=trial_id, log_dir=out_dir / "logs")
        static_optimization, result.so_solver = _run_static_optimization(
            result, settings=config.static_optimization, **so_inputs,
            later_start_times_s=[float(t) for t in markers.times_s[markers.times_s > time_range[0] + 1e-9][:MAX_START_RETRIES]])
        result.timings_s["so"] = static_optimization.wall_time_s
        if result.so_solver == "batched" and config.static_optimization.cross_check_frames > 0:
            _cross_check(result, static_optimization, config.static_optimization, muscle_names, so_inputs)
        result.so_forces_path = static_optimization.forces_path
        if static_optimization.skipped_start_frames:
            result.notes.append(
                f"SO started {static_optimization.skipped_start_frames} frame(s) late, at "
                f"{static_optimization.start_time_s:.3f} s, and the labels with it; at the trial's first frame: "
                f"{' '.join(static_optimization.start_failure.split())}")

        stage = "labels"
        start = time.perf_counter()
        table = build_label_table(
            ik_coordinates_path=ik.coordinates_path, id_forces_path=inverse_dynamics.generalized_forces_path,
            so_forces_path=static_optimization.forces_path, model_config=model_config, hip_muscles=hip_muscles,
            body_mass_kg=subject.mass_kg, contact=result.contact, start_time_s=static_optimization.start_time_s,
            notes=result.notes)
        stage = "qc"
        report = compute_qc(
            marker_rms_error_m=full_weight_rms_m, marker_max_error_m=full_weight_max_m,
            all_markers_error_m=(ik.marker_rms_error_m, ik.marker_max_error_m),
            inverse_dynamics=read_opensim_table(inverse_dynamics.generalized_forces_path),
            so_forces=read_opensim_table(static_optimization.forces_path),
            n_so_failed_frames=static_optimization.n_failed_frames, model_config=model_config,
            subject=subject, thresholds=config.qc, contact=result.contact, rra_check=result.rra_check,
            so_cross_check_worst_pct_peak=result.so_cross_check.worst_pct_of_peak if result.so_cross_check else None)
        # Labels past a QC fail limit are no labels: a failed trial's folder holds none, so
        # nothing reading the labels folder picks them up.
        if report.status in USABLE_STATUSES:
            result.labels_path = write_labels(table, out_dir / LABELS_FILE)
        result.timings_s["labels"] = time.perf_counter() - start
        result.n_frames = len(table)
        result.qc = report.figures
        result.status = report.status
        result.reasons = list(report.reasons)
    except Gait2HipError as error:
        # The stage the trial stopped in travels with the error, so the batch's record of the
        # failure names the same stage as this trial's summary.json.
        error.stage = stage
        result.reasons = [f"{stage}: {error}"]
        result.summary_path = _write_summary(result, subject, config, markers_trc_path, grf_mot_path,
                                             scaled_model_path, provenance, failed_stage=stage)
        raise
    result.summary_path = _write_summary(result, subject, config, markers_trc_path, grf_mot_path, scaled_model_path,
                                         provenance)
    return result


def _time_range(marker_times_s, requested_s: tuple[float, float] | None, markers_path: Path) -> tuple[float, float]:
    """The trial's frames to label (s): all of them, or those inside ``requested_s``."""
    first, last = float(marker_times_s[0]), float(marker_times_s[-1])
    if requested_s is None:
        return first, last
    start, end = float(requested_s[0]), float(requested_s[1])
    if not start < end:
        raise InputDataError(markers_path, f"time range {start:g}-{end:g} s is empty (start must be before end)")
    inside = marker_times_s[within(marker_times_s, (start, end))]
    if len(inside) < 2:
        raise InputDataError(markers_path, f"time range {start:g}-{end:g} s holds fewer than 2 frames of the "
                                           f"trial's {first:.3f}-{last:.3f} s")
    return float(inside[0]), float(inside[-1])


def _external_loads(grf_path: Path, config: PipelineConfig, model_config: ModelConfig,
                    out_dir: Path, frame_times_s: np.ndarray) -> tuple[Path, Path]:
    """``ExternalLoads`` XMLs for ID and SO, each on ground reactions filtered at its tool's cut-off.

    The filtered files hold the labelled marker frames only (``frame_times_s``, s): the tools
    evaluate the loads there and nowhere else, and a spline through fewer rows is cheaper to fit.
    """
    paths = {}
    for tool, coordinate_cutoff_hz in (("id", config.inverse_dynamics.lowpass_cutoff_hz),
                                       ("so", config.static_optimization.lowpass_cutoff_hz)):
        cutoff_hz = config.grf.cutoff_for(coordinate_cutoff_hz)
        if cutoff_hz not in paths:
            data_path = grf_path
            if cutoff_hz > 0:
                data_path = write_filtered_grf(grf_path, config.grf, cutoff_hz,
                                               out_dir / f"grf_filtered_{cutoff_hz:g}hz.mot", at_times_s=frame_times_s)
            paths[cutoff_hz] = write_external_loads(data_path, config.grf, model_config.foot_bodies,
                                                    out_dir / f"external_loads_{cutoff_hz:g}hz.xml")
        paths[tool] = paths[cutoff_hz]
    return paths["id"], paths["so"]


def _detect_contact(model: opensim.Model, model_config: ModelConfig, markers, ground_reactions,
                    labelled: np.ndarray, config: PipelineConfig) -> ContactReport:
    """Each leg's contact and label validity on the labelled frames (plates and foot markers).

    Contact is found over the whole trial (a marker's floor height needs its stances), then
    cut to the ``labelled`` marker frames (bool mask); the frames near their ends are invalid
    (:meth:`ContactReport.without_ends`).
    """
    foot_markers = {side: tuple(n for n in names if n in markers.marker_names)
                    for side, names in foot_marker_names(model, model_config.foot_bodies).items()}
    positions = {side: markers.positions_m[:, [markers.marker_names.index(n) for n in names], :]
                 for side, names in foot_markers.items()}
    plate_loaded = {side: ground_reactions.stance(side, markers.times_s, config.grf.contact_threshold_n)
                    for side in model_config.foot_bodies}
    cutoffs_hz = [c for c in (config.inverse_dynamics.lowpass_cutoff_hz, config.static_optimization.lowpass_cutoff_hz)
                  if c > 0]
    cutoff_hz = min(cutoffs_hz, default=0.0)
    whole_trial = detect_contact(markers.times_s, plate_loaded, positions, foot_markers, config.foot_contact,
                                 filter_cutoff_hz=cutoff_hz)
    return whole_trial.restricted_to(labelled).without_ends(edge_reach_s(config.foot_contact, cutoff_hz))


def _unobserved_coordinates(model: opensim.Model, marker_weights: dict[str, float],
                            model_config: ModelConfig) -> dict[str, CoordinateTarget]:
    """Free coordinates whose joint moves no tracked marker, held at their default value.

    A lower-body protocol has no trunk marker: the lumbar joint is then free in IK, and the
    torso drifts wherever the solver leaves it. Held at the model's default, the trunk moves
    with the pelvis. Coordinates ``walking_ik_coordinates`` already names are left to it.
    """
    markers = model.getMarkerSet()
    observed_bodies = {marker_body(markers.get(i)) for i in range(markers.getSize())
                       if marker_weights.get(markers.get(i).getName(), 0.0) > 0}

    held = {}
    coordinates = model.getCoordinateSet()
    for index in range(coordinates.getSize()):
        coordinate = coordinates.get(index)
        name = coordinate.getName()
        # A coupler's dependent coordinate (Rajagopal's patella) follows its independent one.
        if (coordinate.get_locked() or name in model_config.walking_ik_coordinates
                or coordinate.isDependent(model.getWorkingState())):
            continue
        moved = bodies_beyond(model, coordinate.getJoint().getChildFrame().findBaseFrame().getName())
        if not moved & observed_bodies:
            value = coordinate.getDefaultValue()
            held[name] = CoordinateTarget(math.degrees(value) if coordinate.getMotionType() == 1 else value)
    return held


def _load_checked_model(scaled_model_path: Path, model_config: ModelConfig) -> opensim.Model:
    path = Path(scaled_model_path)
    model = read_model(path)
    coordinates = model.getCoordinateSet()
    names = {coordinates.get(i).getName() for i in range(coordinates.getSize())}
    needed = set(model_config.input_coordinates) | set(model_config.hip_coordinates) | set(model_config.pelvis_coordinates)
    lacking = sorted(needed - names)
    if lacking:
        raise InputDataError(path, f"the model lacks coordinate(s) the configuration names: {', '.join(lacking)}")
    bodies = model.getBodySet()
    for side, body in model_config.foot_bodies.items():
        if not bodies.contains(body):
            raise InputDataError(path, f"the model has no body {body!r} for the {side} foot's GRF")
    return model


def _run_static_optimization(result: TrialResult, *, settings: StaticOptimizationConfig,
                             **stage_inputs) -> tuple[SOResult, str]:
    """SO by the configured solver; returns its result and the solver that produced it.

    A model feature the batched solver does not reproduce sends the trial to OpenSim's tool,
    with the reason in the trial's notes, so one unusual model never fails a batch.
    """
    if settings.solver == "batched":
        try:
            return run_batched_static_optimization(settings=settings, **stage_inputs), "batched"
        except BatchedSOUnsupportedError as error:
            result.notes.append(f"SO ran OpenSim's tool instead of the batched solver: {error.feature}")
            _log.info("%s: %s", error.trial_id, error)
    return run_static_optimization(settings=settings, **stage_inputs), "opensim"


def _cross_check(result: TrialResult, batched: SOResult, settings: StaticOptimizationConfig, muscle_names: list[str],
                 so_inputs: dict) -> None:
    """Check a batched SO result against OpenSim's tool on ``settings.cross_check_frames`` of its frames.

    The check lands in ``result.so_cross_check``; one that cannot run leaves a note instead, and
    the batched labels it would have checked stand.
    """
    check_dir = Path(so_inputs["out_dir"]) / "cross_check"
    start = time.perf_counter()
    try:
        result.so_cross_check = cross_check_with_opensim(
            batched, muscle_names=muscle_names, n_frames=settings.cross_check_frames, settings=settings,
            **{**so_inputs, "out_dir": check_dir, "log_dir": check_dir / "logs"})
    except OpenSimToolError as error:
        result.notes.append(f"SO cross-check not run: {error}")
        _log.warning("%s: SO cross-check not run: %s", so_inputs["trial_id"], error.detail)
    result.timings_s["so_cross_check"] = time.perf_counter() - start


def _write_summary(result: TrialResult, subject: SubjectInfo, config: PipelineConfig, markers_trc_path: Path,
                   grf_mot_path: Path, scaled_model_path: Path, provenance: dict | None,
                   failed_stage: str | None = None) -> Path:
    content = {
        "kind": "gait2hip.trial",
        "trial_id": result.trial_id,
        "status": result.status,
        "failed_stage": failed_stage,
        "reasons": result.reasons,
        "subject": {"id": subject.subject_id, "mass_kg": subject.mass_kg, "height_m": subject.height_m,
                    "group": subject.group, "affected_side": subject.affected_side},
        "inputs": {"markers": str(Path(markers_trc_path).resolve()), "grf": str(Path(grf_mot_path).resolve()),
                   "scaled_model": str(Path(scaled_model_path).resolve())},
        "stages_run": list(result.timings_s),
        "so_solver": result.so_solver,
        "so_cross_check": result.so_cross_check.to_json() if result.so_cross_check else None,
        "valid_frames": result.contact.to_json() if result.contact else None,
        "marker_consistency": result.marker_consistency.to_json() if result.marker_consistency else None,
        "marker_registration": result.marker_registration.to_json() if result.marker_registration else None,
        "ik_marker_errors": result.ik_marker_errors,
        "rra_check": result.rra_check.to_json() if result.rra_check else None,
        "n_frames": result.n_frames,
        "marker_notes": result.marker_notes,
        "notes": result.notes,
        "qc": result.qc,
        "wall_time_s": result.timings_s,
        "outputs": {"labels": result.labels_path.name if result.labels_path else None},
        "opensim_version": opensim.GetVersion(),
        "config": config.to_dict(),
        "provenance": provenance or {},
    }
    return write_json_atomically(result.out_dir / SUMMARY_FILE, content)
