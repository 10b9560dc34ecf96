"""``gait2hip evaluate``: metrics of a trained surrogate on test subjects and zero-shot cohorts."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Evaluate CHECKPOINT on its held-out test subjects of DATASET_DIR and, without retraining, on an
external cohort (--external DATASET_DIR, and/or --external-group GROUP of the same dataset,
e.g. antalgic-hip). RMSE and MAE in N/kg and Nm/kg, and R², per test subject then averaged
(subject-level mean ± SD), per cadence and per channel, over the frames whose labels are known
(valid_r/valid_l; see docs/surrogates.md). Writes results.csv, results.md, metrics_*.csv, cycle
and cadence plots, and summary.json (with the generalisation gap and label_validity: how many
target points had unknown labels and were left out).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a trained surrogate", description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="best.pt of a training run")
    parser.add_argument("--data", type=Path, required=True, metavar="DATASET_DIR", help="dataset the model was trained on")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--external", type=Path, default=None, metavar="DATASET_DIR", help="external dataset (zero-shot)")
    parser.add_argument("--external-group", action="append", default=None, metavar="GROUP",
                        help="subject group for zero-shot evaluation (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.errors import ConfigError
    from gait2hip.surrogate.checkpoint import read_checkpoint
    from gait2hip.surrogate.dataset import load_dataset
    from gait2hip.surrogate.evaluate import evaluate_checkpoint
    from gait2hip.workflows.arguments import check_input_folder, check_output_folder

    check_output_folder(args.out)
    read_checkpoint(args.checkpoint)   # a damaged checkpoint is named before any dataset is read
    check_input_folder(args.data, "--data", "label dataset folder")
    if args.external is not None:
        check_input_folder(args.external, "--external", "label dataset folder")
    if args.external_group:
        source = args.external if args.external is not None else args.data
        table = load_dataset(source)
        present = sorted(table["group"].unique()) if "group" in table.columns else []
        unknown = [group for group in args.external_group if group not in present]
        if unknown:
            raise ConfigError(f"--external-group {', '.join(unknown)}: not a group of {source} "
                              f"(its groups: {', '.join(present) or 'none'})")
    summary = evaluate_checkpoint(args.checkpoint, args.data, args.out, args.external,
                                  tuple(args.external_group) if args.external_group else None)
    print((args.out / "results.md").read_text())
    for name, counts in summary.get("label_validity", {}).items():
        if counts["masked_target_points"] or counts["dropped_segments"]:
            print(f"{name}: frames with unknown labels left out: {counts['masked_target_points']} of "
                  f"{counts['target_points']} target points masked, {counts['dropped_segments']} segment(s) dropped")
    if "generalisation_gap" in summary:
        gap = summary["generalisation_gap"]
        print(f"generalisation gap (zero-shot − test): forces R² {gap['forces_r2']:+.3f}, moments R² {gap['moments_r2']:+.3f}")
    return 0
