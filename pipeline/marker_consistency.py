"""Marker consistency: do the walking trial's markers fit the rigid bodies scaling placed them on?

Scaling placed the model's markers on the static trial, so the distance between two markers
of one body in the scaled model is their distance in standing. IK treats each body as rigid:
when the walking trial's distance between two markers of one body differs from the standing
one (a marker re-applied or moved between the trials, a shoulder marker that rides on the
scapula) or varies across the trial, no pose fits both markers, and IK spreads the mismatch
over the body and its neighbours. This check, run before IK, compares every pair of weighted
markers on each body, blames the markers that the inconsistent pairs share, and down-weights
or drops them, so that one bad marker neither distorts the fit of the others nor fails the trial.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim

from gait2hip.core.errors import ConfigError, InputDataError
from gait2hip.core.opensim_files import within
from gait2hip.pipeline.config import MarkerConsistencyConfig
from gait2hip.pipeline.markers import MarkerTrajectories
from gait2hip.pipeline.model_tree import read_model

_MM_PER_M = 1000.0
# Walking over static distance of the median marker pair: skin motion moves single pairs by tens of
# percent; a factor of two on the median is a unit or file mix-up (mm read as cm gives 0.1).
_SIZE_RATIO_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class PairCheck:
    """Two weighted markers of one body: static (scaled model) against walking distance, in m.

    Attributes
    ----------
    static_distance_m
        Their distance in the scaled model, i.e. in the static trial.
    walking_median_m, walking_spread_m
        Median of their per-frame walking distance, and its range between the configured
        percentiles.
    distance_tolerance_m, spread_tolerance_m
        The tolerances the pair was held to.
    """

    body: str
    markers: tuple[str, str]
    static_distance_m: float
    walking_median_m: float
    walking_spread_m: float
    distance_tolerance_m: float
    spread_tolerance_m: float

    @property
    def offset_m(self) -> float:
        """Walking median minus static distance (m)."""
        return self.walking_median_m - self.static_distance_m

    @property
    def excess_m(self) -> float:
        """How far past its tolerances the pair is (m): the larger excess of the two; <= 0 when consistent."""
        return max(abs(self.offset_m) - self.distance_tolerance_m, self.walking_spread_m - self.spread_tolerance_m)

    @property
    def consistent(self) -> bool:
        return self.excess_m <= 0

    def other(self, marker: str) -> str:
        return self.markers[1] if marker == self.markers[0] else self.markers[0]

    def describe(self) -> str:
        """E.g. ``R.Acromium–L.Acromium 419 mm walking vs 342 mm static (+77 mm), varying 4 mm``."""
        return (f"{self.markers[0]}–{self.markers[1]} {self.walking_median_m * _MM_PER_M:.0f} mm walking vs "
                f"{self.static_distance_m * _MM_PER_M:.0f} mm static ({self.offset_m * _MM_PER_M:+.0f} mm), "
                f"varying {self.walking_spread_m * _MM_PER_M:.0f} mm")

    def to_json(self) -> dict:
        return {"body": self.body, "markers": list(self.markers),
                "static_mm": _mm(self.static_distance_m), "walking_median_mm": _mm(self.walking_median_m),
                "offset_mm": _mm(self.offset_m), "walking_spread_mm": _mm(self.walking_spread_m)}


@dataclass(frozen=True)
class MarkerChange:
    """A marker the check blamed, and what was done to its IK weight.

    ``action`` is ``downweighted``, ``dropped`` or ``reported`` (weight unchanged).
    """

    marker: str
    body: str
    action: str
    weight_before: float
    weight_after: float
    reason: str

    def to_json(self) -> dict:
        return {"marker": self.marker, "body": self.body, "action": self.action,
                "weight_before": self.weight_before, "weight_after": self.weight_after, "reason": self.reason}


@dataclass(frozen=True)
class MarkerConsistency:
    """Outcome of :func:`check_marker_consistency`.

    Attributes
    ----------
    weights
        Marker name → IK weight after the check (a dropped marker at 0, which IK ignores).
    changes
        The blamed markers, in the order they were blamed.
    pairs
        Every pair checked.
    unattributed_pairs
        Inconsistent pairs no marker could be blamed for (e.g. the only two markers of a
        body, or both acromions of a torso whose sternum fits): both their markers are
        down-weighted (never dropped) unless ``action`` is ``report``.
    """

    action: str
    weights: dict[str, float]
    changes: tuple[MarkerChange, ...]
    pairs: tuple[PairCheck, ...]
    unattributed_pairs: tuple[PairCheck, ...]

    @property
    def inconsistent_pairs(self) -> tuple[PairCheck, ...]:
        return tuple(pair for pair in self.pairs if not pair.consistent)

    @property
    def changed_markers(self) -> list[str]:
        """The markers whose weight the check changed (none in ``report`` mode)."""
        return [change.marker for change in self.changes if change.weight_after != change.weight_before]

    def notes(self) -> list[str]:
        """One line per marker the check blamed, for the trial's notes."""
        return [f"marker consistency: {change.marker} {change.action} "
                f"(weight {change.weight_before:g} → {change.weight_after:g}): {change.reason}"
                for change in self.changes]

    def to_json(self) -> dict:
        """Plain mapping for ``summary.json`` (distances in mm)."""
        return {
            "action": self.action,
            "n_pairs_checked": len(self.pairs),
            "changed_markers": [change.to_json() for change in self.changes],
            "inconsistent_pairs": [pair.to_json() for pair in self.inconsistent_pairs],
            "unattributed_pairs": [list(pair.markers) for pair in self.unattributed_pairs],
        }


def check_marker_consistency(scaled_model: opensim.Model | str | Path, walking: MarkerTrajectories,
                             weights: Mapping[str, float], config: MarkerConsistencyConfig, *,
                             required: Collection[str] = (),
                             time_range_s: tuple[float, float] | None = None) -> MarkerConsistency:
    """Compare each body's inter-marker distances between the static and walking trials.

    Parameters
    ----------
    scaled_model
        The subject's scaled model with markers placed on the static trial (or its path).
    walking
        The walking trial's markers, ``positions_m`` ``(n_frames, n_markers, 3)`` in m.
    weights
        Marker name → IK weight; markers of weight 0 or absent from ``walking`` are not checked.
    config
        Tolerances and action.
    required
        Markers the trial must keep: never dropped (down-weighted instead).
    time_range_s
        Only the frames inside ``(start, end)`` (s) are compared; None uses all.

    Returns
    -------
    MarkerConsistency
        Adjusted weights (every marker of ``weights``), the blamed markers with reasons and
        figures, and every pair checked.

    Raises
    ------
    InputDataError
        If the model file cannot be read, no frame lies in ``time_range_s``, or the walking
        markers are uniformly far from the model's size (wrong units).
    ConfigError
        If a weighted marker is not a marker of the model.

    Notes
    -----
    A pair is inconsistent when its walking median distance is off the static distance by more
    than the distance tolerance, or varies across the trial by more than the spread tolerance.
    Blame goes, body by body, to the marker that is in more than half of its pairs inconsistent,
    the most inconsistent pairs first, then the largest excess over the tolerances; that marker is
    set aside and the body's remaining markers are checked again, while at least three remain.
    Two markers alone cannot tell which of them moved: both markers of such a pair are
    down-weighted, in ``drop`` mode too, as either may be the sound one.
    """
    model = _load_model(scaled_model)
    frames = _frames_in(walking, time_range_s)
    checked = [name for name, weight in weights.items() if weight > 0 and name in walking.marker_names]
    by_body = _markers_by_body(model, checked)
    pairs: list[PairCheck] = []
    blamed: list[tuple[str, str, list[PairCheck]]] = []
    unattributed: list[PairCheck] = []
    for body, locations in by_body.items():
        body_pairs = [_check_pair(body, first, second, locations, walking, frames, config)
                      for first, second in itertools.combinations(locations, 2)]
        pairs += body_pairs
        body_blamed, body_unattributed = _attribute(list(locations), body_pairs)
        blamed += [(marker, body, reasons) for marker, reasons in body_blamed]
        unattributed += body_unattributed
    _check_overall_size(pairs, walking)
    adjusted = dict(weights)
    changes = []
    for marker, body, bad_pairs in blamed:
        changes.append(_change(marker, body, bad_pairs, adjusted, by_body[body], required, config))
        adjusted[marker] = changes[-1].weight_after
    for pair in unattributed:
        for marker in pair.markers:
            if all(change.marker != marker for change in changes):
                changes.append(_change(marker, pair.body, [pair], adjusted, by_body[pair.body], required, config,
                                       ambiguous=True))
                adjusted[marker] = changes[-1].weight_after
    return MarkerConsistency(config.action, adjusted, tuple(changes), tuple(pairs), tuple(unattributed))


def _check_overall_size(pairs: list[PairCheck], walking: MarkerTrajectories) -> None:
    """Refuse a trial whose markers are all uniformly far from the model's size: units, not markers, are wrong.

    Single markers that slid on the skin move some pairs; a factor common to the median
    pair (a TRC header saying m for data in mm, or a static trial in other units than the walk)
    means no marker can be trusted, and setting them all aside would hide it.
    """
    ratios = [pair.walking_median_m / pair.static_distance_m for pair in pairs if pair.static_distance_m > 0]
    if not ratios:
        return
    ratio = float(np.median(ratios))
    if not _SIZE_RATIO_RANGE[0] <= ratio <= _SIZE_RATIO_RANGE[1]:
        raise InputDataError(walking.source_path,
                             f"the markers of each body are {ratio:.2f} times as far apart as on the subject's scaled "
                             f"model (median over {len(ratios)} marker pairs): check the units in the TRC header "
                             f"against the static trial's")


def _attribute(markers: list[str], pairs: list[PairCheck]) -> tuple[list[tuple[str, list[PairCheck]]], list[PairCheck]]:
    """Blame markers of one body for its inconsistent pairs (see :func:`check_marker_consistency`).

    Returns the blamed markers with their inconsistent pairs, and the inconsistent pairs left
    that involve no blamed marker.
    """
    remaining = list(markers)
    blamed: list[tuple[str, list[PairCheck]]] = []
    while len(remaining) >= 3:
        bad = [pair for pair in pairs if not pair.consistent and set(pair.markers) <= set(remaining)]
        # A marker is a suspect when more than half of its pairs with the remaining markers are bad.
        suspects = {}
        for marker in remaining:
            own = [pair for pair in bad if marker in pair.markers]
            if 2 * len(own) > len(remaining) - 1:
                suspects[marker] = own
        if not suspects:
            break
        worst = max(suspects, key=lambda m: (len(suspects[m]), sum(pair.excess_m for pair in suspects[m])))
        blamed.append((worst, suspects[worst]))
        remaining.remove(worst)
    left = [pair for pair in pairs if not pair.consistent and set(pair.markers) <= set(remaining)]
    return blamed, left


def _change(marker: str, body: str, bad_pairs: list[PairCheck], weights: dict[str, float], body_markers: Mapping,
            required: Collection[str], config: MarkerConsistencyConfig, ambiguous: bool = False) -> MarkerChange:
    if ambiguous:
        reason = (f"its pair with {bad_pairs[0].other(marker)} on {body} does not fit a rigid body and no other "
                  f"pair tells which of the two moved: {bad_pairs[0].describe()}")
    else:
        reason = (f"{len(bad_pairs)} of its {len(body_markers) - 1} pair(s) on {body} do not fit a rigid body: "
                  + "; ".join(pair.describe() for pair in bad_pairs))
    before = weights[marker]
    if config.action == "report":
        return MarkerChange(marker, body, "reported", before, before, reason)
    if config.action == "drop" and ambiguous:
        reason += "; kept (either marker may be the sound one), down-weighted instead"
    elif config.action == "drop":
        still_weighted = [name for name in body_markers if name != marker and weights.get(name, 0) > 0]
        if marker in required:
            reason += "; kept (a required marker), down-weighted instead"
        elif len(still_weighted) < config.min_markers_per_body:
            reason += f"; kept ({body} would keep {len(still_weighted)} weighted marker(s)), down-weighted instead"
        else:
            return MarkerChange(marker, body, "dropped", before, 0.0, reason)
    return MarkerChange(marker, body, "downweighted", before, before * config.downweight_factor, reason)


def _check_pair(body: str, first: str, second: str, locations: Mapping[str, np.ndarray], walking: MarkerTrajectories,
                frames: np.ndarray, config: MarkerConsistencyConfig) -> PairCheck:
    static_m = float(np.linalg.norm(locations[first] - locations[second]))
    positions = walking.positions_m[frames]  # (n_frames, n_markers, 3)
    distance_m = np.linalg.norm(positions[:, walking.marker_names.index(first)]
                                - positions[:, walking.marker_names.index(second)], axis=1)
    distance_m = distance_m[np.isfinite(distance_m)]
    if distance_m.size == 0:
        # No frame with both markers: nothing to compare; counted as consistent.
        median_m, spread_m = static_m, 0.0
    else:
        low, high = np.percentile(distance_m, config.spread_percentiles)
        median_m, spread_m = float(np.median(distance_m)), float(high - low)
    return PairCheck(body, (first, second), static_m, median_m, spread_m, config.distance_tolerance_for(static_m),
                     config.spread_tolerance_m)


def _markers_by_body(model: opensim.Model, names: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Body name → {marker: ``(3,)`` location in that body's frame (m)}, markers in ``names`` order.

    A marker fixed to an offset frame counts on the body that frame is attached to.
    """
    marker_set = model.getMarkerSet()
    by_body: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        if not marker_set.contains(name):
            raise ConfigError(f"{model.getName()}: marker {name!r} has an IK weight but is not a marker of the model")
        marker = marker_set.get(name)
        frame = marker.getParentFrame()
        location = frame.findTransformInBaseFrame().shiftFrameStationToBase(marker.get_location())
        by_body.setdefault(frame.findBaseFrame().getName(), {})[name] = np.array([location.get(i) for i in range(3)])
    return by_body


def _load_model(scaled_model: opensim.Model | str | Path) -> opensim.Model:
    return scaled_model if isinstance(scaled_model, opensim.Model) else read_model(scaled_model)


def _frames_in(walking: MarkerTrajectories, time_range_s: tuple[float, float] | None) -> np.ndarray:
    """Boolean ``(n_frames,)`` mask of the frames to compare."""
    if time_range_s is None:
        return np.ones(len(walking.times_s), dtype=bool)
    inside = within(walking.times_s, time_range_s)
    if not inside.any():
        raise InputDataError(walking.source_path, f"no frame in the time range {time_range_s[0]:g}-{time_range_s[1]:g} s")
    return inside


def _mm(value_m: float) -> float:
    return round(value_m * _MM_PER_M, 1)
