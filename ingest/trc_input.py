"""A lab's TRC (its own marker names) and GRF ``.mot`` → the cohort layout (``gait2hip ingest trc``).

Labs that export OpenSim files themselves keep their own marker names (``RASI``, ``r.ASIS``,
``L_knee``). The marker protocol renames them into the model's (``auto`` chooses the shipped
protocol that fits best, as for C3D files); positions are kept as they are, so the TRC must
already be in OpenSim's axes (Y up), which is checked: the pelvis must lie above the feet
along +Y. The GRF ``.mot`` must hold the columns of the pipeline's default force sets
(:func:`gait2hip.core.opensim_files.grf_column_names`: ``ground_force_v[xyz]`` … for the
right foot, ``1_…`` for the left), a valid time column overlapping the markers' and some
vertical load; it is then copied unchanged. Gait events come from the GRF's vertical force
of each foot, with the kinematic fallback of :mod:`gait2hip.ingest.gait_events`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from gait2hip.core.atomic import write_atomically, write_json_atomically
from gait2hip.core.errors import InputDataError
from gait2hip.core.opensim_files import (check_time_column, grf_column_names, grf_identifiers, read_opensim_table,
                                         read_trc, write_trc)
from gait2hip.ingest.axes import LabAxes
from gait2hip.ingest.batch import write_subject_yaml
from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.convert import TrialConversion, trial_id_from
from gait2hip.ingest.foot_assignment import SIDES
from gait2hip.ingest.gait_events import detect_gait_events, trial_yaml_content
from gait2hip.ingest.protocol_detection import ProtocolChoice, choose_protocol
from gait2hip.ingest.protocols import MappedMarkers, map_markers
from gait2hip.ingest.writers import staged_folder, write_yaml
from gait2hip.pipeline.subject import SubjectInfo

logger = logging.getLogger(__name__)

_UNIT_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}
# The pelvis of a standing or walking person is this far (m) above the feet, at least.
_MIN_PELVIS_HEIGHT_M = 0.3
_OPENSIM_AXES = LabAxes("+y", "+x", np.eye(3), "OpenSim TRC (as given)", "OpenSim TRC (as given)")


def convert_trc_trial(trc_path: str | Path, grf_path: str | Path, subject_dir: str | Path, *,
                      config: IngestConfig | None = None, trial_id: str | None = None,
                      cadence_condition: str = "self_selected", overwrite: bool = False) -> TrialConversion:
    """Rename a walking trial's markers and copy its GRF into ``SUBJECT_DIR/trials/<trial_id>/``.

    Parameters
    ----------
    trc_path
        Marker trajectories in OpenSim's axes (Y up), the lab's marker names, mm/cm/m.
    grf_path
        Ground reactions with the standard column names (right foot unprefixed, left ``1_``).
    config
        ``protocol``, ``load_threshold_n`` and the event settings are used; the C3D-only
        settings (axes, plate filter) are not.

    Raises
    ------
    InputDataError
        Naming the file: unreadable TRC or ``.mot``, no protocol fits, markers not Y-up,
        GRF columns missing, bad or non-overlapping time column, no vertical load.
    """
    trc_path, grf_path = Path(trc_path), Path(grf_path)
    config = config or IngestConfig()
    trial_id = trial_id or trial_id_from(trc_path)
    final_dir = Path(subject_dir) / "trials" / trial_id
    if final_dir.exists() and not overwrite:
        raise InputDataError(final_dir, "already exists; pass --overwrite to replace it")
    choice, markers, times_s, rate_hz = _renamed_markers(trc_path, config)
    feet = _feet(trc_path, choice, markers)
    grf = read_opensim_table(grf_path)
    missing = [name for name in grf_column_names() if name not in grf.columns]
    if missing:
        raise InputDataError(grf_path, f"lacks the GRF column(s) {', '.join(missing)}; the pipeline's force sets read "
                                       "ground_force_v[xyz], ground_force_p[xyz], ground_torque_[xyz] (right foot) and "
                                       "the same with 1_ (left foot); rename the columns or set grf.force_sets in the "
                                       "pipeline config")
    grf_times_s = grf["time"].to_numpy()
    check_time_column(grf_path, grf_times_s)
    if grf_times_s[-1] < times_s[0] or grf_times_s[0] > times_s[-1]:
        raise InputDataError(grf_path, f"covers {grf_times_s[0]:.3f}-{grf_times_s[-1]:.3f} s, the markers "
                                       f"{times_s[0]:.3f}-{times_s[-1]:.3f} s: no overlap (were they exported from "
                                       "the same trial?)")
    vertical_n = {side: grf[f"{grf_identifiers(side).force}y"].to_numpy() for side in SIDES}
    if not any((vertical_n[side] > config.load_threshold_n).any() for side in SIDES):
        raise InputDataError(grf_path, f"no vertical force (ground_force_vy, 1_ground_force_vy) above "
                                       f"{config.load_threshold_n:g} N: not the ground's reaction in OpenSim's axes "
                                       "(Y up)?")
    events = detect_gait_events(
        analog_times_s=grf_times_s, vertical_force_n=vertical_n, threshold_n=config.load_threshold_n,
        marker_times_s=times_s, marker_rate_hz=rate_hz, pelvis_m=feet["pelvis"], heels_m=feet["heels"],
        toes_m=feet["toes"], filter_cutoff_hz=config.event_filter_cutoff_hz,
        kinematic_tolerance_s=config.event_kinematic_tolerance_s, min_stride_s=config.min_stride_s)
    trial_yaml = trial_yaml_content(trial_id, cadence_condition, events)
    summary = _summary(trc_path, choice, markers, config, "trc_walking") | {
        "trial": trial_id, "grf_source": str(grf_path.resolve()), "marker_rate_hz": rate_hz,
        "event_sources": events.sources, "event_notes": list(events.notes)}
    with staged_folder(final_dir, overwrite=overwrite) as staging:
        write_trc(staging / "markers.trc", markers.names, markers.positions_m, times_s, rate_hz)
        write_atomically(staging / "grf.mot", lambda temporary: shutil.copyfile(grf_path, temporary))
        write_yaml(staging / "trial.yaml", trial_yaml)
        write_json_atomically(staging / "ingest_summary.json", summary)
    paths = {role: final_dir / name for role, name in (("markers", "markers.trc"), ("grf", "grf.mot"),
                                                        ("trial", "trial.yaml"), ("summary", "ingest_summary.json"))}
    logger.info("%s + %s → %s (protocol %s)", trc_path.name, grf_path.name, final_dir, choice.describe())
    return TrialConversion(trial_id, "walking", trc_path, paths, _OPENSIM_AXES, float(times_s[-1] - times_s[0]),
                           events, protocol=choice)


def convert_trc_static(trc_path: str | Path, subject_dir: str | Path, *, config: IngestConfig | None = None,
                       overwrite: bool = False) -> TrialConversion:
    """Rename a static trial's markers into ``SUBJECT_DIR/static.trc``.

    Raises
    ------
    InputDataError
        As :func:`convert_trc_trial` for the markers, or when ``static.trc`` exists and
        ``overwrite`` is False.
    """
    trc_path = Path(trc_path)
    config = config or IngestConfig()
    target = Path(subject_dir) / "static.trc"
    if target.exists() and not overwrite:
        raise InputDataError(target, "already exists; pass --overwrite to replace it")
    choice, markers, times_s, rate_hz = _renamed_markers(trc_path, config)
    _feet(trc_path, choice, markers)
    write_trc(target, markers.names, markers.positions_m, times_s, rate_hz)
    return TrialConversion("static", "static", trc_path, {"static": target}, _OPENSIM_AXES,
                           float(times_s[-1] - times_s[0]), protocol=choice)


def ingest_trc(markers_path: str | Path, grf_path: str | Path, subject_dir: str | Path, *,
               static: str | Path | None = None, config: IngestConfig | None = None, trial_id: str | None = None,
               cadence_condition: str = "self_selected", overwrite: bool = False, mass_kg: float | None = None,
               height_m: float | None = None, subject_id: str | None = None) -> list[TrialConversion]:
    """Convert a walking trial (and a static trial) given as TRC + GRF ``.mot``, and write ``subject.yaml``.

    ``subject.yaml`` is written from ``mass_kg`` and ``height_m`` (a TRC carries neither); without
    them an existing ``subject.yaml`` is kept.

    Returns
    -------
    list of TrialConversion
        The static trial first when given, then the walking trial.

    Raises
    ------
    InputDataError
        Before anything is written, when neither ``mass_kg``/``height_m`` nor an existing
        ``subject.yaml`` give the subject; otherwise as :func:`convert_trc_trial`.
    """
    subject_dir = Path(subject_dir)
    subject = None
    if mass_kg is not None and height_m is not None:
        try:
            subject = SubjectInfo(subject_id or subject_dir.name, float(mass_kg), float(height_m))
        except ValueError as error:
            raise InputDataError(subject_dir / "subject.yaml", f"not written: {error}") from error
    elif not (subject_dir / "subject.yaml").exists():
        raise InputDataError(subject_dir / "subject.yaml", "not written: a TRC carries no body mass or height; pass "
                                                           "--mass KG --height M")
    converted = []
    if static is not None:
        converted.append(convert_trc_static(static, subject_dir, config=config, overwrite=overwrite))
    converted.append(convert_trc_trial(markers_path, grf_path, subject_dir, config=config, trial_id=trial_id,
                                       cadence_condition=cadence_condition, overwrite=overwrite))
    if subject is not None:
        write_subject_yaml(subject_dir, subject)
    return converted


def _renamed_markers(trc_path: Path, config: IngestConfig) -> tuple[ProtocolChoice, MappedMarkers, np.ndarray, float]:
    content = read_trc(trc_path)
    unit = content.metadata.get("Units", "").strip().lower()
    if unit not in _UNIT_TO_M:
        raise InputDataError(trc_path, f"Units {unit!r} in the TRC header (expected mm, cm or m)")
    positions_m = content.positions * _UNIT_TO_M[unit]
    times_s = content.times_s
    check_time_column(trc_path, times_s)
    if len(times_s) < 2:
        raise InputDataError(trc_path, "holds fewer than 2 frames")
    rate_hz = float(content.metadata.get("DataRate") or (len(times_s) - 1) / (times_s[-1] - times_s[0]))
    choice = choose_protocol(config.protocol, content.marker_names, positions_m, trc_path,
                             extra_required=config.required_markers)
    markers = map_markers(choice.protocol, content.marker_names, positions_m, trc_path,
                          extra_required=config.required_markers)
    return choice, markers, times_s, rate_hz


def _feet(trc_path: Path, choice: ProtocolChoice, markers: MappedMarkers) -> dict:
    """Pelvis centre, heels and toes; refuses markers whose pelvis is not above the feet along +Y."""
    protocol = choice.protocol
    pelvis = np.mean([markers.position(name) for name in protocol.pelvis_markers], axis=0)
    heels = {side: markers.position(protocol.heel_markers[side]) for side in SIDES}
    toes = {side: markers.position(protocol.toe_markers[side]) for side in SIDES}
    feet_y = np.nanmean([np.nanmean(v[:, 1]) for v in (*heels.values(), *toes.values())])
    height_m = float(np.nanmean(pelvis[:, 1]) - feet_y)
    if not height_m > _MIN_PELVIS_HEIGHT_M:
        offset = np.nanmean(pelvis, axis=0) - np.nanmean(np.concatenate([*heels.values(), *toes.values()]), axis=0)
        up = "xyz"[int(np.argmax(np.abs(offset)))]
        raise InputDataError(trc_path,
                             f"the pelvis is {height_m:.2f} m above the feet along +Y (it is furthest along "
                             f"{'+' if offset['xyz'.index(up)] > 0 else '-'}{up}): the TRC is not in OpenSim's axes "
                             "(Y up); export it in OpenSim's axes, or ingest the C3D with gait2hip ingest c3d")
    return {"pelvis": pelvis, "heels": heels, "toes": toes}


def _summary(trc_path: Path, choice: ProtocolChoice, markers: MappedMarkers, config: IngestConfig, kind: str) -> dict:
    protocol = choice.protocol
    return {
        "kind": f"gait2hip.ingest.{kind}",
        "source": str(trc_path.resolve()),
        "protocol": protocol.name,
        "protocol_choice": choice.to_json(),
        "markers_written": list(markers.names),
        "marker_sources": {name: list(source) for name, source in markers.sources.items()},
        "markers_not_found": list(markers.not_found),
        "markers_approximate": [name for name in protocol.approximate if name in markers.names],
        "axes": "as in the TRC (OpenSim's: Y up), not rotated",
        "settings": config.to_dict(),
    }
