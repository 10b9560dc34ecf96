"""A batched SO result checked against OpenSim's own StaticOptimization on a few of its frames.

The batched solver reproduces OpenSim's problem; this check keeps it honest on every trial it
labels. OpenSim's tool re-solves a short window of consecutive frames from the middle of the
trial, run to a tight convergence tolerance: at its default (1e-4) the tool stops early, and its
distance from the converged answer would be measured instead of the batched solver's.

The tool filters and splines every frame of the coordinates file it is given, whatever window it
solves, which made the check cost more than the batched solve on a long trial (33 s and 850 MB
for 3 frames of a 60 s walk). It is given the trial's coordinates cut to the window plus
``WINDOW_MARGIN_S`` on each side: far enough for the low-pass filter's start-up to have died
away, so the window's kinematics are the full file's to well under the check's tolerance.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gait2hip.core.errors import OpenSimToolError
from gait2hip.core.opensim_files import read_opensim_table, table_in_degrees, write_mot
from gait2hip.pipeline.config import StaticOptimizationConfig
from gait2hip.pipeline.static_optimization import SOResult, run_static_optimization

if TYPE_CHECKING:
    import pandas as pd

# OpenSim's tool converges to this in the reference window (its default is 1e-4).
REFERENCE_CONVERGENCE = 1e-8
# Frames times must match to this (s): both solvers step over the coordinates file's frames.
_TIME_MATCH_S = 1e-6
# Coordinates kept on each side of the checked window (s): several time constants of a 6 Hz filter.
WINDOW_MARGIN_S = 0.5
# Windows tried, from the middle of the trial onwards, before the check gives up.
WINDOW_ATTEMPTS = 3


@dataclass(frozen=True)
class SOCrossCheck:
    """How far the batched muscle forces are from OpenSim's tool on the checked frames.

    Attributes
    ----------
    frame_times_s
        The frames OpenSim re-solved (s).
    worst_pct_of_peak
        Largest ``|batched − OpenSim|`` over those frames and all muscles, in % of that
        muscle's peak batched force over the trial.
    worst_muscle
        The muscle it belongs to.
    muscle_pct_of_peak
        The same figure per muscle.
    wall_time_s
        Time OpenSim's tool took for the window (s).
    """

    frame_times_s: tuple[float, ...]
    worst_pct_of_peak: float
    worst_muscle: str
    muscle_pct_of_peak: dict[str, float]
    wall_time_s: float

    def to_json(self) -> dict:
        """The check as the trial's ``summary.json`` records it."""
        return dataclasses.asdict(self) | {"frame_times_s": list(self.frame_times_s),
                                           "reference_convergence_criterion": REFERENCE_CONVERGENCE}


def cross_check_with_opensim(batched: SOResult, *, muscle_names: list[str], n_frames: int,
                             settings: StaticOptimizationConfig, out_dir: Path, **stage_inputs) -> SOCrossCheck:
    """Re-solve ``n_frames`` consecutive frames from the middle of the trial with OpenSim's tool.

    ``stage_inputs`` are the SO stage's own inputs (model, coordinates, external loads, actuators,
    trial id, log folder); ``time_range_s`` is replaced by the window and the coordinates by the
    window's (``coordinates_window.mot``). OpenSim's outputs go to ``out_dir`` (``so/cross_check``
    beside the batched outputs).

    When the tool fails on the middle window (its muscle equilibrium at the first frame), the
    windows ``n_frames`` later are tried in turn, up to ``WINDOW_ATTEMPTS`` in all.

    Raises
    ------
    OpenSimToolError
        If OpenSim's tool fails on every window tried.
    """
    start = time.perf_counter()
    batched_forces = read_opensim_table(batched.forces_path)
    times_s = batched_forces["time"].to_numpy()
    n_frames = min(n_frames, len(times_s))
    out_dir.mkdir(parents=True, exist_ok=True)
    tight = dataclasses.replace(settings, convergence_criterion=REFERENCE_CONVERGENCE)
    trial_coordinates = read_opensim_table(stage_inputs["coordinates_path"])
    in_degrees = table_in_degrees(stage_inputs["coordinates_path"])
    failures = []
    for first in _window_starts(len(times_s), n_frames):
        window_s = (float(times_s[first]), float(times_s[first + n_frames - 1]))
        coordinates = _window_of(trial_coordinates, in_degrees, window_s, out_dir / "coordinates_window.mot")
        try:
            reference = run_static_optimization(settings=tight, out_dir=out_dir, **{
                **stage_inputs, "coordinates_path": coordinates, "time_range_s": window_s, "later_start_times_s": ()})
            break
        except OpenSimToolError as error:
            # The tool equilibrates the muscles at its first frame, which can fail at one pose
            # (as at a trial's start) though the frames solve: the check moves on to a later window.
            failures.append(f"{window_s[0]:g}-{window_s[1]:g} s: {error.detail.splitlines()[0]}")
            last_log = error.log_path
    else:
        raise OpenSimToolError(stage_inputs.get("trial_id", ""), "so_cross_check",
                               f"OpenSim's tool failed on every window tried ({'; '.join(failures)})", last_log)
    reference_forces = read_opensim_table(reference.forces_path)
    # OpenSim's output may end a frame early; compare the frames both solved.
    gaps = np.abs(reference_forces["time"].to_numpy()[:, None] - times_s[None, :])
    reference_rows = np.flatnonzero(gaps.min(axis=1) <= _TIME_MATCH_S)
    rows = gaps[reference_rows].argmin(axis=1)
    muscles = [name for name in muscle_names if name in reference_forces.columns]
    peak = np.abs(batched_forces[muscles].to_numpy()).max(axis=0)
    difference = np.abs(batched_forces[muscles].to_numpy()[rows] - reference_forces[muscles].to_numpy()[reference_rows])
    pct = 100.0 * difference.max(axis=0) / np.maximum(peak, np.finfo(float).tiny)
    worst = int(np.argmax(pct))
    return SOCrossCheck(tuple(float(t) for t in times_s[rows]), float(pct[worst]), muscles[worst],
                        {name: float(value) for name, value in zip(muscles, pct)}, time.perf_counter() - start)


def _window_starts(n_solved: int, n_frames: int) -> list[int]:
    """First frames of the windows to try: the middle one, then each ``n_frames`` later, within the trial."""
    middle = (n_solved - n_frames) // 2
    return [first for first in range(middle, middle + WINDOW_ATTEMPTS * n_frames, n_frames)
            if first + n_frames <= n_solved] or [0]


def _window_of(coordinates: "pd.DataFrame", in_degrees: bool, window_s: tuple[float, float], out_path: Path) -> Path:
    """The ``coordinates`` (a ``time`` column first) of ``window_s`` widened by ``WINDOW_MARGIN_S`` each side, as a file."""
    times_s = coordinates["time"].to_numpy()
    keep = (times_s >= window_s[0] - WINDOW_MARGIN_S - _TIME_MATCH_S) & (times_s <= window_s[1] + WINDOW_MARGIN_S
                                                                         + _TIME_MATCH_S)
    columns = {name: coordinates[name].to_numpy()[keep] for name in coordinates.columns[1:]}
    return write_mot(out_path, columns, times_s[keep], in_degrees=in_degrees)
