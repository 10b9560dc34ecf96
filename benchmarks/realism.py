"""Does the virtual cohort walk like measured people? Per channel and gait phase, against a real label dataset.

    .venv/bin/python benchmarks/realism.py COHORT_LABELS REAL_LABELS [--out DIR]
        [--cohort-groups healthy] [--cadences 90,110,130]

COHORT_LABELS and REAL_LABELS are label datasets (``LABELS/dataset``, as ``gait2hip label`` and
``gait2hip run`` write them; a labels folder holding ``dataset/`` works too). For each of the 10
input angles, 6 hip moments and each leg's summed hip muscle force, every gait cycle is
time-normalised (heel strike to heel strike of that channel's leg) and the real curves are
compared with the virtual ones point by point (gait2hip.workflows.realism): the share of real
points inside the virtual 5–95 % band, the mean-curve RMSE against the real between-subject SD,
and the overlap of the value ranges. Moments and forces count only where the leg's labels are
known (valid frames). Prints the table, writes OUT/realism.png (bands and means per channel) and
OUT/summary.json (kind gait2hip.bench.realism).

The targets of issue #21 are printed as ✓/✗: ≥ 80 % of real points inside the band for every
angle and hip moment, and mean curves within one real between-subject SD.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.errors import Gait2HipError, InputDataError
from gait2hip.surrogate.dataset import load_dataset
from gait2hip.workflows.realism import (SUMMED_FORCE, comparison_markdown, compare, gait_cycles,
                                        plot_comparison)

BAND_TARGET = 0.8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort_labels", type=Path, help="the virtual cohort's label dataset")
    parser.add_argument("real_labels", type=Path, help="the measured corpus's label dataset")
    parser.add_argument("--out", type=Path, default=Path("runs/realism"), help="realism.png and summary.json")
    parser.add_argument("--cohort-groups", default="healthy",
                        help="comma-separated subject groups of the virtual cohort to compare ('' for all)")
    parser.add_argument("--cadences", default="",
                        help="comma-separated cadence conditions of the virtual cohort to keep (default all)")
    args = parser.parse_args()
    try:
        cohort = _read(args.cohort_labels)
        real = _read(args.real_labels)
    except Gait2HipError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    groups = [g for g in args.cohort_groups.split(",") if g]
    if groups:
        cohort = cohort[cohort["group"].astype(str).isin(groups)]
    cadences = [c for c in args.cadences.split(",") if c]
    if cadences:
        cohort = cohort[cohort["cadence_condition"].astype(str).isin(cadences)]
    if cohort.empty:
        print(f"error: {args.cohort_labels}: no trial of group(s) {groups or 'any'} and cadence(s) {cadences or 'any'}",
              file=sys.stderr)
        return 2
    try:
        virtual_cycles = gait_cycles(cohort, where=str(args.cohort_labels))
        real_cycles = gait_cycles(real, where=str(args.real_labels))
    except Gait2HipError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = compare(virtual_cycles, real_cycles)
    print(f"virtual: {args.cohort_labels} (SYNTHETIC; groups {groups or 'all'}, cadences {cadences or 'all'}): "
          f"{cohort['subject'].nunique()} subjects, {cohort.groupby(['subject', 'trial']).ngroups} trials")
    print(f"real:    {args.real_labels}: {real['subject'].nunique()} subjects, "
          f"{real.groupby(['subject', 'trial']).ngroups} trials")
    print()
    print(comparison_markdown(rows, band_target=BAND_TARGET))
    targeted = [row for row in rows if not row.channel.startswith(SUMMED_FORCE)]
    band_met = sum(row.inside_band >= BAND_TARGET for row in targeted)
    mean_met = sum(row.mean_difference_in_sd < 1 for row in targeted)
    print()
    print(f"targets over the 10 angles and 6 hip moments: ≥ {BAND_TARGET:.0%} of real points inside the band on "
          f"{band_met} of {len(targeted)}; mean curve within one real SD on {mean_met} of {len(targeted)}")
    args.out.mkdir(parents=True, exist_ok=True)
    figure = args.out / "realism.png"
    plot_comparison(virtual_cycles, real_cycles, figure, candidate_label="virtual", reference_label="real")
    summary = {"kind": "gait2hip.bench.realism", "command": " ".join(["benchmarks/realism.py", *sys.argv[1:]]),
               "cohort_labels": str(args.cohort_labels.resolve()), "real_labels": str(args.real_labels.resolve()),
               "cohort_groups": groups, "cadences": cadences, "synthetic": "the virtual cohort is synthetic",
               "dropped_cycles": {"virtual": virtual_cycles.dropped_cycles, "real": real_cycles.dropped_cycles},
               "targets": {"inside_band_at_least": BAND_TARGET, "mean_difference_in_sd_below": 1.0,
                           "band_met": band_met, "mean_met": mean_met, "channels": len(targeted)},
               "channels": [row.to_json() for row in rows], "figure": str(figure.resolve())}
    write_json_atomically(args.out / "summary.json", summary)
    print(f"figure: {figure}\nsummary: {args.out / 'summary.json'}")
    return 0


def _read(path: Path):
    if (path / "dataset").is_dir():
        return load_dataset(path / "dataset")
    if (path / "manifest.parquet").is_file():
        raise InputDataError(path, "a labels folder without its dataset/ (is its labelling still running, "
                                   "or did every trial fail?)")
    return load_dataset(path)


if __name__ == "__main__":
    sys.exit(main())
