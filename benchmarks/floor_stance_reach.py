"""How far an unmeasured stance spoils a leg's hip moments: each plate stance's reaction removed in turn.

For every walk of a labelled measured corpus and every foot with a plate stance, the foot's
ground reaction is set to zero over the whole trial (as if that stance were on the floor
beside the plates) and the trial is labelled again with `gait2hip label-trial`. The leg's hip
moments (ID, after the 6 Hz filters) are compared with the measured run's on each frame at a
distance before the stance's heel strike and after its toe-off; the error is the largest of
the leg's three hip moments, as a percentage of the leg's peak hip moment over the trial.
The table behind `foot_contact.heel_strike_reach_cycles` and `filter_reach_cycles`.

    .venv/bin/python benchmarks/floor_stance_reach.py RUN_DIR [--config PIPELINE_YAML] [--out DIR]

RUN_DIR is a `gait2hip run workflows/real_biomechzoo.yaml` output (its `cohort/` and
`labels/`); --config is the pipeline settings it used (default
workflows/configs/measured_walks.yaml), with RRA turned off here (it does not change ID).
Writes OUT/summary.json (kind gait2hip.bench.floor_stance_reach). Reruns reuse finished trials.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.opensim_files import SIDES, grf_identifiers, read_opensim_table, write_mot
from gait2hip.pipeline.config import GRFConfig

DISTANCES_S = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.067, 0.08, 0.1, 0.117, 0.15, 0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--config", type=Path, default=Path("workflows/configs/measured_walks.yaml"))
    parser.add_argument("--out", type=Path, default=Path("runs/floor_stance_reach"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load(args.config.read_text()) or {}
    settings["residual_reduction"] = {"enabled": False}
    config_path = args.out / "pipeline_without_rra.yaml"
    config_path.write_text(yaml.safe_dump(settings, sort_keys=True))
    gait2hip = Path(sys.executable).with_name("gait2hip")

    rows = []
    for subject in sorted(p for p in (args.run_dir / "cohort").iterdir() if (p / "subject.yaml").is_file()):
        for trial in sorted((subject / "trials").iterdir()):
            measured_id = args.run_dir / "labels" / subject.name / "trials" / trial.name / "id" / "inverse_dynamics.sto"
            if not measured_id.is_file():
                print(f"{subject.name}/{trial.name}: no ID output in {measured_id.parent}, skipped")
                continue
            grf = read_opensim_table(trial / "grf.mot")
            measured = read_opensim_table(measured_id)
            for side in SIDES:
                foot = grf_identifiers(side)
                loaded = grf[foot.force + "y"].to_numpy() >= GRFConfig().contact_threshold_n
                if not loaded.any():
                    continue
                heel_strike_s, toe_off_s = (float(grf["time"].to_numpy()[loaded][i]) for i in (0, -1))
                out = args.out / f"{subject.name}_{trial.name}_{side}"
                removed_id = out / trial.name / "id" / "inverse_dynamics.sto"
                if not removed_id.is_file():
                    removed_columns = set(foot.column_names())
                    columns = {name: (np.zeros(len(grf)) if name in removed_columns else grf[name].to_numpy())
                               for name in grf.columns[1:]}
                    removed_grf = write_mot(args.out / f"{out.name}_grf.mot", columns, grf["time"].to_numpy(),
                                            in_degrees=False)
                    subprocess.run([str(gait2hip), "label-trial", "--subject", str(subject / "subject.yaml"),
                                    "--static", str(subject / "static.trc"), "--markers", str(trial / "markers.trc"),
                                    "--grf", str(removed_grf), "--config", str(config_path), "--out", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                if not removed_id.is_file():
                    print(f"{subject.name}/{trial.name} {side}: relabelling without the plate wrote no ID output, skipped")
                    continue
                removed = read_opensim_table(removed_id)
                rows += _errors(measured, removed, side, heel_strike_s, toe_off_s, f"{subject.name}/{trial.name}")
                print(f"{subject.name}/{trial.name} {side}: heel strike {heel_strike_s:.3f} s, toe-off {toe_off_s:.3f} s")

    table = pd.DataFrame(rows)
    stats = (table.groupby(["edge", "distance_ms"])["error_pct_of_peak"]
             .agg(stances="count", median="median", p90=lambda e: e.quantile(0.9), max="max").reset_index())
    print("\nhip moment error (% of the leg's peak hip moment) with the stance's reaction removed")
    for edge in ("before heel strike", "after toe-off"):
        print(f"\n{edge}:\n| ms | stances | median | 90th percentile | max |\n|---|---|---|---|---|")
        for row in stats[stats["edge"] == edge].itertuples():
            print(f"| {row.distance_ms} | {row.stances} | {row.median:.1f} | {row.p90:.1f} | {row.max:.1f} |")
    write_json_atomically(args.out / "summary.json", {
        "kind": "gait2hip.bench.floor_stance_reach",
        "run_dir": str(args.run_dir), "config": str(args.config),
        "rows": stats.round(3).to_dict(orient="records"),
    })


def _errors(measured: pd.DataFrame, removed: pd.DataFrame, side: str, heel_strike_s: float, toe_off_s: float,
            trial: str) -> list[dict]:
    moments = [f"hip_{axis}_{side}_moment" for axis in ("flexion", "adduction", "rotation")]
    times = measured["time"].to_numpy()
    peak = max(float(measured[c].abs().max()) for c in moments)
    rows = []
    for edge, at_s, sign in (("before heel strike", heel_strike_s, -1.0), ("after toe-off", toe_off_s, 1.0)):
        for distance_s in DISTANCES_S:
            when = at_s + sign * distance_s
            if not times[0] <= when <= times[-1]:
                continue
            frame = int(np.argmin(np.abs(times - when)))
            error = max(abs(float(measured[c].iloc[frame]) - float(removed[c].iloc[frame])) for c in moments)
            rows.append({"trial": trial, "side": side, "edge": edge, "distance_ms": round(distance_s * 1000),
                         "error_pct_of_peak": 100.0 * error / peak})
    return rows


if __name__ == "__main__":
    main()
