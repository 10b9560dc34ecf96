"""Trailing-leg hip and knee angles in pre-swing over a synthetic cohort, against the template.

For every healthy trial of a cohort written by `gait2hip synth`, reads the generating
coordinates (``<subject>/truth/<trial>_coordinates.mot``) and the trial's events
(``trial.yaml``), and prints per cadence condition the median and range over all steps of the
trailing leg's knee and hip flexion angles (degrees) at the other foot's heel strike (start of
pre-swing) and at its own toe-off, beside the gait template's value at the same gait events.
With ``--labels LABELS_DIR`` it adds the pipeline's peak hip reserve (% of the peak hip moment)
per condition: median, largest, and trials at the QC warn (10 %) and fail (25 %) limits.

    .venv/bin/python benchmarks/pre_swing_kinematics.py runs/gait2hip24/cohort --labels runs/gait2hip24/labels
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.virtual_lab.gait_template import GaitTemplate

# Events closer than this to a trial's edges are left out (s).
EDGE_S = 0.05
RESERVE_WARN_PCT, RESERVE_FAIL_PCT = 10.0, 25.0


def step_angles(cohort: Path) -> pd.DataFrame:
    """One row per step: condition, event (``contralateral heel strike``/``toe-off``), knee and hip angles (deg)."""
    rows = []
    for trial_yaml in sorted(cohort.glob("*/trials/*/trial.yaml")):
        trial = yaml.safe_load(trial_yaml.read_text())
        subject_dir = trial_yaml.parent.parent.parent
        truth_path = subject_dir / "truth" / f"{trial['id']}_coordinates.mot"
        if not truth_path.is_file() or not trial["cadence_condition"].startswith("cadence_"):
            continue
        truth = read_opensim_table(truth_path)
        times_s = truth["time"].to_numpy()
        for side, other in (("r", "l"), ("l", "r")):
            for event, event_times in (("contralateral heel strike", trial["events"][f"heel_strike_{other}"]),
                                       ("toe-off", trial["events"][f"toe_off_{side}"])):
                for time_s in event_times:
                    if times_s[0] + EDGE_S < time_s < times_s[-1] - EDGE_S:
                        rows.append({"condition": trial["cadence_condition"], "event": event,
                                     "knee_deg": float(np.interp(time_s, times_s, truth[f"knee_angle_{side}"])),
                                     "hip_flexion_deg": float(np.interp(time_s, times_s, truth[f"hip_flexion_{side}"]))})
    if not rows:
        raise SystemExit(f"{cohort}: no healthy trial with truth coordinates: is this a synthetic cohort folder?")
    return pd.DataFrame(rows)


def summarise(steps: pd.DataFrame, template: GaitTemplate) -> pd.DataFrame:
    """Per condition and event: steps, template, median, min and max of the knee and hip angles (deg)."""
    template_phase = {"contralateral heel strike": 0.5, "toe-off": template.stance_fraction}
    rows = []
    for (condition, event), group in steps.groupby(["condition", "event"]):
        row = {"condition": condition, "event": event, "steps": len(group)}
        for joint, column in (("knee_angle", "knee_deg"), ("hip_flexion", "hip_flexion_deg")):
            name = column.removesuffix("_deg")
            row[f"{name} template"] = float(template.joints[joint](template_phase[event]))
            row[f"{name} median"] = group[column].median()
            row[f"{name} min"] = group[column].min()
            row[f"{name} max"] = group[column].max()
        rows.append(row)
    return pd.DataFrame(rows).set_index(["condition", "event"]).round(1)


def hip_reserve(labels: Path) -> pd.DataFrame:
    """Per condition: peak hip reserve (% of peak hip moment) median and max, trials over warn and fail."""
    manifest = pd.read_parquet(labels / "manifest.parquet")
    manifest = manifest[manifest["group"] == "healthy"]
    reserve = manifest.groupby("cadence_condition")["qc_peak_hip_reserve_pct_peak_moment"]
    return pd.DataFrame({
        "trials": reserve.count(),
        "reserve median %": reserve.median(),
        "reserve max %": reserve.max(),
        f"over {RESERVE_WARN_PCT:g} %": reserve.apply(lambda r: int((r > RESERVE_WARN_PCT).sum())),
        f"over {RESERVE_FAIL_PCT:g} %": reserve.apply(lambda r: int((r > RESERVE_FAIL_PCT).sum())),
    }).round(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cohort", type=Path, help="a cohort folder written by `gait2hip synth`")
    parser.add_argument("--labels", type=Path, help="the cohort's labels folder (`gait2hip label --out`)")
    args = parser.parse_args()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("trailing leg at pre-swing events (degrees; knee flexion negative, hip flexion positive):")
        print(summarise(step_angles(args.cohort), GaitTemplate.load()).to_string())
        if args.labels is not None:
            print("\npeak hip reserve of the labelled healthy trials (% of the peak hip moment):")
            print(hip_reserve(args.labels).to_string())


if __name__ == "__main__":
    main()
