"""OpenSim's StaticOptimization against the batched solver on the same labelled trials (printed, never asserted).

Give a trial folder written by ``gait2hip label`` (it holds ``ik/ik_coordinates.mot``,
``external_loads.xml`` and ``so_actuators.xml``; the subject's model is ``../../scale/scaled_model.osim``)
or a labels folder holding many. Each solver runs once untimed on the first trial's opening frames
(warm-up), then on every trial ``--repeats`` times (OpenSim ``--opensim-repeats`` times: it is the
slow one); the medians per trial and per frame, the speed-up, and the worst difference of every
force column (batched − OpenSim, % of OpenSim's peak |force| of that column over the trial) are
printed: hip muscles one by one, the other columns summarised. Run it on an otherwise idle machine.

    .venv/bin/python benchmarks/bench_static_optimization.py LABELS_DIR_OR_TRIAL_DIR [--max-trials 3]
        [--max-frames 0] [--repeats 3] [--opensim-repeats 1] [--convergence 1e-4]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import opensim

from gait2hip.pipeline.batched_static_optimization import run_batched_static_optimization
from gait2hip.pipeline.config import StaticOptimizationConfig
from gait2hip.pipeline.hip_muscles import find_hip_muscles
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet
from gait2hip.pipeline.static_optimization import run_static_optimization
from gait2hip.core.opensim_files import read_opensim_table

WARM_UP_FRAMES = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", type=Path, help="a labelled trial folder or a labels folder")
    parser.add_argument("--max-trials", type=int, default=3)
    parser.add_argument("--max-frames", type=int, default=0, help="first N frames of each trial (0: all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the batched solver per trial")
    parser.add_argument("--opensim-repeats", type=int, default=1, help="timed runs of OpenSim's SO per trial")
    parser.add_argument("--convergence", type=float, default=None, help="OpenSim's convergence criterion")
    args = parser.parse_args()
    keep_opensim_console_quiet()
    trials = sorted(path.parent for path in args.labels.rglob("so_actuators.xml"))[:args.max_trials]
    if not trials:
        raise SystemExit(f"{args.labels}: no labelled trial (no so_actuators.xml below it)")
    with tempfile.TemporaryDirectory(prefix="gait2hip-bench-so-") as folder:
        work = Path(folder)
        first = _inputs(trials[0], args)
        warm_range = (first["time_range_s"][0], first["times_s"][min(WARM_UP_FRAMES, len(first["times_s"]) - 1)])
        for solver in (run_static_optimization, run_batched_static_optimization):
            solver(**{**first["kwargs"], "time_range_s": warm_range, "out_dir": work / "warm_up"})
        print(f"{'trial':<28} {'frames':>6} {'OpenSim s':>10} {'batched s':>10} {'speed-up':>9} "
              f"{'OpenSim ms/fr':>14} {'batched ms/fr':>14}")
        worst_by_column: dict[str, float] = {}
        hip_muscles: list[str] = []
        for index, trial in enumerate(trials):
            inputs = _inputs(trial, args)
            opensim_s, opensim_forces = _time(run_static_optimization, inputs, work / f"opensim_{index}",
                                              args.opensim_repeats)
            batched_s, batched_forces = _time(run_batched_static_optimization, inputs, work / f"batched_{index}",
                                              args.repeats)
            n_frames = len(batched_forces)
            print(f"{'/'.join(trial.parts[-3:]):<28} {n_frames:>6} {opensim_s:>10.2f} {batched_s:>10.3f} "
                  f"{opensim_s / batched_s:>8.1f}× {1e3 * opensim_s / n_frames:>14.1f} {1e3 * batched_s / n_frames:>14.2f}")
            hip_muscles = hip_muscles or inputs["hip_muscles"]
            for column in opensim_forces.columns[1:]:
                peak = float(np.abs(opensim_forces[column]).max())
                difference = float(np.abs(batched_forces[column] - opensim_forces[column]).max())
                worst_by_column[column] = max(worst_by_column.get(column, 0.0), 100.0 * difference / max(peak, 1e-9))
    _print_agreement(worst_by_column, hip_muscles)


def _inputs(trial: Path, args) -> dict:
    """The SO inputs ``gait2hip label`` used for ``trial`` (its settings from ``request.json``)."""
    coordinates = trial / "ik" / "ik_coordinates.mot"
    model_path = trial.parent.parent / "scale" / "scaled_model.osim"
    request = json.loads((trial / "request.json").read_text()) if (trial / "request.json").is_file() else {}
    settings = StaticOptimizationConfig(**request.get("config", {}).get("static_optimization", {}))
    if args.convergence is not None:
        settings = dataclasses.replace(settings, convergence_criterion=args.convergence)
    times_s = np.asarray(opensim.TimeSeriesTable(str(coordinates)).getIndependentColumn())
    if args.max_frames:
        times_s = times_s[:args.max_frames]
    model_config = ModelConfig.load(request.get("config", {}).get("model", "gait2392"))
    return {"times_s": times_s, "time_range_s": (float(times_s[0]), float(times_s[-1])),
            "hip_muscles": find_hip_muscles(opensim.Model(str(model_path)), model_config.hip_coordinates),
            "kwargs": {"model_path": model_path, "coordinates_path": coordinates,
                       "external_loads_path": trial / "external_loads.xml", "actuators_path": trial / "so_actuators.xml",
                       "settings": settings, "time_range_s": (float(times_s[0]), float(times_s[-1])),
                       "trial_id": "/".join(trial.parts[-3:])}}


def _time(solver, inputs: dict, out_dir: Path, repeats: int):
    """Median wall time (s) of ``repeats`` runs, and the forces of the last."""
    wall_s = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = solver(**inputs["kwargs"], out_dir=out_dir)
        wall_s.append(time.perf_counter() - start)
    spread = f" (min {min(wall_s):.3f}, max {max(wall_s):.3f})" if repeats > 1 else ""
    if spread:
        print(f"    {solver.__name__}: {repeats} runs{spread}")
    return statistics.median(wall_s), read_opensim_table(result.forces_path)


def _print_agreement(worst_by_column: dict[str, float], hip_muscles: list[str]) -> None:
    print("\nworst |batched − OpenSim| over the trials, % of OpenSim's peak of that column")
    for name in hip_muscles:
        print(f"  {name:<16} {worst_by_column[name]:8.4f} %")
    groups = {"hip muscles": hip_muscles,
              "other muscles": [c for c in worst_by_column if c not in hip_muscles and not c.startswith(
                  ("residual_", "reserve_")) and "_grf_" not in c],
              "residuals": [c for c in worst_by_column if c.startswith("residual_")],
              "reserves": [c for c in worst_by_column if c.startswith("reserve_")]}
    for label, columns in groups.items():
        if columns:
            values = np.array([worst_by_column[c] for c in columns])
            worst = columns[int(values.argmax())]
            print(f"  {label:<14} median {np.median(values):.4f} %, worst {values.max():.4f} % ({worst})")


if __name__ == "__main__":
    main()
