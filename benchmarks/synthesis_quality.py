"""Foot slip and centre-of-pressure clamping over every trial of a synthetic cohort.

Reads the figures the virtual gait lab recorded for each trial (``<subject>/truth/
<trial>_synthesis.yaml``; the pipeline never reads them) and prints, per cadence condition,
the median and largest stance-foot slip (mm), how many trials reach the 1 cm validation
threshold, and the moment (Nm) that clamping the COP into the foot outline changed (zero where
the balance correction alone kept it inside).

    .venv/bin/python benchmarks/synthesis_quality.py runs/gait2hip24/cohort
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import yaml

SLIP_THRESHOLD_M = 0.01


def read_synthesis_figures(cohort: Path) -> pd.DataFrame:
    """One row per trial: subject, trial, condition, ``foot_slip_m``, ``cop_clamped_moment_nm``."""
    rows = []
    for path in sorted(cohort.glob("*/truth/*_synthesis.yaml")):
        figures = yaml.safe_load(path.read_text())
        trial = path.name.removesuffix("_synthesis.yaml")
        rows.append({"subject": path.parent.parent.name, "trial": trial, "condition": trial.rsplit("_", 1)[0],
                     "foot_slip_m": float(figures["foot_slip_m"]),
                     "cop_clamped_moment_nm": float(figures.get("cop_clamped_moment_nm", 0.0))})
    if not rows:
        raise SystemExit(f"{cohort}: no */truth/*_synthesis.yaml files: is this a synthetic cohort folder?")
    return pd.DataFrame(rows)


def summarise(figures: pd.DataFrame) -> pd.DataFrame:
    """Per condition: trial count, slip median/max (mm), trials at or over 1 cm, clamp moment median/max (Nm)."""
    grouped = figures.groupby("condition")
    return pd.DataFrame({
        "trials": grouped.size(),
        "slip_median_mm": 1000 * grouped["foot_slip_m"].median(),
        "slip_max_mm": 1000 * grouped["foot_slip_m"].max(),
        "slip_at_or_over_1_cm": grouped["foot_slip_m"].apply(lambda slip: int((slip >= SLIP_THRESHOLD_M).sum())),
        "clamp_moment_median_nm": grouped["cop_clamped_moment_nm"].median(),
        "clamp_moment_max_nm": grouped["cop_clamped_moment_nm"].max(),
    }).round(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cohort", type=Path, help="a cohort folder written by `gait2hip synth`")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    table = summarise(read_synthesis_figures(args.cohort))
    print(json.dumps(table.to_dict(orient="index"), indent=2) if args.json else table.to_string())


if __name__ == "__main__":
    main()
