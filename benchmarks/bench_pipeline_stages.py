"""Per-frame cost of IK, ID and SO on gait2392 on this machine (printed, never asserted).

Builds a walking-like trial from the model itself (markers by forward kinematics of a known
motion; GRFs of body weight under the centre of mass, which is enough load for the tools to
do their full work), scales once, then times each stage over several repetitions after a
warm-up run. Reports the median and the spread (min–max) of the wall time per frame.

    .venv/bin/python benchmarks/bench_pipeline_stages.py [--frames 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import opensim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.scale import scale_subject  # noqa: E402
from pipeline.subject import SubjectInfo  # noqa: E402
from pipeline.trial import label_trial  # noqa: E402
from support.synthetic_pipeline_data import (  # noqa: E402
    centre_of_mass_m,
    marker_positions,
    model_with_markers,
    write_still_grf,
    write_trc,
)

RATE_HZ = 100.0


def _walking_like_motion(n_frames: int) -> dict[str, np.ndarray]:
    phase = 2 * math.pi * np.arange(n_frames) / RATE_HZ
    degrees = {"hip_flexion_r": 10 + 25 * np.sin(phase), "hip_flexion_l": 10 - 25 * np.sin(phase),
               "knee_angle_r": -30 + 28 * np.cos(phase), "knee_angle_l": -30 - 28 * np.cos(phase),
               "ankle_angle_r": 8 * np.sin(phase), "ankle_angle_l": -8 * np.sin(phase)}
    return {name: np.radians(values) for name, values in degrees.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100, help="frames per trial (100 Hz)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions after one warm-up")
    args = parser.parse_args()
    opensim.Logger.removeFileSink()
    opensim.Logger.setLevelString("warn")
    with tempfile.TemporaryDirectory(prefix="gait2hip-bench-") as folder:
        work = Path(folder)
        model = model_with_markers(work / "model.osim")
        names, static_positions = marker_positions(model, {"pelvis_tilt": np.zeros(50)})
        static = write_trc(work / "static.trc", names, static_positions, RATE_HZ)
        motion = _walking_like_motion(args.frames)
        names, positions = marker_positions(model, motion)
        markers = write_trc(work / "walk.trc", names, positions, RATE_HZ)
        subject = SubjectInfo("bench", 75.16, 1.75)
        grf = write_still_grf(work / "walk_grf.mot", args.frames / RATE_HZ + 0.1, RATE_HZ, subject.body_weight_n,
                              centre_of_mass_m(model, {}))
        config = PipelineConfig()
        scaled = scale_subject(subject, static, work / "scale", config)
        per_frame_ms: dict[str, list[float]] = {"ik": [], "id": [], "so": []}
        for repeat in range(args.repeats + 1):
            result = label_trial(subject, scaled.scaled_model_path, markers, grf, work / f"trial{repeat}", config,
                                 f"bench/{repeat}")
            if repeat == 0:
                continue  # warm-up
            for stage in per_frame_ms:
                per_frame_ms[stage].append(1000.0 * result.timings_s[stage] / result.n_frames)
    print(f"gait2392, {args.frames} frames at {RATE_HZ:g} Hz, {args.repeats} repetitions after a warm-up; "
          f"scaling once: {scaled.wall_time_s:.2f} s")
    print(f"{'stage':<6} {'median ms/frame':>16} {'min':>8} {'max':>8}")
    for stage, values in per_frame_ms.items():
        print(f"{stage:<6} {statistics.median(values):>16.2f} {min(values):>8.2f} {max(values):>8.2f}")
    total = sum(statistics.median(v) for v in per_frame_ms.values())
    print(f"{'total':<6} {total:>16.2f}   (≈ {total * RATE_HZ / 1000:.1f} s per second of walking at {RATE_HZ:g} Hz)")


if __name__ == "__main__":
    main()
