"""Read joint angles for ``gait2hip predict``: IK ``.mot``/``.sto`` or CSV, checked and resampled.

The surrogate expects the 10 input angles in degrees at the frame rate it was trained on.
This module finds them, names the missing ones, detects radians, and resamples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gait2hip.core.errors import InputDataError
from gait2hip.surrogate.inference import right_heel_strikes_from_times
from gait2hip.surrogate.segmentation import heel_strikes

# A hip flexion or knee excursion of walking spans tens of degrees: if every angle of the
# trial stays within ±π and the largest range is below this, the file is in radians.
RADIANS_MAX_RANGE = 3.2
_TIME_STEP_TOLERANCE = 1e-3
# No joint angle of walking comes near a full turn; beyond it the values are in another unit or broken.
PLAUSIBLE_ANGLE_LIMIT_DEG = 360.0
# Training standard deviations an angle may lie from the training mean before it counts as far
# outside the data the model has seen (walking angles span about ±3 SD of a cohort).
TRAINING_RANGE_MARGIN_SD = 10.0


def read_angles(path: Path, input_names: list[str], target_rate_hz: float) -> pd.DataFrame:
    """Return a DataFrame with ``time`` (s) and ``input_names`` (degrees) at ``target_rate_hz``.

    A ``stance_r`` column (right foot contact, 0/1), when the file has one, is kept.

    Raises
    ------
    InputDataError
        Unreadable file, no time column, angle columns missing (all named), non-finite values,
        or fewer than two frames.
    """
    path = Path(path)
    if path.is_dir():
        raise InputDataError(path, "is a folder, not an angle file (IK .mot/.sto or CSV)")
    if not path.is_file():
        raise InputDataError(path, "angle file not found")
    table, in_degrees = _read_table(path)
    if "time" not in table.columns:
        raise InputDataError(path, "no 'time' column")
    missing = [name for name in input_names if name not in table.columns]
    if missing:
        raise InputDataError(path, f"angle column(s) missing: {', '.join(missing)} (the model needs {', '.join(input_names)})")
    # A label table's right-foot contact column (if any) travels along: it gives the heel strikes.
    extra = ["stance_r"] if "stance_r" in table.columns else []
    angles = table[["time", *input_names, *extra]].astype(float)
    if len(angles) < 2:
        raise InputDataError(path, f"holds {len(angles)} frame(s); at least 2 are needed")
    if not np.isfinite(angles[["time", *input_names]].to_numpy()).all():
        raise InputDataError(path, "angle columns hold NaN or infinite values; fill gaps before predicting")
    if in_degrees is False or (in_degrees is None and looks_like_radians(angles[input_names].to_numpy())):
        angles[input_names] = np.degrees(angles[input_names].to_numpy())
        angles.attrs["converted_from_radians"] = True
    return resample(angles, target_rate_hz)


def implausible_angles(angles: pd.DataFrame, input_names: list[str], mean_deg: np.ndarray,
                       std_deg: np.ndarray) -> list[str]:
    """Input channels (with their extreme value) outside any plausible range for a walking trial.

    A channel is implausible when some value exceeds ``PLAUSIBLE_ANGLE_LIMIT_DEG`` in magnitude or
    lies more than ``TRAINING_RANGE_MARGIN_SD`` training standard deviations (``std_deg``, per
    channel) from the training mean (``mean_deg``): the surrogate's output there means nothing.
    """
    values = angles[input_names].to_numpy(float)
    far = np.abs(values - mean_deg) > TRAINING_RANGE_MARGIN_SD * std_deg
    flagged = (np.abs(values) > PLAUSIBLE_ANGLE_LIMIT_DEG) | far
    found = []
    for k in np.flatnonzero(flagged.any(axis=0)):
        extreme = values[np.argmax(np.abs(values[:, k] - mean_deg[k])), k]
        found.append(f"{input_names[k]} ({extreme:.4g} deg; training {mean_deg[k]:.3g} ± {std_deg[k]:.3g})")
    return found


def looks_like_radians(values: np.ndarray) -> bool:
    """True when all angles stay within ±π and no channel spans more than ``RADIANS_MAX_RANGE``."""
    return bool(np.all(np.abs(values) <= np.pi + 1e-6) and np.max(np.ptp(values, axis=0)) < RADIANS_MAX_RANGE)


def resample(table: pd.DataFrame, rate_hz: float) -> pd.DataFrame:
    """Linear resampling of every column onto ``t0 + k / rate_hz`` within the original span."""
    times = table["time"].to_numpy()
    steps = np.diff(times)
    if np.all(np.abs(steps - 1.0 / rate_hz) < _TIME_STEP_TOLERANCE / rate_hz):
        return table.reset_index(drop=True)
    new_times = times[0] + np.arange(int(np.floor((times[-1] - times[0]) * rate_hz + 1e-9)) + 1) / rate_hz
    columns = {"time": new_times}
    for name in table.columns[1:]:
        columns[name] = np.interp(new_times, times, table[name].to_numpy())
    result = pd.DataFrame(columns)
    result.attrs = {**table.attrs, "resampled_from_hz": float(1.0 / np.median(steps))}
    return result


def _read_table(path: Path) -> tuple[pd.DataFrame, bool | None]:
    """The table and what its header says about degrees (None when it says nothing)."""
    if path.suffix.lower() == ".csv":
        try:
            return pd.read_csv(path), None
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
            raise InputDataError(path, f"not a readable CSV file ({error})") from error
    if path.suffix.lower() in (".mot", ".sto"):
        from gait2hip.core.opensim_files import read_opensim_table, table_in_degrees  # OpenSim only for OpenSim files

        table = read_opensim_table(path)
        return table, table_in_degrees(path)
    raise InputDataError(path, "expected an OpenSim .mot/.sto (IK output) or a .csv of the angles")


def right_heel_strike_frames(angles: pd.DataFrame, angles_path: Path, grf_path: Path | None,
                             heel_strike_times: str | None, contact_threshold_n: float = 20.0) -> np.ndarray:
    """Right heel-strike frames of ``angles``: from a GRF file, explicit times, or a ``stance_r`` column.

    Raises
    ------
    InputDataError
        None of the three sources is available, or the times cannot be read.
    """
    times = angles["time"].to_numpy()
    if heel_strike_times is not None:
        try:
            strike_times = [float(t) for t in heel_strike_times.split(",") if t.strip()]
        except ValueError as error:
            raise InputDataError(angles_path, f"--heel-strikes must be comma-separated seconds ({error})") from error
    elif grf_path is not None:
        from gait2hip.pipeline.config import GRFConfig  # OpenSim only when a GRF file is given
        from gait2hip.pipeline.ground_reactions import read_grf

        reactions = read_grf(grf_path, GRFConfig(), (times[0], times[-1]))
        return heel_strikes(reactions.stance("r", times, contact_threshold_n))
    elif "stance_r" in angles.columns:
        return heel_strikes(angles["stance_r"].to_numpy() > 0.5)
    else:
        raise InputDataError(angles_path, "the model predicts gait cycle by cycle: give the trial's GRF (--grf FILE.mot) "
                                          "or the right heel strikes (--heel-strikes T1,T2,...)")
    return right_heel_strikes_from_times(times, strike_times)
