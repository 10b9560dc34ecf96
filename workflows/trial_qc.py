"""The QC of a labelled measured cohort, one row per trial, read from each trial's ``summary.json``.

Every figure comes from ``LABELS/<subject>/trials/<trial>/summary.json`` (written by the
pipeline) and, for a trial that stopped before writing one, from ``LABELS/manifest.parquet``.
The pipeline's summary grows as it does; every key is read defensively and an absent one is
shown as ``–``, so a table built from an older labels folder still renders.

A leg has a *whole valid cycle* when one of its gait cycles (heel strike to the next heel
strike of the same foot, from the cohort's ``trial.yaml``) lies inside one of its valid
windows: the frames where its hip moments and forces are known (its foot in swing or on a
plate). The *valid share* of a leg is the largest fraction of one of its cycles' duration
inside its valid windows: on an overground walk with one plate per foot, a cycle from the heel
strike on the plate ends at a heel strike on the floor, and the filters' reach of that
unmeasured load takes the last 0.1 s or so of the cycle.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

MISSING = "–"
SIDES = ("r", "l")
# A cycle end may lie this far (s) outside a valid window and still count as inside it: the
# windows are frame times, the cycle ends plate-sample times between two frames (half a frame
# at 100 Hz). A cycle whose closing heel-strike frame is invalid is not whole: the surrogate's
# 101-point cycles include that frame.
CYCLE_WINDOW_TOLERANCE_S = 0.005


@dataclass(frozen=True)
class TrialQC:
    """One trial's QC, as the report and the benchmark show it (None: not in its summary).

    Attributes
    ----------
    valid_frames
        Per side, frames whose labels are known.
    whole_valid_cycle
        Per side, whether a whole gait cycle of that leg is valid (None: cycles or windows unknown).
    ik_marker_rms_m, ik_marker_max_m
        IK marker error over the full-weight markers (m).
    peak_residual_pct_bw
        Peak pelvis residual force over the residual frames (% body weight).
    residual_frames
        Frames where every loaded foot is on a plate (the residual is judged over these).
    cycle_valid_share
        Per side, the largest fraction (0-1) of one gait cycle's duration inside the valid windows.
    rra_residual_pct_bw, rra_hip_angle_change_deg
        With the pipeline's RRA check: the residual RRA leaves (% BW) and its RMS change to the
        worst hip angle (deg).
    """

    subject: str
    trial: str
    status: str
    n_frames: int | None = None
    valid_frames: dict[str, int | None] = field(default_factory=dict)
    whole_valid_cycle: dict[str, bool | None] = field(default_factory=dict)
    cycle_valid_share: dict[str, float | None] = field(default_factory=dict)
    ik_marker_rms_m: float | None = None
    ik_marker_max_m: float | None = None
    peak_residual_pct_bw: float | None = None
    residual_frames: int | None = None
    rra_residual_pct_bw: float | None = None
    rra_hip_angle_change_deg: float | None = None
    reasons: tuple[str, ...] = ()
    summary_path: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.trial}"

    def to_json(self) -> dict:
        return {"subject": self.subject, "trial": self.trial, "status": self.status, "n_frames": self.n_frames,
                "valid_frames": self.valid_frames, "whole_valid_cycle": self.whole_valid_cycle,
                "ik_marker_rms_m": self.ik_marker_rms_m, "ik_marker_max_m": self.ik_marker_max_m,
                "peak_residual_pct_bw": self.peak_residual_pct_bw, "residual_frames": self.residual_frames,
                "cycle_valid_share": self.cycle_valid_share, "rra_residual_pct_bw": self.rra_residual_pct_bw,
                "rra_hip_angle_change_deg": self.rra_hip_angle_change_deg, "reasons": list(self.reasons)}


def trial_qc_from_json(entry: dict) -> TrialQC:
    """A row back from :meth:`TrialQC.to_json` (as a run's ``summary.json`` records it); absent keys: None."""
    return TrialQC(entry.get("subject", ""), entry.get("trial", ""), entry.get("status", ""),
                   n_frames=entry.get("n_frames"), valid_frames=entry.get("valid_frames") or {},
                   whole_valid_cycle=entry.get("whole_valid_cycle") or {},
                   cycle_valid_share=entry.get("cycle_valid_share") or {},
                   ik_marker_rms_m=entry.get("ik_marker_rms_m"), ik_marker_max_m=entry.get("ik_marker_max_m"),
                   peak_residual_pct_bw=entry.get("peak_residual_pct_bw"), residual_frames=entry.get("residual_frames"),
                   rra_residual_pct_bw=entry.get("rra_residual_pct_bw"),
                   rra_hip_angle_change_deg=entry.get("rra_hip_angle_change_deg"),
                   reasons=tuple(entry.get("reasons") or ()))


def read_trial_qc(labels_dir: Path) -> list[TrialQC]:
    """Every trial of ``labels_dir``: its summary when it has one, else its manifest row; sorted by subject, trial."""
    labels_dir = Path(labels_dir)
    rows = {}
    for path in sorted(labels_dir.glob("*/trials/*/summary.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            logger.warning("%s: unreadable trial summary (%s); left out of the QC table", path, error)
            continue
        row = trial_qc_from_summary(summary, path)
        rows[row.key] = row
    for entry in _manifest_rows(labels_dir):
        key = f"{entry.get('subject')}/{entry.get('trial')}"
        if key not in rows:
            error = str(entry.get("error") or "")
            rows[key] = TrialQC(str(entry.get("subject")), str(entry.get("trial")), str(entry.get("status") or MISSING),
                                reasons=(" ".join(error.split()),) if error else ())
    return [rows[key] for key in sorted(rows)]


def trial_qc_from_summary(summary: dict, path: Path | None = None) -> TrialQC:
    """One trial's row from its ``summary.json`` (a dict); absent keys become None."""
    qc = summary.get("qc") or {}
    valid = summary.get("valid_frames") or {}
    legs = valid.get("legs") or {}
    trial_id = str(summary.get("trial_id") or "")
    subject_id = (summary.get("subject") or {}).get("id") or (trial_id.split("/")[0] if "/" in trial_id else MISSING)
    trial = trial_id.split("/", 1)[1] if "/" in trial_id else (path.parent.name if path else trial_id)
    valid_frames = {side: _integer((legs.get(side) or {}).get("n_valid_frames", qc.get(f"valid_frames_{side}")))
                    for side in SIDES}
    cycles = _trial_cycles(summary)
    share = {side: _cycle_valid_share(cycles.get(side), (legs.get(side) or {}).get("valid_windows"))
             for side in SIDES}
    whole = {side: None if share[side] is None else share[side] >= 1.0 for side in SIDES}
    failed_stage = summary.get("failed_stage")
    reasons = [str(r) for r in summary.get("reasons") or []]
    if failed_stage and failed_stage != "qc" and summary.get("error"):
        reasons.insert(0, f"{failed_stage}: {' '.join(str(summary['error']).split())}")
    return TrialQC(
        subject=str(subject_id), trial=str(trial), status=str(summary.get("status") or MISSING),
        n_frames=_integer(valid.get("n_frames", summary.get("n_frames"))),
        valid_frames=valid_frames, whole_valid_cycle=whole, cycle_valid_share=share,
        ik_marker_rms_m=_number(qc.get("ik_marker_rms_error_m")), ik_marker_max_m=_number(qc.get("ik_marker_max_error_m")),
        peak_residual_pct_bw=_number(qc.get("peak_pelvis_residual_force_pct_bw")),
        residual_frames=_integer(valid.get("n_residual_frames", qc.get("residual_frames"))),
        rra_residual_pct_bw=_number(qc.get("rra_peak_pelvis_residual_force_pct_bw")),
        rra_hip_angle_change_deg=_number(qc.get("rra_hip_angle_change_rms_deg")),
        reasons=tuple(reasons), summary_path=path)


def qc_counts(rows: list[TrialQC]) -> dict:
    """Trials by status, and trials with a whole valid cycle on at least one leg / on both legs."""
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return {"trials": len(rows), "by_status": dict(sorted(statuses.items())),
            "whole_valid_cycle_any_leg": sum(any(row.whole_valid_cycle.get(s) for s in SIDES) for row in rows),
            "whole_valid_cycle_both_legs": sum(all(row.whole_valid_cycle.get(s) for s in SIDES) for row in rows)}


def qc_table_markdown(rows: list[TrialQC], *, with_reasons: bool = True) -> str:
    """The QC table: status, valid frames per leg of n, whole valid cycle, IK marker RMS/max, peak residual."""
    header = ("| trial | status | valid frames r / l of n | valid share of a cycle r / l | IK marker RMS / max (mm) "
              "| peak residual (% BW, over residual frames) | after RRA (% BW; hip angle change, deg) |")
    rule = "|---|---|---|---|---|---|---|"
    if with_reasons:
        header += " reasons |"
        rule += "---|"
    lines = [header, rule]
    for row in rows:
        frames = (f"{_text(row.valid_frames.get('r'))} / {_text(row.valid_frames.get('l'))} of "
                  f"{_text(row.n_frames)}")
        cycle = " / ".join(_percent(row.cycle_valid_share.get(side)) for side in SIDES)
        marker = f"{_mm(row.ik_marker_rms_m)} / {_mm(row.ik_marker_max_m)}"
        residual = (f"{row.peak_residual_pct_bw:.1f} ({_text(row.residual_frames)} frames)"
                    if row.peak_residual_pct_bw is not None else f"{MISSING} ({_text(row.residual_frames)} frames)")
        rra = (f"{row.rra_residual_pct_bw:.1f} ({_degrees(row.rra_hip_angle_change_deg)})"
               if row.rra_residual_pct_bw is not None else MISSING)
        line = f"| {row.key} | {row.status} | {frames} | {cycle} | {marker} | {residual} | {rra} |"
        if with_reasons:
            line += f" {'; '.join(row.reasons).replace('|', '/') or MISSING} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def qc_counts_markdown(rows: list[TrialQC]) -> str:
    """One sentence of counts under the table."""
    counts = qc_counts(rows)
    by_status = ", ".join(f"{n} {status}" for status, n in counts["by_status"].items()) or "none"
    return (f"{counts['trials']} trials: {by_status}; a whole valid gait cycle on at least one leg in "
            f"{counts['whole_valid_cycle_any_leg']}, on both legs in {counts['whole_valid_cycle_both_legs']}.")


def _manifest_rows(labels_dir: Path) -> list[dict]:
    path = labels_dir / "manifest.parquet"
    if not path.is_file():
        return []
    import pandas as pd

    return pd.read_parquet(path).to_dict("records")


def _trial_cycles(summary: dict) -> dict[str, list]:
    """The trial's cycles by side from the cohort's ``trial.yaml`` beside its markers; {} when not found."""
    markers = (summary.get("inputs") or {}).get("markers")
    if not markers:
        return {}
    trial_yaml = Path(markers).parent / "trial.yaml"
    if not trial_yaml.is_file():
        return {}
    return (yaml.safe_load(trial_yaml.read_text()) or {}).get("cycles") or {}


def _cycle_valid_share(cycles: list | None, windows: list | None) -> float | None:
    """Largest fraction of one cycle's duration inside the valid windows (1.0: a whole valid cycle)."""
    if cycles is None or windows is None:
        return None
    best = 0.0
    for start_s, end_s in cycles:
        for window in windows:
            if (window["start_s"] <= start_s + CYCLE_WINDOW_TOLERANCE_S
                    and window["end_s"] >= end_s - CYCLE_WINDOW_TOLERANCE_S):
                return 1.0
        inside = sum(max(0.0, min(end_s, w["end_s"]) - max(start_s, w["start_s"])) for w in windows)
        best = max(best, min(1.0, inside / (end_s - start_s)) if end_s > start_s else 0.0)
    return min(best, 0.999)


def _percent(share: float | None) -> str:
    if share is None:
        return MISSING
    return "100 %" if share >= 1.0 else f"{100 * share:.0f} %"


def _degrees(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def _number(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _integer(value) -> int | None:
    number = _number(value)
    return None if number is None else int(round(number))


def _text(value) -> str:
    return MISSING if value is None else str(value)


def _mm(value_m: float | None) -> str:
    return MISSING if value_m is None else f"{value_m * 1000:.1f}"


