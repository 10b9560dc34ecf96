"""Heel strikes and toe-offs: from the force plates, with a kinematic fallback; cycles, cadence.

Plates: a foot's heel strike is the first sample its merged vertical reaction exceeds the
load threshold, its toe-off the last one; a stance already under way at the first sample
(or not over at the last) gives no event at that end.

Kinematic fallback, for strides off the plates (Zeni et al. 2008, *Gait & Posture* 27:710):
along the walking direction, a heel strike is a maximum of the heel's position relative to
the pelvis centre and a toe-off a minimum of the toe's. Trajectories are low-pass filtered
first (zero-lag Butterworth). A kinematic event inside a plate-measured stance of the same
foot, or within a tolerance of it, is dropped: the plate's timing wins. The method assumes
steady walking in one direction; its events typically lie within one or two frames of the
force-plate events in healthy gait and may drift in pathological gait.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

from gait2hip.ingest.foot_assignment import SIDES, loaded_runs

logger = logging.getLogger(__name__)

_MIN_TRAVEL_M = 0.3
_MAX_CYCLE_S = 3.0
_DISAGREEMENT_NOTE_S = 0.05


@dataclass(frozen=True)
class GaitEvents:
    """Events of one walking trial (times in s), by side ``"r"``/``"l"``.

    Attributes
    ----------
    heel_strike_s, toe_off_s
        Sorted event times per side.
    sources
        ``{"heel_strike_r": ["plate", "kinematic", ...], ...}`` source of each event.
    cycles_s
        Per side, ``(start, end)`` pairs of consecutive heel strikes of that foot.
    cadence_steps_per_min
        Two steps per stride, from the mean cycle duration; None without a stride.
    notes
        Human-readable remarks (disagreements between plates and kinematics, skipped sides).
    """

    heel_strike_s: dict[str, list[float]]
    toe_off_s: dict[str, list[float]]
    sources: dict[str, list[str]]
    cycles_s: dict[str, list[tuple[float, float]]]
    cadence_steps_per_min: float | None
    notes: tuple[str, ...] = field(default=())


def trial_yaml_content(trial_id: str, cadence_condition: str, events: GaitEvents) -> dict:
    """A walking trial's ``trial.yaml`` (docs/cohort_layout.md): id, condition, cadence, events and cycles."""
    return {
        "id": trial_id,
        "cadence_condition": cadence_condition,
        "cadence_steps_per_min": None if events.cadence_steps_per_min is None else round(events.cadence_steps_per_min, 2),
        "events": {f"{kind}_{side}": [round(t, 4) for t in getattr(events, f"{kind}_s")[side]]
                   for kind in ("heel_strike", "toe_off") for side in SIDES},
        "cycles": {side: [[round(a, 4), round(b, 4)] for a, b in events.cycles_s[side]] for side in SIDES},
    }


def detect_gait_events(*, analog_times_s: np.ndarray, vertical_force_n: dict[str, np.ndarray], threshold_n: float,
                       marker_times_s: np.ndarray, marker_rate_hz: float, pelvis_m: np.ndarray,
                       heels_m: dict[str, np.ndarray], toes_m: dict[str, np.ndarray], filter_cutoff_hz: float,
                       kinematic_tolerance_s: float, min_stride_s: float) -> GaitEvents:
    """Combine plate and kinematic events, then derive cycles and cadence.

    Parameters
    ----------
    vertical_force_n
        ``{"r": (n_samples,), "l": ...}`` merged vertical reaction of each foot (N) at ``analog_times_s``.
    pelvis_m
        ``(n_frames, 3)`` pelvis centre (m, OpenSim axes) at ``marker_times_s``.
    heels_m, toes_m
        ``{"r": (n_frames, 3), "l": ...}`` heel and toe markers (m, OpenSim axes).
    """
    notes: list[str] = []
    direction = _walking_direction(pelvis_m, heels_m, toes_m)
    events: dict[str, list[tuple[float, str]]] = {}
    for side in SIDES:
        stances = [(analog_times_s[start], analog_times_s[stop - 1], start > 0, stop < len(analog_times_s))
                   for start, stop in loaded_runs(vertical_force_n[side] > threshold_n)]
        plate_hs = [begin for begin, _, has_start, _ in stances if has_start]
        plate_to = [end for _, end, _, has_end in stances if has_end]
        kinematic = _kinematic_events(marker_times_s, marker_rate_hz, pelvis_m, heels_m[side], toes_m[side],
                                      direction, filter_cutoff_hz, min_stride_s)
        if kinematic is None:
            notes.append(f"{side}: no kinematic events (foot or pelvis markers too incomplete)")
            kinematic = ([], [])
        for kind, plate_times, kinematic_times in (("heel_strike", plate_hs, kinematic[0]),
                                                   ("toe_off", plate_to, kinematic[1])):
            kept = [t for t in kinematic_times
                    if not any(begin - kinematic_tolerance_s <= t <= end + kinematic_tolerance_s
                               for begin, end, _, _ in stances)]
            for t in plate_times:
                nearest = min(kinematic_times, key=lambda k: abs(k - t), default=None)
                if nearest is not None and _DISAGREEMENT_NOTE_S < abs(nearest - t) <= kinematic_tolerance_s:
                    notes.append(f"{kind}_{side} at {t:.3f} s: plate and kinematics differ by {abs(nearest - t) * 1e3:.0f} ms")
            events[f"{kind}_{side}"] = sorted([(float(t), "plate") for t in plate_times]
                                              + [(float(t), "kinematic") for t in kept])
    heel_strikes = {side: [t for t, _ in events[f"heel_strike_{side}"]] for side in SIDES}
    cycles = {side: _cycles(heel_strikes[side], heel_strikes[_other(side)]) for side in SIDES}
    durations = [end - start for side in SIDES for start, end in cycles[side]]
    cadence = 120.0 / float(np.mean(durations)) if durations else None
    for note in notes:
        logger.info("gait events: %s", note)
    return GaitEvents(
        heel_strike_s=heel_strikes,
        toe_off_s={side: [t for t, _ in events[f"toe_off_{side}"]] for side in SIDES},
        sources={key: [source for _, source in values] for key, values in events.items()},
        cycles_s=cycles,
        cadence_steps_per_min=cadence,
        notes=tuple(notes),
    )


def _other(side: str) -> str:
    return "l" if side == "r" else "r"


def _cycles(heel_strikes: list[float], other_heel_strikes: list[float]) -> list[tuple[float, float]]:
    """Consecutive heel strikes of one foot with exactly one of the other foot's in between (when known)."""
    cycles = []
    for start, end in zip(heel_strikes, heel_strikes[1:]):
        between = sum(start < t < end for t in other_heel_strikes)
        if end - start <= _MAX_CYCLE_S and (between == 1 or not other_heel_strikes):
            cycles.append((start, end))
    return cycles


def _walking_direction(pelvis_m: np.ndarray, heels_m: dict[str, np.ndarray], toes_m: dict[str, np.ndarray]) -> np.ndarray:
    """Horizontal unit vector of the pelvis's travel, or of heel → toe when it barely moves (treadmill)."""
    valid = np.flatnonzero(~np.isnan(pelvis_m).any(axis=1))
    travel = pelvis_m[valid[-1]] - pelvis_m[valid[0]] if len(valid) else np.zeros(3)
    travel[1] = 0.0
    if np.linalg.norm(travel) < _MIN_TRAVEL_M:
        travel = np.nanmean(np.concatenate([toes_m[s] - heels_m[s] for s in SIDES]), axis=0)
        travel[1] = 0.0
    norm = np.linalg.norm(travel)
    return travel / norm if norm > 0 else np.array([1.0, 0.0, 0.0])


def _kinematic_events(times_s: np.ndarray, rate_hz: float, pelvis_m: np.ndarray, heel_m: np.ndarray,
                      toe_m: np.ndarray, direction: np.ndarray, cutoff_hz: float,
                      min_stride_s: float) -> tuple[list[float], list[float]] | None:
    """Zeni et al. (2008) heel strikes (heel maxima) and toe-offs (toe minima) relative to the pelvis."""
    heel = _fill_and_filter((heel_m - pelvis_m) @ direction, rate_hz, cutoff_hz)
    toe = _fill_and_filter((toe_m - pelvis_m) @ direction, rate_hz, cutoff_hz)
    if heel is None or toe is None:
        return None
    distance = max(1, int(round(min_stride_s * rate_hz)))
    found = []
    for signal in (heel, -toe):
        spread = float(np.percentile(signal, 95) - np.percentile(signal, 5))
        peaks, _ = find_peaks(signal, distance=distance, prominence=max(0.25 * spread, 1e-3))
        found.append([float(times_s[i]) for i in peaks])
    return found[0], found[1]


def _fill_and_filter(signal: np.ndarray, rate_hz: float, cutoff_hz: float) -> np.ndarray | None:
    """Interpolate NaN gaps (hold the ends), then low-pass; None when under half the frames are valid."""
    valid = ~np.isnan(signal)
    if valid.sum() < max(0.5 * len(signal), 4):
        return None
    index = np.arange(len(signal))
    filled = np.interp(index, index[valid], signal[valid])
    if cutoff_hz >= rate_hz / 2 or len(signal) <= 15:
        return filled
    sos = butter(2, cutoff_hz, btype="low", fs=rate_hz, output="sos")
    return sosfiltfilt(sos, filled)
