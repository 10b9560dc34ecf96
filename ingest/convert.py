"""One C3D → the cohort layout: a walking trial folder, or the subject's ``static.trc``.

Everything is read and computed in memory first; files are written only once the whole
trial has succeeded, through a staged folder renamed into place, so a failed conversion
leaves nothing behind.

Output of a walking trial, ``SUBJECT_DIR/trials/<trial_id>/``:

* ``markers.trc`` — model markers (protocol-mapped), mm, marker rate, OpenSim axes;
* ``grf.mot`` — one force set per foot at the **analog rate** (plate data are not
  resampled: the heel-strike transient survives and OpenSim interpolates as needed);
* ``trial.yaml`` — id, cadence condition, cadence, events and cycles;
* ``ingest_summary.json`` — provenance: source file, protocol, axes, plate contacts,
  event sources and notes, settings.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import write_trc
from gait2hip.ingest.axes import LabAxes, find_lab_axes
from gait2hip.ingest.c3d_reader import C3DRecording, read_c3d
from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.foot_assignment import SIDES, PlateContact, assign_plates_to_feet, find_short_contacts
from gait2hip.ingest.force_plates import plate_reaction
from gait2hip.ingest.gait_events import GaitEvents, detect_gait_events, trial_yaml_content
from gait2hip.ingest.protocol_detection import ProtocolChoice, choose_protocol
from gait2hip.ingest.protocols import MappedMarkers, map_markers
from gait2hip.ingest.writers import staged_folder, write_grf_mot, write_yaml

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialConversion:
    """What one converted C3D produced.

    Attributes
    ----------
    kind
        ``"walking"`` or ``"static"``.
    paths
        Written files by role (``markers``, ``grf``, ``trial``, ``summary`` or ``static``).
    events
        Gait events (walking trials only).
    subject_mass_kg, subject_height_m
        The subject's body mass (kg) and height (m) from the file's ``PROCESSING``
        parameters, None where it has none.
    protocol
        The marker protocol the file was read with, and how it was chosen.
    """

    trial_id: str
    kind: str
    source_path: Path
    paths: dict[str, Path]
    axes: LabAxes
    duration_s: float
    events: GaitEvents | None = None
    contacts: tuple[PlateContact, ...] = field(default=())
    subject_mass_kg: float | None = None
    subject_height_m: float | None = None
    protocol: ProtocolChoice | None = None


@dataclass(frozen=True)
class _Prepared:
    recording: C3DRecording
    protocol: ProtocolChoice
    markers: MappedMarkers
    axes: LabAxes
    positions_m: np.ndarray  # (n_frames, n_markers, 3) OpenSim axes
    pelvis_m: np.ndarray  # (n_frames, 3)
    heels_m: dict[str, np.ndarray]
    toes_m: dict[str, np.ndarray]


def trial_id_from(path: Path) -> str:
    """A folder-safe trial id from a file name (``Walk 03.c3d`` → ``Walk_03``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).strip("._") or "trial"


def convert_c3d_trial(c3d_path: str | Path, subject_dir: str | Path, *, config: IngestConfig | None = None,
                      trial_id: str | None = None, cadence_condition: str = "self_selected",
                      overwrite: bool = False) -> TrialConversion:
    """Convert one walking-trial C3D into ``SUBJECT_DIR/trials/<trial_id>/``.

    Parameters
    ----------
    c3d_path
        The C3D file: markers and at least one force plate.
    subject_dir
        The subject's folder in the cohort layout.
    config
        Ingest settings (protocol, axes, filter, thresholds); defaults when None.
    trial_id
        Folder name of the trial (default: from the file name).
    cadence_condition
        Tag stored in ``trial.yaml`` (e.g. ``cadence_090`` or ``self_selected``).
    overwrite
        Replace an existing trial folder of the same id.

    Raises
    ------
    InputDataError
        For any problem with the file (named in the message); nothing is written then.
    """
    path = Path(c3d_path)
    config = config or IngestConfig()
    trial_id = trial_id or trial_id_from(path)
    final_dir = Path(subject_dir) / "trials" / trial_id
    if final_dir.exists() and not overwrite:
        raise InputDataError(final_dir, "already exists; pass --overwrite to replace it")
    prepared = _prepare(path, config, walking=True)
    recording = prepared.recording
    plates = [plate_reaction(plate, prepared.axes, rate_hz=recording.analog_rate_hz, cutoff_hz=config.lowpass_cutoff_hz,
                             order=config.lowpass_order, threshold_n=config.load_threshold_n, source_path=path)
              for plate in recording.plates]
    if not any(plate.loaded.any() for plate in plates):
        raise InputDataError(path, f"no force plate carries more than {config.load_threshold_n:g} N: nobody stepped "
                                   "on a plate (or the analog channels are not the plates')")
    analog_times = recording.analog_times_s
    feet, contacts = assign_plates_to_feet(
        plates, analog_times, recording.marker_times_s, prepared.heels_m, prepared.toes_m,
        max_distance_m=config.max_cop_to_foot_distance_m, min_agreement=config.min_assignment_agreement,
        threshold_n=config.load_threshold_n, source_path=path, min_contact_s=config.min_plate_contact_s)
    events = detect_gait_events(
        analog_times_s=analog_times, vertical_force_n={side: feet[side].force_n[:, 1] for side in SIDES},
        threshold_n=config.load_threshold_n, marker_times_s=recording.marker_times_s,
        marker_rate_hz=recording.marker_rate_hz, pelvis_m=prepared.pelvis_m, heels_m=prepared.heels_m,
        toes_m=prepared.toes_m, filter_cutoff_hz=config.event_filter_cutoff_hz,
        kinematic_tolerance_s=config.event_kinematic_tolerance_s, min_stride_s=config.min_stride_s)
    trial_yaml = trial_yaml_content(trial_id, cadence_condition, events)
    summary = _summary(prepared, config, "walking") | {
        "trial": trial_id,
        "grf_rate_hz": recording.analog_rate_hz,
        "plate_contacts": [{"plate": c.plate_number, "side": c.side, "start_s": c.start_s, "end_s": c.end_s,
                            "mean_cop_to_foot_distance_m": c.mean_distance_m} for c in contacts],
        "plate_contacts_dropped": [c.to_json() for c in find_short_contacts(plates, analog_times,
                                                                            config.min_plate_contact_s)],
        "event_sources": events.sources,
        "event_notes": list(events.notes),
    }
    with staged_folder(final_dir, overwrite=overwrite) as staging:
        write_trc(staging / "markers.trc", prepared.markers.names, prepared.positions_m, recording.marker_times_s,
                  recording.marker_rate_hz)
        write_grf_mot(staging / "grf.mot", analog_times, feet)
        write_yaml(staging / "trial.yaml", trial_yaml)
        write_json_atomically(staging / "ingest_summary.json", summary)
    paths = {role: final_dir / name for role, name in (("markers", "markers.trc"), ("grf", "grf.mot"),
                                                        ("trial", "trial.yaml"), ("summary", "ingest_summary.json"))}
    logger.info("%s → %s (%d heel strikes, cadence %s steps/min)", path.name, final_dir,
                sum(len(v) for v in events.heel_strike_s.values()), trial_yaml["cadence_steps_per_min"])
    return TrialConversion(trial_id, "walking", path, paths, prepared.axes, _duration(recording), events, tuple(contacts),
                           recording.subject_mass_kg, recording.subject_height_m, prepared.protocol)


def convert_c3d_static(c3d_path: str | Path, subject_dir: str | Path, *, config: IngestConfig | None = None,
                       overwrite: bool = False) -> TrialConversion:
    """Convert a static standing C3D into ``SUBJECT_DIR/static.trc`` (force plates optional).

    Raises
    ------
    InputDataError
        For any problem with the file, or when ``static.trc`` exists and ``overwrite`` is False.
    """
    path = Path(c3d_path)
    config = config or IngestConfig()
    target = Path(subject_dir) / "static.trc"
    if target.exists() and not overwrite:
        raise InputDataError(target, "already exists; pass --overwrite to replace it")
    prepared = _prepare(path, config, walking=False)
    recording = prepared.recording
    write_trc(target, prepared.markers.names, prepared.positions_m, recording.marker_times_s, recording.marker_rate_hz)
    logger.info("%s → %s", path.name, target)
    return TrialConversion("static", "static", path, {"static": target}, prepared.axes, _duration(recording),
                           subject_mass_kg=recording.subject_mass_kg, subject_height_m=recording.subject_height_m,
                           protocol=prepared.protocol)


def _prepare(path: Path, config: IngestConfig, *, walking: bool) -> _Prepared:
    """Read the file, choose its protocol, map its markers, find the axes and rotate the markers into OpenSim's."""
    recording = read_c3d(path, ignore_plates=config.ignore_plates)
    if walking and not recording.plates:
        raise InputDataError(path, "has no force plates (FORCE_PLATFORM:USED is 0, or all plates ignored); a walking "
                                   "trial needs ground reaction forces (use --static for a static trial)")
    choice = choose_protocol(config.protocol, recording.marker_names, recording.marker_positions_m, path,
                             extra_required=config.required_markers)
    protocol = choice.protocol
    markers = map_markers(protocol, recording.marker_names, recording.marker_positions_m, path,
                          extra_required=config.required_markers)
    pelvis = np.mean([markers.position(name) for name in protocol.pelvis_markers], axis=0)
    heels = {side: markers.position(protocol.heel_markers[side]) for side in SIDES}
    toes = {side: markers.position(protocol.toe_markers[side]) for side in SIDES}
    axes = find_lab_axes(
        vertical_axis=config.vertical_axis, forward_axis=config.forward_axis,
        plate_forces_n=[plate.force_n for plate in recording.plates], load_threshold_n=config.load_threshold_n,
        pelvis_m=pelvis, heels_m=np.stack([heels[s] for s in SIDES], axis=1),
        toes_m=np.stack([toes[s] for s in SIDES], axis=1))
    return _Prepared(
        recording=recording,
        protocol=choice,
        markers=markers,
        axes=axes,
        positions_m=axes.apply(markers.positions_m),
        pelvis_m=axes.apply(pelvis),
        heels_m={side: axes.apply(heels[side]) for side in SIDES},
        toes_m={side: axes.apply(toes[side]) for side in SIDES},
    )


def _duration(recording: C3DRecording) -> float:
    return (recording.marker_positions_m.shape[0] - 1) / recording.marker_rate_hz


def _summary(prepared: _Prepared, config: IngestConfig, kind: str) -> dict:
    recording, axes, markers = prepared.recording, prepared.axes, prepared.markers
    protocol = prepared.protocol.protocol
    return {
        "kind": f"gait2hip.ingest.{kind}",
        "source": str(recording.source_path.resolve()),
        "protocol": protocol.name,
        "protocol_choice": prepared.protocol.to_json(),
        "markers_written": list(markers.names),
        "marker_sources": {name: list(source) for name, source in markers.sources.items()},
        "markers_not_found": list(markers.not_found),
        "markers_approximate": [name for name in protocol.approximate if name in markers.names],
        "marker_rate_hz": recording.marker_rate_hz,
        "analog_rate_hz": recording.analog_rate_hz,
        "start_time_s": recording.start_time_s,
        "axes": {"vertical_axis": axes.vertical_axis, "vertical_from": axes.vertical_from,
                 "forward_axis": axes.forward_axis, "forward_from": axes.forward_from,
                 "lab_to_opensim_rotation": axes.rotation.tolist()},
        "plates_used": [plate.number for plate in recording.plates],
        "settings": config.to_dict(),
    }
