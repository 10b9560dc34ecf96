"""Synthesis time of one 10 s walking trial in the virtual gait lab (printed, never asserted).

Times `gait2hip.virtual_lab.trial.synthesize_trial` for a 10 s trial at 110 steps/min (markers at
100 Hz, GRFs at 1 kHz) on one core, after one warm-up run; prints the median and the spread.

    .venv/bin/python benchmarks/bench_synthesis.py [--repeats 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # one core: no BLAS threads (set before numpy loads)

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet

from gait2hip.virtual_lab.gait_template import GaitTemplate
from gait2hip.virtual_lab.subject_model import build_subject_model
from gait2hip.virtual_lab.subjects import sample_healthy_subject
from gait2hip.virtual_lab.trial import TrialSettings, synthesize_trial

CADENCE_STEPS_PER_MIN = 110.0
DURATION_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    keep_opensim_console_quiet()
    template = GaitTemplate.load()
    settings = TrialSettings(n_cycles=DURATION_S / (120.0 / CADENCE_STEPS_PER_MIN) - 0.5)
    with tempfile.TemporaryDirectory(prefix="gait2hip-bench-synth-") as folder:
        work = Path(folder)
        rng = np.random.default_rng(0)
        subject = sample_healthy_subject("B01", rng, template.stance_fraction)
        model = build_subject_model(subject, work / "model.osim")
        times = []
        for repeat in range(args.repeats + 1):
            start = time.perf_counter()
            trial = synthesize_trial(subject, model, CADENCE_STEPS_PER_MIN, work / f"t{repeat}", work / "truth",
                                     f"t{repeat}", settings, template, np.random.default_rng(repeat))
            if repeat:
                times.append(time.perf_counter() - start)
        frames = len(trial.markers_path.read_text().splitlines()) - 6
    print(f"one {DURATION_S:g} s trial ({frames} marker frames at 100 Hz, GRFs at 1 kHz), one core, "
          f"{args.repeats} runs after a warm-up: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}); target < 2 s")


if __name__ == "__main__":
    main()
