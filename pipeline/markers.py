"""Read, check and clean marker trajectories (TRC) with OpenSim's own adapters.

The cleaned copy each stage reads is written in metres into the trial's folder, so the
tools never depend on the lab's unit choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from gait2hip.core import opensim_files
from gait2hip.core.errors import InputDataError

_UNIT_TO_M = {"mm": 1e-3, "millimeters": 1e-3, "cm": 1e-2, "centimeters": 1e-2, "m": 1.0, "meters": 1.0}


@dataclass(frozen=True)
class MarkerTrajectories:
    """Marker positions of one trial.

    Attributes
    ----------
    times_s
        ``(n_frames,)`` frame times in s.
    positions_m
        ``(n_frames, n_markers, 3)`` positions in m, lab frame as in the file (OpenSim: Y up).
    marker_names
        ``n_markers`` names in column order.
    rate_hz
        Frame rate from the TRC header.
    filled_gaps
        Human-readable notes of the gaps that were filled.
    """

    times_s: np.ndarray
    positions_m: np.ndarray
    marker_names: tuple[str, ...]
    rate_hz: float
    source_path: Path
    filled_gaps: tuple[str, ...] = ()


def read_trc(path: str | Path) -> MarkerTrajectories:
    """Read a TRC file (OpenSim's ``TRCFileAdapter``); convert to metres from its header.

    Raises
    ------
    InputDataError
        If the file is missing or unreadable, has no frames, has unknown ``Units``, or its
        time column is not finite, increasing and on the ``DataRate`` grid.

    A non-finite coordinate (NaN, or an infinite value a damaged export holds) makes that
    marker missing in that frame: a gap, filled or refused by :func:`check_and_fill`.
    """
    path = Path(path)
    content = opensim_files.read_trc(path)
    n_frames = len(content.times_s)
    if n_frames < 2:
        raise InputDataError(path, f"holds {n_frames} frame(s); at least 2 are needed")
    units = content.metadata.get("Units", "").strip()
    if units.lower() not in _UNIT_TO_M:
        raise InputDataError(path, f"unknown marker units {units!r} in the TRC header (expected mm, cm or m)")
    try:
        rate_hz = float(content.metadata["DataRate"])
    except (KeyError, ValueError) as error:
        raise InputDataError(path, "the TRC header has no valid DataRate") from error
    if not rate_hz > 0:
        raise InputDataError(path, f"the TRC header's DataRate is {rate_hz}; it must be positive")
    positions_m = content.positions * _UNIT_TO_M[units.lower()]
    positions_m[~np.isfinite(positions_m).all(axis=2)] = np.nan
    return MarkerTrajectories(
        times_s=_uniform_frame_times(content.times_s, rate_hz, path),
        positions_m=positions_m,
        marker_names=content.marker_names,
        rate_hz=rate_hz,
        source_path=path,
    )


def check_and_fill(markers: MarkerTrajectories, required: list[str], max_gap_fill_s: float,
                   optional: list[str] | tuple[str, ...] = ()) -> MarkerTrajectories:
    """Check the ``required`` markers, keep the usable ``optional`` ones, fill short gaps.

    Gaps (runs of NaN or infinite values) inside the trial no longer than ``max_gap_fill_s`` are filled by a cubic
    spline through the valid frames. In a required marker, a longer gap or a gap touching the
    first or last frame is an error naming the marker and the time range; an optional marker
    that is absent or has such a gap is left out, and a note says so.

    Returns
    -------
    MarkerTrajectories
        The required markers then the kept optional ones, gap-free; ``filled_gaps`` lists
        every fill and every optional marker left out.
    """
    missing = [name for name in required if name not in markers.marker_names]
    if missing:
        raise InputDataError(markers.source_path, f"model marker(s) absent from the TRC: {', '.join(missing)}")
    notes = [f"{name}: absent, not used" for name in optional
             if name not in required and name not in markers.marker_names]
    wanted = list(required) + [n for n in optional if n not in required and n in markers.marker_names]
    times = markers.times_s
    kept_names, kept_positions = [], []
    for name in wanted:
        trajectory = markers.positions_m[:, markers.marker_names.index(name), :].copy()
        try:
            kept_positions.append(_fill_gaps(trajectory, name, times, markers.rate_hz, max_gap_fill_s,
                                             markers.source_path, notes))
            kept_names.append(name)
        except InputDataError as error:
            if name in required:
                raise
            notes.append(f"{name}: not used ({error.problem})")
    positions = np.stack(kept_positions, axis=1)
    return MarkerTrajectories(times, positions, tuple(kept_names), markers.rate_hz, markers.source_path, tuple(notes))


def _fill_gaps(trajectory: np.ndarray, name: str, times: np.ndarray, rate_hz: float, max_gap_fill_s: float,
               source: Path, notes: list[str]) -> np.ndarray:
    """Fill the short NaN runs of one ``(n_frames, 3)`` trajectory in place; raise for long ones."""
    missing_frames = ~np.isfinite(trajectory).all(axis=1)
    if not missing_frames.any():
        return trajectory
    for start, stop in _runs(missing_frames):
        gap_s = (stop - start) / rate_hz
        span = f"{times[start]:.3f}-{times[stop - 1]:.3f} s"
        if start == 0 or stop == len(times):
            raise InputDataError(source, f"marker {name} is missing at the trial's edge ({span}); trim the trial")
        if gap_s > max_gap_fill_s:
            raise InputDataError(
                source, f"marker {name} has a {gap_s:.3f} s gap ({span}), longer than the {max_gap_fill_s} s that may be filled")
        notes.append(f"{name}: filled {stop - start} frame(s) at {span}")
    valid = ~missing_frames
    trajectory[missing_frames] = CubicSpline(times[valid], trajectory[valid], axis=0)(times[missing_frames])
    return trajectory


def write_trc_m(markers: MarkerTrajectories, path: Path) -> Path:
    """Write ``markers`` as a TRC in metres (OpenSim's ``TRCFileAdapter``), atomically."""
    return opensim_files.write_trc(path, markers.marker_names, markers.positions_m, markers.times_s, markers.rate_hz,
                                   units="m")


def _uniform_frame_times(times_s: np.ndarray, rate_hz: float, path: Path) -> np.ndarray:
    """Frame times on the exact grid ``t0 + i / rate``.

    Lab exports often round the time column (60 Hz written as 0.017, 0.033, ...); OpenSim's
    filters then resample the data onto a grid that no longer holds the frames. Times that
    lie within a quarter frame of the grid are replaced by it; others, and times that are
    not finite or do not increase, are an error naming the first bad frame.
    """
    opensim_files.check_time_column(path, times_s, step_s=1.0 / rate_hz, grid_tolerance_steps=0.25)
    return times_s[0] + np.arange(len(times_s)) / rate_hz


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return ``(start, stop)`` index pairs of the True runs of a 1-D boolean mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))
