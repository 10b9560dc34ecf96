"""How far a label dataset's gait lies from another's: per channel and gait phase, band, mean curve and overlap.

The question it answers is whether a virtual cohort walks like the measured one: for each of the
10 input angles (degrees), 6 hip moments (Nm/kg) and the summed hip muscle force of each leg
(N/kg), every gait cycle of each dataset is time-normalised to 101 points (0 % and 100 % at
two successive heel strikes of that channel's own leg, from the label table's ``stance_r`` /
``stance_l``), and the two sets of curves are compared point by point:

- ``inside_band``: the fraction of the reference (measured) curve points that lie inside the
  candidate (virtual) cohort's 5th–95th percentile band at the same phase point;
- ``mean_rmse``: the RMS over phase of the difference between the two mean curves (the
  reference mean is the mean of its subjects' mean curves, so a subject with many cycles does
  not weigh more);
- ``between_subject_sd``: the RMS over phase of the SD of the reference subjects' mean curves,
  and ``mean_difference_in_sd = mean_rmse / between_subject_sd`` (below 1: the mean curves
  differ by less than one between-subject SD of the reference);
- ``range_overlap``: the overlap of the two datasets' 5–95 % value ranges over the whole cycle,
  as intersection over union.

Moments and forces of a leg count only on the frames where that leg's labels are known
(``valid_r`` / ``valid_l``); angles come from IK and count on every frame of a cycle. A cycle
shorter than ``MIN_CYCLE_S`` or longer than ``MAX_CYCLE_S`` is not a stride (a contact the
detector split, or a stop) and is left out, counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gait2hip.core.errors import InputDataError
from gait2hip.surrogate.segmentation import CYCLE_POINTS, heel_strikes

SIDES = ("r", "l")
ANGLE_STEMS = ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle")
MOMENT_STEMS = ("hip_flexion", "hip_adduction", "hip_rotation")
SUMMED_FORCE = "hip_muscle_force_sum"
MIN_CYCLE_S = 0.6
MAX_CYCLE_S = 2.0
BAND_PERCENTILES = (5.0, 95.0)


@dataclass(frozen=True)
class ChannelCurves:
    """The gait cycles of one channel in one dataset.

    Attributes
    ----------
    values
        ``(n_cycles, 101)`` in the channel's unit; NaN where the leg's labels are not known.
    subject
        ``(n_cycles,)`` the subject of each cycle.
    """

    values: np.ndarray
    subject: np.ndarray

    def subject_means(self) -> np.ndarray:
        """``(n_subjects, 101)``: each subject's mean curve (NaN where no cycle of it is known)."""
        with _quiet_nanmean():
            return np.array([np.nanmean(self.values[self.subject == subject], axis=0)
                             for subject in np.unique(self.subject)]).reshape(-1, self.values.shape[1])


@dataclass(frozen=True)
class ChannelComparison:
    """One channel of the candidate cohort against the reference (see the module docstring)."""

    channel: str
    unit: str
    inside_band: float
    mean_rmse: float
    between_subject_sd: float
    candidate_between_subject_sd: float
    mean_difference_in_sd: float
    range_overlap: float
    candidate_range: tuple[float, float]
    reference_range: tuple[float, float]
    candidate_cycles: int
    reference_cycles: int
    reference_subjects: int

    def to_json(self) -> dict:
        return {name: (list(value) if isinstance(value, tuple) else value)
                for name, value in self.__dict__.items()}


@dataclass(frozen=True)
class CycleSet:
    """Every channel's cycles of one dataset, and how many candidate cycles were left out and why."""

    channels: dict[str, ChannelCurves]
    units: dict[str, str]
    dropped_cycles: dict[str, int] = field(default_factory=dict)


def channel_names() -> list[str]:
    """The compared channels, in table order: 10 angles, 6 hip moments, 2 summed hip muscle forces."""
    angles = [f"{stem}_{side}" for side in SIDES for stem in ANGLE_STEMS]
    moments = [f"{stem}_{side}_moment" for side in SIDES for stem in MOMENT_STEMS]
    return angles + moments + [f"{SUMMED_FORCE}_{side}" for side in SIDES]


def channel_side(channel: str) -> str:
    """The leg whose cycle a channel is cut on (``r`` or ``l``)."""
    for side in SIDES:
        if channel.endswith(f"_{side}") or f"_{side}_" in channel:
            return side
    raise ValueError(f"channel {channel!r} names no leg")


def gait_cycles(table: pd.DataFrame, *, where: str) -> CycleSet:
    """Cut every trial of a label dataset into gait cycles per leg, time-normalised to 101 points.

    Parameters
    ----------
    table
        A label dataset (``gait2hip.surrogate.dataset.load_dataset``): ``subject``, ``trial``,
        ``time`` (s), the angle and moment columns, ``<muscle>_force`` columns, ``stance_r`` and
        ``stance_l`` (and ``valid_r`` / ``valid_l`` where some labels are unknown).
    where
        Names the dataset in errors.

    Raises
    ------
    InputDataError
        A column the comparison needs is missing (named).
    """
    needed = ["subject", "trial", "time", "stance_r", "stance_l", *[c for c in channel_names() if SUMMED_FORCE not in c]]
    missing = [column for column in needed if column not in table]
    if missing:
        raise InputDataError(where, f"label dataset lacks the column(s) {missing}; "
                             "relabel with the current pipeline (stance and validity columns)")
    forces = {side: [c for c in table.columns if c.endswith(f"_{side}_force")] for side in SIDES}
    for side in SIDES:
        if not forces[side]:
            raise InputDataError(where, f"label dataset has no '<muscle>_{side}_force' column")
    curves: dict[str, list[np.ndarray]] = {name: [] for name in channel_names()}
    subjects: dict[str, list[str]] = {name: [] for name in channel_names()}
    dropped = {"shorter_than_min": 0, "longer_than_max": 0}
    for (subject, _trial), rows in table.groupby(["subject", "trial"], sort=True, observed=True):
        rows = rows.sort_values("time")
        time_s = rows["time"].to_numpy(dtype=float)
        for side in SIDES:
            strikes = heel_strikes(rows[f"stance_{side}"].to_numpy(dtype=bool))
            valid = (rows[f"valid_{side}"].to_numpy(dtype=bool) if f"valid_{side}" in rows
                     else np.ones(len(rows), dtype=bool))
            side_channels = [name for name in channel_names() if channel_side(name) == side]
            summed = rows[forces[side]].to_numpy(dtype=float).sum(axis=1)
            for start, stop in zip(strikes[:-1], strikes[1:]):
                duration_s = time_s[stop] - time_s[start]
                if duration_s < MIN_CYCLE_S or duration_s > MAX_CYCLE_S:
                    dropped["shorter_than_min" if duration_s < MIN_CYCLE_S else "longer_than_max"] += 1
                    continue
                frames = slice(start, stop + 1)
                cycle_time = time_s[frames]
                phase = np.linspace(cycle_time[0], cycle_time[-1], CYCLE_POINTS)
                # A phase point is known when both frames around it are.
                index = np.clip(np.searchsorted(cycle_time, phase, side="right") - 1, 0, len(cycle_time) - 2)
                known = valid[frames][index] & valid[frames][index + 1]
                for name in side_channels:
                    values = summed[frames] if name.startswith(SUMMED_FORCE) else rows[name].to_numpy(dtype=float)[frames]
                    curve = np.interp(phase, cycle_time, values)
                    if not _is_angle(name):
                        curve = np.where(known, curve, np.nan)
                    curves[name].append(curve)
                    subjects[name].append(str(subject))
    channels = {name: ChannelCurves(np.array(curves[name]).reshape(-1, CYCLE_POINTS), np.array(subjects[name], dtype=str))
                for name in channel_names()}
    return CycleSet(channels, {name: channel_unit(name) for name in channel_names()}, dropped)


def channel_unit(channel: str) -> str:
    if _is_angle(channel):
        return "deg"
    return "Nm/kg" if channel.endswith("_moment") else "N/kg"


def compare(candidate: CycleSet, reference: CycleSet) -> list[ChannelComparison]:
    """Every channel of ``candidate`` (e.g. the virtual cohort) against ``reference`` (measured)."""
    return [_compare_channel(name, candidate.channels[name], reference.channels[name], channel_unit(name))
            for name in channel_names()]


def _compare_channel(name: str, candidate: ChannelCurves, reference: ChannelCurves, unit: str) -> ChannelComparison:
    with _quiet_nanmean():
        low, high = np.nanpercentile(candidate.values, BAND_PERCENTILES, axis=0) if len(candidate.values) else \
            (np.full(CYCLE_POINTS, np.nan),) * 2
        known = np.isfinite(reference.values)
        inside = (reference.values >= low) & (reference.values <= high)
        inside_band = float(np.count_nonzero(inside & known) / max(np.count_nonzero(known), 1)) if known.any() else float("nan")
        subject_means = reference.subject_means()
        reference_mean = np.nanmean(subject_means, axis=0)
        candidate_mean = np.nanmean(candidate.values, axis=0)
        difference = candidate_mean - reference_mean
        mean_rmse = float(np.sqrt(np.nanmean(difference ** 2)))
        between_subject_sd = _between_subject_sd(subject_means)
        between_subject_sd_candidate = _between_subject_sd(candidate.subject_means())
    candidate_range = _range(candidate.values)
    reference_range = _range(reference.values)
    return ChannelComparison(
        channel=name, unit=unit, inside_band=inside_band, mean_rmse=mean_rmse,
        between_subject_sd=between_subject_sd, candidate_between_subject_sd=between_subject_sd_candidate,
        mean_difference_in_sd=mean_rmse / between_subject_sd if between_subject_sd > 0 else float("nan"),
        range_overlap=_overlap(candidate_range, reference_range),
        candidate_range=candidate_range, reference_range=reference_range,
        candidate_cycles=int(np.count_nonzero(np.isfinite(candidate.values).any(axis=1))),
        reference_cycles=int(np.count_nonzero(np.isfinite(reference.values).any(axis=1))),
        reference_subjects=int(len(np.unique(reference.subject[np.isfinite(reference.values).any(axis=1)]))))


def _between_subject_sd(subject_means: np.ndarray) -> float:
    """RMS over phase of the SD across subjects' mean curves (NaN with fewer than two subjects)."""
    if len(subject_means) < 2:
        return float("nan")
    with _quiet_nanmean():
        return float(np.sqrt(np.nanmean(np.nanstd(subject_means, axis=0, ddof=1) ** 2)))


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return (float("nan"), float("nan"))
    low, high = np.percentile(finite, BAND_PERCENTILES)
    return (float(low), float(high))


def _overlap(first: tuple[float, float], second: tuple[float, float]) -> float:
    """Intersection over union of two intervals (0 when they do not meet)."""
    if not all(np.isfinite([*first, *second])):
        return float("nan")
    intersection = max(0.0, min(first[1], second[1]) - max(first[0], second[0]))
    union = max(first[1], second[1]) - min(first[0], second[0])
    return intersection / union if union > 0 else float("nan")


def _is_angle(channel: str) -> bool:
    return not (channel.endswith("_moment") or channel.startswith(SUMMED_FORCE))


@contextmanager
def _quiet_nanmean() -> Iterator[None]:
    """Silence numpy's warnings on all-NaN slices (an unknown phase point is NaN, which is the answer)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def comparison_markdown(rows: list[ChannelComparison], *, band_target: float = 0.8) -> str:
    """The printed table: one row per channel, with whether it meets the band and mean-curve targets."""
    lines = ["| channel | unit | real points inside virtual 5–95 % band | mean-curve RMSE | between-subject SD real "
             "| RMSE / SD | between-subject SD virtual | 5–95 % range virtual | 5–95 % range real | range overlap (IoU) | cycles virtual / real (subjects) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        band_mark = "" if not np.isfinite(row.inside_band) else (" ✓" if row.inside_band >= band_target else " ✗")
        sd_mark = "" if not np.isfinite(row.mean_difference_in_sd) else (" ✓" if row.mean_difference_in_sd < 1 else " ✗")
        lines.append(
            f"| `{row.channel}` | {row.unit} | {row.inside_band:.0%}{band_mark} | {row.mean_rmse:.2f} | "
            f"{row.between_subject_sd:.2f} | {row.mean_difference_in_sd:.2f}{sd_mark} | "
            f"{row.candidate_between_subject_sd:.2f} | "
            f"{row.candidate_range[0]:+.2f} … {row.candidate_range[1]:+.2f} | "
            f"{row.reference_range[0]:+.2f} … {row.reference_range[1]:+.2f} | {row.range_overlap:.2f} | "
            f"{row.candidate_cycles} / {row.reference_cycles} ({row.reference_subjects}) |")
    return "\n".join(lines)


def plot_comparison(candidate: CycleSet, reference: CycleSet, path, *, candidate_label: str, reference_label: str) -> None:
    """One panel per channel: the candidate's 5–95 % band and mean, the reference's mean ± between-subject SD."""
    from matplotlib.figure import Figure

    names = channel_names()
    columns = 6
    rows = int(np.ceil(len(names) / columns))
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows), constrained_layout=True)
    phase = np.linspace(0, 100, CYCLE_POINTS)
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        with _quiet_nanmean():
            cand = candidate.channels[name].values
            if len(cand):
                low, high = np.nanpercentile(cand, BAND_PERCENTILES, axis=0)
                axes.fill_between(phase, low, high, color="tab:blue", alpha=0.25, label=f"{candidate_label} 5–95 %")
                axes.plot(phase, np.nanmean(cand, axis=0), color="tab:blue", label=f"{candidate_label} mean")
            means = reference.channels[name].subject_means()
            if len(means):
                mean = np.nanmean(means, axis=0)
                sd = np.nanstd(means, axis=0, ddof=1) if len(means) > 1 else np.zeros(CYCLE_POINTS)
                axes.plot(phase, mean, color="tab:red", label=f"{reference_label} mean")
                axes.fill_between(phase, mean - sd, mean + sd, color="tab:red", alpha=0.15, label=f"{reference_label} ±1 SD")
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("gait cycle (%)", fontsize=8)
        axes.set_ylabel(channel_unit(name), fontsize=8)
        axes.tick_params(labelsize=7)
        if index == 0:
            axes.legend(fontsize=6)
    figure.savefig(path, dpi=80)
