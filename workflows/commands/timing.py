"""``gait2hip timing``: the OpenSim path against surrogate inference, on the same trials."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait2hip.workflows.arguments import positive_int

DESCRIPTION = """\
Re-run the full simulation path (scaling amortised over the subject's timed trials, IK, ID,
SO) on trials of COHORT_DIR, several repetitions, once with OpenSim's StaticOptimization tool
and once with gait2hip's batched SO (--solvers), and time every given surrogate on the same
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
    parser.add_argument("--n-trials", type=positive_int, default=3, help="trials to time when --trials is not given")
    parser.add_argument("--repetitions", type=positive_int, default=3, help="OpenSim repetitions per trial")
    parser.add_argument("--solvers", default="opensim,batched", metavar="opensim,batched",
                        help="SO solvers whose simulation paths are timed side by side (default: both)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("opensim", needed_for="gait2hip timing")  # it re-runs the OpenSim path it times the surrogates against
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet
    from gait2hip.surrogate.checkpoint import read_checkpoint
    from gait2hip.workflows.timing_study import run_timing_study

    from gait2hip.workflows.arguments import check_input_folder, check_output_folder

    keep_opensim_console_quiet()
    solvers = _solvers(args.solvers)
    checkpoints = {}
    for path in args.checkpoint:
        name = read_checkpoint(path).model
        checkpoints[name if name not in checkpoints else f"{name}:{path.parent.name}"] = path
    check_output_folder(args.out)
    check_input_folder(args.cohort, "COHORT_DIR", "cohort folder")
    check_input_folder(args.data, "--data", "label dataset folder")
    trial_keys = _trial_keys(args.trials, args.data) if args.trials is not None else None
    if trial_keys is None:
        _check_test_trials(args.data, args.checkpoint[0], args.n_trials)
    run_timing_study(args.cohort, args.data, checkpoints, args.out, trial_keys=trial_keys, n_trials=args.n_trials,
                     repetitions=args.repetitions, solvers=solvers)
    print((args.out / "timing.md").read_text())
    return 0


def _solvers(text: str) -> tuple[str, ...]:
    """``--solvers`` as solver names (else a ConfigError naming the option and the choices)."""
    from gait2hip.core.errors import ConfigError
    from gait2hip.pipeline.config import SO_SOLVERS

    solvers = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not solvers or any(name not in SO_SOLVERS for name in solvers):
        raise ConfigError(f"--solvers {text!r}: expected one or more of {', '.join(SO_SOLVERS)}, comma-separated")
    return solvers


def _dataset_trial_keys(dataset: Path) -> list[str]:
    from gait2hip.surrogate.dataset import load_dataset

    table = load_dataset(dataset)
    return sorted({f"{s}/{t}" for s, t in zip(table["subject"], table["trial"])})


def _trial_keys(text: str, dataset: Path) -> list[str]:
    """``--trials`` as trial keys, every one a trial of the dataset (else a ConfigError listing some that are)."""
    from gait2hip.core.errors import ConfigError

    keys = [key.strip() for key in text.split(",") if key.strip()]
    if not keys:
        raise ConfigError(f"--trials {text!r}: no trial key given (expected SUBJECT/TRIAL,...)")
    available = _dataset_trial_keys(dataset)
    unknown = [key for key in keys if key not in available]
    if unknown:
        shown = ", ".join(available[:6]) + (", ..." if len(available) > 6 else "")
        raise ConfigError(f"--trials: {', '.join(unknown)} not in the dataset {dataset} ({len(available)} trials: "
                          f"{shown})")
    return keys


def _check_test_trials(dataset: Path, checkpoint: Path, n_trials: int) -> None:
    """Without --trials, the first checkpoint's test subjects must have trials in the dataset."""
    from gait2hip.core.errors import ConfigError
    from gait2hip.surrogate.checkpoint import read_checkpoint

    test = set(read_checkpoint(checkpoint).split.test)
    if not any(key.split("/")[0] in test for key in _dataset_trial_keys(dataset)):
        raise ConfigError(f"--data {dataset}: holds no trial of {checkpoint}'s test subjects "
                          f"({', '.join(sorted(test))}); give the dataset it was trained on, or --trials")
