"""Per-frame cost of IK, ID and SO on gait2392 on this machine (printed, never asserted).

Synthesizes one walking trial with the virtual gait lab (a subject-scaled gait2392 walking at
110 steps/min; SYNTHETIC data), scales once, then labels the trial several times after a
warm-up run, and reports the median and the spread (min–max) of each stage's wall time per
frame. Run it on an otherwise idle machine.

    .venv/bin/python benchmarks/bench_pipeline_stages.py [--cycles 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
from pathlib import Path

from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet

from gait2hip.pipeline.cohort import discover_cohort
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.scale import scale_subject
from gait2hip.pipeline.trial import label_trial
from gait2hip.virtual_lab.cohort import synthesize_cohort
from gait2hip.virtual_lab.presets import CohortPreset, GroupSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=float, default=1.0, help="gait cycles in the trial")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions after one warm-up")
    args = parser.parse_args()
    keep_opensim_console_quiet()
    preset = CohortPreset.load("demo")
    preset = dataclasses.replace(preset, groups=(GroupSpec("healthy", 1, (110.0,), 1),),
                                 recording=dataclasses.replace(preset.recording, n_cycles=args.cycles))
    config = PipelineConfig()
    with tempfile.TemporaryDirectory(prefix="gait2hip-bench-") as folder:
        work = Path(folder)
        synthesize_cohort(preset, work / "cohort")
        subject = discover_cohort(work / "cohort").subjects[0]
        trial = subject.trials[0]
        scaled = scale_subject(subject.info, subject.static_trc_path, work / "scale", config)
        per_frame_ms: dict[str, list[float]] = {"ik": [], "id": [], "so": []}
        for repeat in range(args.repeats + 1):
            result = label_trial(subject.info, scaled.scaled_model_path, trial.markers_path, trial.grf_path,
                                 work / f"trial{repeat}", config, f"bench/{repeat}")
            if repeat == 0:
                continue  # warm-up
            for stage in per_frame_ms:
                per_frame_ms[stage].append(1000.0 * result.timings_s[stage] / result.n_frames)
    print(f"gait2392, one synthetic walking trial of {result.n_frames} frames at 100 Hz, {args.repeats} repetitions "
          f"after a warm-up; scaling once: {scaled.wall_time_s:.2f} s")
    print(f"{'stage':<6} {'median ms/frame':>16} {'min':>8} {'max':>8}")
    for stage, values in per_frame_ms.items():
        print(f"{stage:<6} {statistics.median(values):>16.2f} {min(values):>8.2f} {max(values):>8.2f}")
    total = sum(statistics.median(v) for v in per_frame_ms.values())
    print(f"{'total':<6} {total:>16.2f}   (≈ {total / 10:.1f} s per second of walking at 100 Hz)")


if __name__ == "__main__":
    main()
