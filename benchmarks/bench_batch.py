"""Batch labelling throughput and parallel efficiency (--jobs 1 vs --jobs 2), and memory; or the two SO solvers.

Labels a cohort twice from scratch, with one and with two parallel tasks, and prints trials
per minute, the speed-up and the parallel efficiency (speed-up / jobs), then the peak memory
of each task's process in the order the tasks ran (it must not grow trial after trial: every
task runs in a fresh process). With ``--solvers``, labels it from scratch once per SO solver
(``--jobs`` tasks, default 2) instead, one after the other in one run, and prints each wall
time and the ratio. Never asserts on time.

    .venv/bin/python benchmarks/bench_batch.py COHORT_DIR [--work DIR]
    .venv/bin/python benchmarks/bench_batch.py COHORT_DIR --solvers opensim batched [--jobs 2]

COHORT_DIR defaults to a cohort made by `gait2hip synth --preset demo` when given as
`demo` and virtual_lab is installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from gait2hip.pipeline.batch import BatchOptions, label_cohort
from gait2hip.pipeline.config import SO_SOLVER_NAMES, SO_SOLVERS, PipelineConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort_dir", type=Path)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--solvers", nargs="+", choices=SO_SOLVERS, default=None,
                        help="label once per SO solver instead of comparing --jobs 1 and 2")
    parser.add_argument("--jobs", type=int, default=2, help="parallel tasks with --solvers")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gait2hip-bench-batch-"))
    if args.solvers:
        _compare_solvers(args.cohort_dir, work, args.solvers, args.jobs)
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
        return
    rows = {}
    for jobs in (1, 2):
        out = work / f"labels_jobs{jobs}"
        shutil.rmtree(out, ignore_errors=True)
        report = label_cohort(args.cohort_dir, out, PipelineConfig(), BatchOptions(jobs=jobs, quiet=True))
        rows[jobs] = report
        print(f"--jobs {jobs}: {report.n_trials} trials ({report.n_failed} failed) in {report.wall_time_s:.1f} s = "
              f"{60.0 * report.n_trials / report.wall_time_s:.2f} trials/min")
    speed_up = rows[1].wall_time_s / rows[2].wall_time_s
    print(f"speed-up with 2 jobs: {speed_up:.2f}x; parallel efficiency {100.0 * speed_up / 2:.0f} %")
    manifest = pd.read_parquet(rows[1].manifest_path)
    memory = manifest["peak_rss_mb"].to_numpy()
    print(f"peak memory per trial process (jobs 1, cohort order): first {memory[0]:.0f} MB, last {memory[-1]:.0f} MB, "
          f"max {memory.max():.0f} MB, min {memory.min():.0f} MB")
    half = len(memory) // 2
    if half:
        print(f"mean over first half {memory[:half].mean():.0f} MB vs second half {memory[half:].mean():.0f} MB")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def _compare_solvers(cohort_dir: Path, work: Path, solvers: list[str], jobs: int) -> None:
    """Label the cohort from scratch with each SO solver (the cross-check as configured by default)."""
    walls = {}
    for solver in solvers:
        out = work / f"labels_{solver}"
        shutil.rmtree(out, ignore_errors=True)
        base = PipelineConfig()
        config = dataclasses.replace(base, static_optimization=dataclasses.replace(base.static_optimization,
                                                                                    solver=solver))
        report = label_cohort(cohort_dir, out, config, BatchOptions(jobs=jobs, quiet=True))
        walls[solver] = report.wall_time_s
        manifest = pd.read_parquet(report.manifest_path)
        so_s = manifest.filter(regex="^wall_time_so").sum(axis=1)
        print(f"{SO_SOLVER_NAMES[solver]}: {report.n_trials} trials ({report.n_ok} ok, {report.n_warn} warn, "
              f"{report.n_failed} failed) with --jobs {jobs} in {report.wall_time_s:.1f} s (scaling included); "
              f"SO stage per trial {so_s.median():.2f} s median")
    if len(walls) == 2:
        slow, fast = (walls[s] for s in solvers)
        print(f"{SO_SOLVER_NAMES[solvers[0]]} / {SO_SOLVER_NAMES[solvers[1]]}: {slow / fast:.2f}x "
              f"(load average now {', '.join(f'{v:.1f}' for v in os.getloadavg())})")


if __name__ == "__main__":
    main()
