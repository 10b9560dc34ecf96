"""``gait2hip label``: label a whole cohort in parallel, resumably, failure-isolated."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait2hip.workflows.arguments import jobs, time_limit_s

# gait2hip.pipeline.batch.BACKENDS, spelled here because importing the batch engine loads
# OpenSim and --help must work without it (tests/workflows/test_without_opensim.py pins the two equal).
BACKENDS = ("loky", "dask")

DESCRIPTION = """\
Discover subjects and trials in COHORT_DIR (layout: docs/cohort_layout.md), scale each
subject once, and label every trial (IK, ID, SO) in parallel. Each task runs in its own
process, so a crash inside OpenSim fails that trial only. Re-running skips trials whose
inputs, model and settings are unchanged (content hashes), QC failures included, and redoes the
rest and any trial that stopped with an error.

Writes to LABELS_DIR: one folder per subject and trial, manifest.parquet/.csv (one row per
trial: status, error, QC figures, wall times, hashes), dataset/ (labels of every usable
trial, partitioned by subject, with metadata: what `gait2hip train` reads) and summary.json.
Exits 1 when any trial failed (unless --tolerate-failures).

Dask: --backend dask starts a local cluster (loopback, one single-threaded worker per job);
--scheduler tcp://HOST:8786 uses an existing cluster, whose workers must have gait2hip
installed and see COHORT_DIR and LABELS_DIR at the same paths (a shared file system).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from gait2hip.pipeline.config import DEFAULT_CONFIG_PATH  # standard library and YAML only

    parser = subparsers.add_parser("label", help="label a whole cohort (parallel, resumable)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort_dir", type=Path, metavar="COHORT_DIR", help="cohort folder with cohort.yaml")
    parser.add_argument("--out", type=Path, required=True, metavar="LABELS_DIR", help="output folder")
    parser.add_argument("--jobs", type=jobs, default=1, help="parallel tasks (-1: one per core; default 1)")
    parser.add_argument("--backend", choices=BACKENDS, default="loky", help="joblib backend (default loky)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address (with --backend dask); default: start a local cluster")
    parser.add_argument("--config", type=Path, default=None, metavar="YAML",
                        help=f"pipeline settings (any subset of {DEFAULT_CONFIG_PATH.name})")
    parser.add_argument("--timeout", type=time_limit_s, default=None, metavar="SECONDS",
                        help="give up on one task after this (default: 600 s + 1 s per marker frame of its trial; "
                             "inf: no limit)")
    parser.add_argument("--tolerate-failures", action="store_true", help="exit 0 even when some trials failed")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.optional import require

    require("opensim", needed_for="gait2hip label")
    if args.backend == "dask":
        require("dask.distributed", needed_for="gait2hip label --backend dask")
    from gait2hip.core.errors import ConfigError
    from gait2hip.pipeline.batch import BatchOptions, label_cohort
    from gait2hip.pipeline.config import PipelineConfig
    from gait2hip.workflows.arguments import check_input_folder, check_output_folder, check_scheduler_reachable

    check_output_folder(args.out)
    check_input_folder(args.cohort_dir, "COHORT_DIR", "cohort folder")
    config = PipelineConfig.from_yaml(args.config) if args.config else PipelineConfig()
    if args.scheduler and args.backend != "dask":
        raise ConfigError(f"--scheduler {args.scheduler}: needs --backend dask")
    if args.scheduler:
        check_scheduler_reachable(args.scheduler)
    try:
        options = BatchOptions(jobs=args.jobs, backend=args.backend, scheduler_address=args.scheduler,
                               timeout_s=args.timeout, quiet=args.quiet)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    report = label_cohort(args.cohort_dir, args.out, config, options)
    print(f"{report.n_trials} trials: {report.n_ok} ok, {report.n_warn} warn, {report.n_failed} failed "
          f"({report.n_skipped} up to date, skipped) in {report.wall_time_s:.1f} s")
    for failure in report.failures:
        print(f"  FAILED {failure['subject']}/{failure['trial']} at {failure['failed_stage']}: {failure['error']}")
    print(f"manifest: {report.manifest_path}")
    print(f"dataset:  {report.dataset_dir}")
    return 1 if report.n_failed and not args.tolerate_failures else 0
