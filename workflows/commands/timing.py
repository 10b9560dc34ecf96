"""``gait2hip timing``: the OpenSim path against surrogate inference, on the same trials."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Re-run the full OpenSim path (scaling amortised over the subject's timed trials, IK, ID, SO)
on trials of COHORT_DIR, several repetitions, and time every given surrogate on the same
trials (each trial's gait cycles predicted in one call), plus one gait cycle's latency
(batch 1) and throughput (batch 64); CPU, and CUDA when present. Medians and min–max.
Writes timing.md, timing.csv, per_trial.csv, simulation_runs.csv, inference.csv, timing.png
(log scale) and summary.json to OUT. Default trials: the first checkpoint's test subjects.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("timing", help="time OpenSim against the surrogates on the same trials",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort", type=Path, metavar="COHORT_DIR", help="cohort folder the labels came from")
    parser.add_argument("--data", type=Path, required=True, metavar="DATASET_DIR", help="label dataset")
    parser.add_argument("--checkpoint", type=Path, action="append", required=True, metavar="CHECKPOINT",
                        help="best.pt of a training run (repeatable)")
    parser.add_argument("--trials", default=None, metavar="S01/T01,...", help="trial keys (default: test subjects)")
    parser.add_argument("--n-trials", type=int, default=3, help="trials to time when --trials is not given")
    parser.add_argument("--repetitions", type=int, default=3, help="OpenSim repetitions per trial")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("opensim", needed_for="gait2hip timing")  # it re-runs the OpenSim path it times the surrogates against
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet
    from gait2hip.surrogate.checkpoint import read_checkpoint
    from gait2hip.workflows.timing_study import run_timing_study

    keep_opensim_console_quiet()
    checkpoints = {}
    for path in args.checkpoint:
        name = read_checkpoint(path).model
        checkpoints[name if name not in checkpoints else f"{name}:{path.parent.name}"] = path
    trial_keys = [key.strip() for key in args.trials.split(",")] if args.trials else None
    run_timing_study(args.cohort, args.data, checkpoints, args.out, trial_keys=trial_keys, n_trials=args.n_trials,
                     repetitions=args.repetitions)
    print((args.out / "timing.md").read_text())
    return 0
