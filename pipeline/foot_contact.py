"""Foot contact per frame, from the plates and from the foot markers, and per-leg label validity.

On an overground walk only some stances land on the force plates; a stance on the floor beside
them has an unmeasured ground reaction. In a tree-structured model the generalized force at a
joint depends only on the motion and the external loads of the subtree beyond it, and the
model's leg muscles put no generalized force on the pelvis coordinates, so a leg's hip moments
and hip muscle forces are known whenever its own foot is in swing or on a plate, whatever the
other foot does. Only the pelvis residuals need every loaded foot on a plate.

Contact comes from two sources:

- the plates: the foot's vertical ground reaction (after ingest, each foot's merged plates)
  above the load threshold;
- the foot markers (markers of the model's marker set on the foot body and the bodies beyond
  it): a foot is on the ground while one of its markers is both near its own floor height (a
  low percentile of its height over the trial) and slow.

A marker contact that overlaps or touches a plate contact of the same foot is that plate
contact (the plate's timing wins); one that does not is a stance on the floor, and the leg's
labels are unknown over it, widened by a margin for the markers' lag at heel strike and toe-off
and by the reach of the low-pass filters: ID and SO filter the coordinates (and the ground
reactions with them), so an unmeasured load spreads into the frames around it, further before
heel strike (the load rises fast) than after toe-off (it falls slowly). Measured on biomechZoo's
12 walks by removing each plate stance's reaction (benchmarks/floor_stance_reach.py, 6 Hz), the
largest hip moment error is 4.5 % of the leg's peak hip moment at 150 ms before heel strike
and 2.7 % at 100 ms after toe-off.

The filters also start and stop at the first and last labelled frame, and their transients
are in the accelerations there: both legs' labels are invalid near the ends too
(``FootContactConfig.edge_reach_cycles``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from gait2hip.pipeline.config import FootContactConfig

SIDES = ("r", "l")


@dataclass(frozen=True)
class Window:
    """A time window (s, both ends inclusive frame times) and why it is there."""

    start_s: float
    end_s: float
    reason: str = ""

    def to_json(self) -> dict:
        entry = {"start_s": round(self.start_s, 6), "end_s": round(self.end_s, 6)}
        if self.reason:
            entry["reason"] = self.reason
        return entry


@dataclass(frozen=True)
class LegContact:
    """One leg's contact and validity on the trial's frames (each ``(n_frames,)`` bool)."""

    side: str
    stance: np.ndarray
    on_plate: np.ndarray
    valid: np.ndarray
    dropped_windows: tuple[Window, ...]  # where ``valid`` is False, and why


@dataclass(frozen=True)
class ContactReport:
    """Both legs' contact and validity, and the frames whose pelvis residuals can be judged.

    Attributes
    ----------
    times_s
        ``(n_frames,)`` frame times (s).
    legs
        ``{"r": LegContact, "l": LegContact}``.
    foot_markers
        Markers used for each foot's kinematic contact.
    """

    times_s: np.ndarray
    legs: dict[str, LegContact]
    foot_markers: dict[str, tuple[str, ...]]

    def rows_at(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``times_s`` (s): its row in this report, and whether that row is at that time (±1 µs)."""
        rows = np.clip(np.searchsorted(self.times_s, times_s - _TIME_MATCH_S), 0, len(self.times_s) - 1)
        return rows, np.abs(self.times_s[rows] - times_s) <= _TIME_MATCH_S

    def restricted_to(self, frames: np.ndarray) -> "ContactReport":
        """The report on the frames where ``frames`` (bool, ``(n_frames,)``) is True; windows clipped to them."""
        times = self.times_s[frames]
        first, last = (float(times[0]), float(times[-1])) if len(times) else (0.0, 0.0)
        legs = {}
        for side, leg in self.legs.items():
            kept = tuple(Window(max(w.start_s, first), min(w.end_s, last), w.reason) for w in leg.dropped_windows
                         if w.end_s >= first and w.start_s <= last)
            legs[side] = LegContact(side, leg.stance[frames], leg.on_plate[frames], leg.valid[frames], kept)
        return ContactReport(times, legs, self.foot_markers)

    def without_ends(self, reach_s: float) -> "ContactReport":
        """The report with both legs invalid within ``reach_s`` (s) of the first and last frame.

        ID and SO low-pass filter over these frames only: the filters' start and end
        transients spoil the accelerations, and so the labels, near both ends.
        """
        if reach_s <= 0 or not len(self.times_s):
            return self
        first, last = float(self.times_s[0]), float(self.times_s[-1])
        at_start = self.times_s < first + reach_s - _TIME_MATCH_S
        at_end = self.times_s > last - reach_s + _TIME_MATCH_S
        ends = []
        if at_start.any():
            ends.append(Window(first, float(self.times_s[at_start][-1]),
                               "within the low-pass filters' reach of the first labelled frame"))
        if at_end.any():
            ends.append(Window(float(self.times_s[at_end][0]), last,
                               "within the low-pass filters' reach of the last labelled frame"))
        legs = {side: LegContact(side, leg.stance, leg.on_plate, leg.valid & ~at_start & ~at_end,
                                 tuple(sorted(leg.dropped_windows + tuple(ends), key=lambda w: w.start_s)))
                for side, leg in self.legs.items()}
        return ContactReport(self.times_s, legs, self.foot_markers)

    @property
    def residual_frames(self) -> np.ndarray:
        """``(n_frames,)`` bool: every loaded foot on a plate (both legs valid)."""
        return self.legs["r"].valid & self.legs["l"].valid

    def to_json(self) -> dict:
        """``summary.json`` entry: valid windows per leg, and why the other frames were dropped."""
        legs = {}
        for side, leg in self.legs.items():
            legs[side] = {
                "n_valid_frames": int(leg.valid.sum()),
                "valid_windows": [w.to_json() for w in windows_of(self.times_s, leg.valid)],
                "dropped_windows": [w.to_json() for w in leg.dropped_windows],
                "foot_markers": list(self.foot_markers.get(side, ())),
            }
        return {"n_frames": int(len(self.times_s)), "n_residual_frames": int(self.residual_frames.sum()),
                "residual_windows": [w.to_json() for w in windows_of(self.times_s, self.residual_frames)],
                "legs": legs}


def runs_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index pairs (stop exclusive) of the True runs of a boolean array."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def windows_of(times_s: np.ndarray, flags: np.ndarray, reason: str = "") -> list[Window]:
    """The True runs of ``flags`` as time windows (first and last frame times)."""
    return [Window(float(times_s[a]), float(times_s[b - 1]), reason) for a, b in runs_of(flags)]


def marker_contact(times_s: np.ndarray, foot_positions_m: np.ndarray, config: FootContactConfig) -> np.ndarray:
    """``(n_frames,)`` bool: some marker of the foot is near its floor height and slow.

    Parameters
    ----------
    times_s
        ``(n_frames,)`` frame times (s).
    foot_positions_m
        ``(n_frames, n_markers, 3)`` the foot's marker positions (m, OpenSim axes: Y up); NaN
        where a marker is missing (that marker then says nothing in that frame).
    """
    if foot_positions_m.shape[1] == 0 or len(times_s) < 3:
        return np.zeros(len(times_s), dtype=bool)
    heights = foot_positions_m[:, :, 1]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a marker missing throughout has no floor height
        floor = np.nanpercentile(heights, config.floor_percentile, axis=0)
        velocity = np.gradient(foot_positions_m, times_s, axis=0)
        speed = np.linalg.norm(velocity, axis=2)
        low = heights - floor <= config.max_height_above_floor_m
        slow = speed < config.max_speed_m_per_s
    return np.any(low & slow, axis=1)


def invalid_margins_s(config: FootContactConfig, filter_cutoff_hz: float) -> tuple[float, float]:
    """How far (s) a stance on the floor spoils the labels before and after it: marker lag plus filter reach.

    ``filter_cutoff_hz`` is the lowest low-pass cut-off ID and SO apply (0: no filtering).
    """
    if filter_cutoff_hz <= 0:
        return config.margin_s, config.margin_s
    return (config.margin_s + config.heel_strike_reach_cycles / filter_cutoff_hz,
            config.margin_s + config.filter_reach_cycles / filter_cutoff_hz)


def edge_reach_s(config: FootContactConfig, filter_cutoff_hz: float) -> float:
    """How far (s) from the first and last labelled frame the filters' transients spoil the labels.

    ``filter_cutoff_hz`` is the lowest low-pass cut-off ID and SO apply (0: no filtering, no reach).
    """
    return config.edge_reach_cycles / filter_cutoff_hz if filter_cutoff_hz > 0 else 0.0


def leg_contact(side: str, times_s: np.ndarray, plate_loaded: np.ndarray, markers_in_contact: np.ndarray,
                config: FootContactConfig, filter_cutoff_hz: float = 0.0) -> LegContact:
    """Combine one foot's plate and marker contact into stance, on-plate and validity flags.

    A marker contact run that overlaps a plate-loaded run, or comes within ``config.min_swing_s``
    of it, belongs to that plate stance; a run shorter than ``config.min_floor_stance_s`` is no
    stance; every other marker contact run is a stance on the floor: the leg's labels are
    invalid there, widened before and after by :func:`invalid_margins_s`.
    """
    n_frames = len(times_s)
    frame_s = float(np.median(np.diff(times_s))) if n_frames > 1 else 0.0
    before_s, after_s = invalid_margins_s(config, filter_cutoff_hz)
    frames_before = int(round(before_s / frame_s)) if frame_s > 0 else 0
    frames_after = int(round(after_s / frame_s)) if frame_s > 0 else 0
    swing_frames = int(round(max(config.margin_s, config.min_swing_s) / frame_s)) if frame_s > 0 else 0
    min_stance_frames = int(round(config.min_floor_stance_s / frame_s)) if frame_s > 0 else 0
    plate_near = _widened(plate_loaded, swing_frames)
    stance = plate_loaded.copy()
    invalid = np.zeros(n_frames, dtype=bool)
    dropped_windows = []
    for start, stop in runs_of(markers_in_contact):
        if plate_near[start:stop].any() or stop - start < min_stance_frames:
            continue
        stance[start:stop] = True
        lo, hi = max(0, start - frames_before), min(n_frames, stop + frames_after)
        invalid[lo:hi] = True
        dropped_windows.append(Window(float(times_s[lo]), float(times_s[hi - 1]),
                                    f"{_FOOT[side]} foot on the floor off the plates"))
    return LegContact(side=side, stance=stance, on_plate=plate_loaded.copy(), valid=~invalid,
                      dropped_windows=tuple(dropped_windows))


def detect_contact(times_s: np.ndarray, plate_loaded: dict[str, np.ndarray],
                   foot_positions_m: dict[str, np.ndarray], foot_markers: dict[str, tuple[str, ...]],
                   config: FootContactConfig, filter_cutoff_hz: float = 0.0) -> ContactReport:
    """Both legs' contact and validity on the trial's frames.

    Parameters
    ----------
    plate_loaded
        ``{"r": (n_frames,), "l": ...}`` bool: the foot's vertical plate reaction above the
        contact threshold at each frame.
    foot_positions_m
        ``{"r": (n_frames, n_markers, 3), ...}`` each foot's markers (m, Y up).
    foot_markers
        The marker names behind ``foot_positions_m`` (recorded in the report).
    filter_cutoff_hz
        Lowest low-pass cut-off of ID and SO (Hz; 0: unfiltered), for the filters' reach.
    """
    legs = {side: leg_contact(side, times_s, np.asarray(plate_loaded[side], dtype=bool),
                              marker_contact(times_s, foot_positions_m[side], config), config, filter_cutoff_hz)
            for side in SIDES}
    return ContactReport(times_s=np.asarray(times_s), legs=legs, foot_markers=foot_markers)


_FOOT = {"r": "right", "l": "left"}
# Tool outputs reproduce the marker frame times to within this (s).
_TIME_MATCH_S = 1e-6


def _widened(flags: np.ndarray, frames: int) -> np.ndarray:
    """``flags`` with every True run extended by ``frames`` at each end."""
    widened = np.asarray(flags, dtype=bool).copy()
    for start, stop in runs_of(flags):
        widened[max(0, start - frames):min(len(flags), stop + frames)] = True
    return widened


def foot_marker_names(model, foot_bodies: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Markers of ``model``'s marker set on each foot body or a body beyond it (e.g. ``toes_r``).

    ``model`` is an OpenSim model whose connections are finalised (after ``initSystem``);
    ``foot_bodies`` is ``{"r": "calcn_r", "l": "calcn_l"}``.
    """
    from gait2hip.pipeline.model_tree import bodies_beyond, marker_body  # OpenSim: only for this one

    markers = [model.getMarkerSet().get(i) for i in range(model.getMarkerSet().getSize())]
    names = {}
    for side, body in foot_bodies.items():
        beyond = bodies_beyond(model, body)
        names[side] = tuple(marker.getName() for marker in markers if marker_body(marker) in beyond)
    return names
