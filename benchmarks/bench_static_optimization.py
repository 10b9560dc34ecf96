"""OpenSim's StaticOptimization against the batched solver on the same labelled trials (printed, never asserted).

Give a trial folder written by ``gait2hip label`` (it holds ``ik/ik_coordinates.mot``,
the external loads SO read (``external_loads_6hz.xml``) and ``so_actuators.xml``; the subject's model is ``../../scale/scaled_model.osim``)
or a labels folder holding many. Both solvers run as the pipeline runs them
(``run_static_optimization`` and ``run_batched_static_optimization``, in this process).

What is measured, and how:

* Warm-up: each solver runs once, untimed, on the first trial's opening frames.
* Per trial: OpenSim ``--opensim-repeats`` times, the batched solver ``--repeats`` times, both on
  every trial in one run; the median wall time (``time.perf_counter``) and CPU time of this
  process (``time.process_time``, less sensitive to other load on a shared machine) are printed
  with the spread (min–max) of the wall times.
* Per frame: the whole-trial time over its frames, and the marginal cost of a frame, from the
  whole trial against its first ``--short-frames`` frames run the same way (the slope removes the
  fixed cost: model loading, kinematics processing, the external loads' set-up).
* The pipeline's batched SO stage also re-solves ``cross_check_frames`` (3) frames with OpenSim's
  tool (``cross_check_with_opensim``); that check is timed too, and the stage's speed-up is given
  with and without it.
* Agreement: the worst |batched − OpenSim| of every force column, % of OpenSim's peak |force| of
  that column over the trial, against OpenSim at the trial's own convergence criterion and,
  unless ``--tight-convergence 0``, against OpenSim run to a tight one (the converged answer); each
  over every frame and over the frames both solvers solved (a frame a solver reports unsolved
  holds its last iterate, so its difference measures the failure, not the agreement).
* The load average (``os.getloadavg``) before and after.

    .venv/bin/python benchmarks/bench_static_optimization.py LABELS_DIR_OR_TRIAL_DIR [--max-trials 3]
        [--max-frames 0] [--short-frames 20] [--repeats 5] [--opensim-repeats 1] [--convergence 1e-4]
        [--tight-convergence 1e-8] [--json results.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import opensim

from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.opensim_files import read_opensim_table
from gait2hip.pipeline.batched_static_optimization import run_batched_static_optimization
from gait2hip.pipeline.config import StaticOptimizationConfig
from gait2hip.pipeline.hip_muscles import find_hip_muscles
from gait2hip.pipeline.model_config import ModelConfig
from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet
from gait2hip.pipeline.so_cross_check import cross_check_with_opensim
from gait2hip.pipeline.static_optimization import SO_FAILURE_MESSAGE, run_static_optimization

WARM_UP_FRAMES = 5
SOLVERS = {"opensim": run_static_optimization, "batched": run_batched_static_optimization}


@dataclasses.dataclass(frozen=True)
class Timing:
    """Repeated runs of one solver on one frame range: wall and CPU seconds of each run."""

    wall_s: tuple[float, ...]
    cpu_s: tuple[float, ...]

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_s)

    def spread(self) -> str:
        return f"{min(self.wall_s):.3f}–{max(self.wall_s):.3f}" if len(self.wall_s) > 1 else "1 run"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", type=Path, help="a labelled trial folder or a labels folder")
    parser.add_argument("--max-trials", type=int, default=3)
    parser.add_argument("--max-frames", type=int, default=0, help="first N frames of each trial (0: all)")
    parser.add_argument("--short-frames", type=int, default=20,
                        help="frames of the short run the marginal per-frame cost is measured against (0: none)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of the batched solver per trial")
    parser.add_argument("--opensim-repeats", type=int, default=1, help="timed runs of OpenSim's SO per trial")
    parser.add_argument("--convergence", type=float, default=None,
                        help="OpenSim's convergence criterion (default: the trial's own setting)")
    parser.add_argument("--tight-convergence", type=float, default=1e-8,
                        help="also compare against OpenSim at this criterion (0: skip)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args()
    keep_opensim_console_quiet()
    trials = sorted(path.parent for path in args.labels.rglob("so_actuators.xml"))[:args.max_trials]
    if not trials:
        raise SystemExit(f"{args.labels}: no labelled trial (no so_actuators.xml below it)")
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    records = []
    worst = {"default": {}, "tight": {}, "default_solved": {}, "tight_solved": {}}
    hip_muscles: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gait2hip-bench-so-") as folder:
        work = Path(folder)
        first = _inputs(trials[0], args)
        warm_range = (first["times_s"][0], first["times_s"][min(WARM_UP_FRAMES, len(first["times_s"]) - 1)])
        for solver in SOLVERS.values():
            solver(**{**first["kwargs"], "time_range_s": warm_range, "out_dir": work / "warm_up"})
        for index, trial in enumerate(trials):
            inputs = _inputs(trial, args)
            n_frames = len(inputs["times_s"])
            record = {"trial": "/".join(trial.parts[-3:]), "frames": n_frames}
            forces, results = {}, {}
            for name, solver in SOLVERS.items():
                repeats = args.opensim_repeats if name == "opensim" else args.repeats
                timing, forces[name], result = _time(solver, inputs["kwargs"], work / f"{name}_{index}", repeats)
                results[name] = result
                record[name] = {"wall_s": timing.wall_s, "cpu_s": timing.cpu_s,
                                "failed_frame_times_s": sorted(_failed_times(result.log_path))}
                short = min(args.short_frames, n_frames - 1)
                if short > 1:
                    window = (inputs["times_s"][0], inputs["times_s"][short - 1])
                    short_timing, _, _ = _time(solver, {**inputs["kwargs"], "time_range_s": window},
                                            work / f"{name}_{index}_short", repeats)
                    record[name]["short_frames"] = short
                    record[name]["short_wall_s"] = short_timing.wall_s
                    record[name]["short_cpu_s"] = short_timing.cpu_s
                    extra_frames = n_frames - short
                    record[name]["marginal_wall_ms_per_frame"] = 1e3 * (timing.wall - short_timing.wall) / extra_frames
                    record[name]["marginal_cpu_ms_per_frame"] = 1e3 * (timing.cpu - short_timing.cpu) / extra_frames
                record[name]["timing"] = timing
                if name == "batched" and inputs["kwargs"]["settings"].cross_check_frames > 0:
                    record["cross_check_frames"] = inputs["kwargs"]["settings"].cross_check_frames
                    record["cross_check"] = _time_cross_check(inputs, result, work / f"batched_{index}",
                                                              args.opensim_repeats)
            if args.tight_convergence:
                tight_settings = dataclasses.replace(inputs["kwargs"]["settings"],
                                                     convergence_criterion=args.tight_convergence)
                _, forces["tight"], results["tight"] = _time(run_static_optimization,
                                                             {**inputs["kwargs"], "settings": tight_settings},
                                                             work / f"tight_{index}", 1)
                record["tight_failed_frame_times_s"] = sorted(_failed_times(results["tight"].log_path))
            hip_muscles = hip_muscles or inputs["hip_muscles"]
            for reference, key in (("opensim", "default"), ("tight", "tight")):
                if reference in forces:
                    # Also over the frames both solved: where one reports no solution its last
                    # iterate is written, and the difference measures that failure, not agreement.
                    unsolved = _failed_times(results[reference].log_path) | _failed_times(results["batched"].log_path)
                    for suffix, skip in (("", set()), ("_solved", unsolved)):
                        for column, value in _worst_pct_of_peak(forces["batched"], forces[reference], skip).items():
                            worst[key + suffix][column] = max(worst[key + suffix].get(column, 0.0), value)
            records.append(record)
            _print_trial(record)
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    _print_summary(records)
    for key, label in (("default", "OpenSim at the trial's convergence criterion"),
                       ("default_solved", "OpenSim at the trial's criterion, frames both solved"),
                       ("tight", f"OpenSim at {args.tight_convergence:g}"),
                       ("tight_solved", f"OpenSim at {args.tight_convergence:g}, frames both solved")):
        if worst[key]:
            _print_agreement(worst[key], hip_muscles, label)
    if args.json:
        for record in records:
            for name in SOLVERS:
                del record[name]["timing"]
        write_json_atomically(args.json, {"load_average_before": load_before, "load_average_after": load_after,
                                          "trials": records, "worst_pct_of_peak": worst, "hip_muscles": hip_muscles})


def _inputs(trial: Path, args) -> dict:
    """The SO inputs ``gait2hip label`` used for ``trial`` (its settings from ``request.json``)."""
    coordinates = trial / "ik" / "ik_coordinates.mot"
    model_path = trial.parent.parent / "scale" / "scaled_model.osim"
    request = json.loads((trial / "request.json").read_text()) if (trial / "request.json").is_file() else {}
    so_settings = {key: value for key, value in request.get("config", {}).get("static_optimization", {}).items()
                   if key in {field.name for field in dataclasses.fields(StaticOptimizationConfig)}}
    settings = StaticOptimizationConfig(**so_settings)
    if args.convergence is not None:
        settings = dataclasses.replace(settings, convergence_criterion=args.convergence)
    times_s = np.asarray(opensim.TimeSeriesTable(str(coordinates)).getIndependentColumn())
    if args.max_frames:
        times_s = times_s[:args.max_frames]
    model_config = ModelConfig.load(request.get("config", {}).get("model", "gait2392"))
    model = opensim.Model(str(model_path))
    muscles = model.getMuscles()
    return {"times_s": times_s, "muscles": [muscles.get(i).getName() for i in range(muscles.getSize())],
            "hip_muscles": find_hip_muscles(opensim.Model(str(model_path)), model_config.hip_coordinates),
            "kwargs": {"model_path": model_path, "coordinates_path": coordinates,
                       "external_loads_path": _so_external_loads(trial),
                       "actuators_path": trial / "so_actuators.xml",
                       "settings": settings, "time_range_s": (float(times_s[0]), float(times_s[-1])),
                       "trial_id": "/".join(trial.parts[-3:])}}


def _so_external_loads(trial: Path) -> Path:
    """The external loads the trial's SO read: filtered at the tools' cut-off (``external_loads_<f>hz.xml``) by default."""
    filtered = sorted(trial.glob("external_loads_*hz.xml"))
    return filtered[0] if filtered else trial / "external_loads.xml"


def _time(solver, kwargs: dict, out_dir: Path, repeats: int):
    """Wall and CPU time of ``repeats`` runs of ``solver``, the forces of the last run and its result."""
    wall_s, cpu_s = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = solver(**kwargs, out_dir=out_dir)
        cpu_s.append(time.process_time() - cpu_start)
        wall_s.append(time.perf_counter() - wall_start)
    return Timing(tuple(wall_s), tuple(cpu_s)), read_opensim_table(result.forces_path), result


def _time_cross_check(inputs: dict, batched, batched_dir: Path, repeats: int) -> dict:
    """Wall and CPU seconds of the pipeline's cross-check of the batched result ``batched``."""
    kwargs = inputs["kwargs"]
    wall_s, cpu_s = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        cross_check_with_opensim(batched, muscle_names=inputs["muscles"],
                                 n_frames=kwargs["settings"].cross_check_frames,
                                 settings=kwargs["settings"], model_path=kwargs["model_path"],
                                 coordinates_path=kwargs["coordinates_path"],
                                 external_loads_path=kwargs["external_loads_path"],
                                 actuators_path=kwargs["actuators_path"], trial_id=kwargs["trial_id"],
                                 out_dir=batched_dir / "cross_check", log_dir=batched_dir / "cross_check" / "logs")
        cpu_s.append(time.process_time() - cpu_start)
        wall_s.append(time.perf_counter() - wall_start)
    return {"wall_s": tuple(wall_s), "cpu_s": tuple(cpu_s)}


def _failed_times(log_path: Path) -> set[float]:
    """Times (s) of the frames a solver's SO log reports unsolved (both solvers use OpenSim's wording)."""
    pattern = re.compile(re.escape(SO_FAILURE_MESSAGE) + r" at time = ([-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)")
    return {round(float(match.group(1)), 6) for match in pattern.finditer(Path(log_path).read_text(errors="replace"))}


def _worst_pct_of_peak(ours, theirs, skip_times_s: set[float] = frozenset()) -> dict[str, float]:
    """Worst |ours − theirs| of every column over the frames not in ``skip_times_s``, % of ``theirs``' peak."""
    times_s = theirs["time"].to_numpy()
    if not np.array_equal(ours["time"].to_numpy(), times_s):
        raise SystemExit("the two solvers' force files have different times")
    rows = ~np.isin(np.round(times_s, 6), list(skip_times_s))
    return {column: 100.0 * float(np.abs(ours[column].to_numpy()[rows] - theirs[column].to_numpy()[rows]).max())
            / max(float(np.abs(theirs[column]).max()), 1e-9) for column in theirs.columns[1:]}


def _print_trial(record: dict) -> None:
    n_frames = record["frames"]
    ours, theirs = record["batched"]["timing"], record["opensim"]["timing"]
    unsolved = {name: len(record[name]["failed_frame_times_s"]) for name in SOLVERS}
    if "tight_failed_frame_times_s" in record:
        unsolved["opensim tight"] = len(record["tight_failed_frame_times_s"])
    print(f"\n{record['trial']}: {n_frames} frames; frames reported unsolved: "
          + ", ".join(f"{name} {count}" for name, count in unsolved.items()))
    print(f"  {'':<8} {'wall s (median, min–max)':>30} {'CPU s':>8} {'wall ms/fr':>11} {'CPU ms/fr':>10} "
          f"{'marginal wall ms/fr':>20} {'marginal CPU ms/fr':>19}")
    for name, timing in (("opensim", theirs), ("batched", ours)):
        marginal = record[name]
        print(f"  {name:<8} {timing.wall:>10.3f} ({timing.spread():>17}) {timing.cpu:>8.3f} "
              f"{1e3 * timing.wall / n_frames:>11.2f} {1e3 * timing.cpu / n_frames:>10.2f} "
              f"{marginal.get('marginal_wall_ms_per_frame', float('nan')):>20.2f} "
              f"{marginal.get('marginal_cpu_ms_per_frame', float('nan')):>19.2f}")
    if "cross_check" in record:
        check_wall, check_cpu = (statistics.median(record["cross_check"][key]) for key in ("wall_s", "cpu_s"))
        print(f"  {'+ check':<8} {check_wall:>10.3f} {'':>19} {check_cpu:>8.3f}   (OpenSim's tool on "
              f"{record['cross_check_frames']} frames, the pipeline's cross-check of a batched trial)")
        print(f"  speed-up of the pipeline's batched SO stage with its cross-check: wall "
              f"{theirs.wall / (ours.wall + check_wall):.1f}×, CPU {theirs.cpu / (ours.cpu + check_cpu):.1f}×")
    line = f"  speed-up per trial: wall {theirs.wall / ours.wall:.1f}×, CPU {theirs.cpu / ours.cpu:.1f}×"
    if "marginal_wall_ms_per_frame" in record["batched"]:
        line += (f"; per frame (marginal): wall {_ratio(record, 'marginal_wall_ms_per_frame'):.1f}×, "
                 f"CPU {_ratio(record, 'marginal_cpu_ms_per_frame'):.1f}×")
    print(line)


def _ratio(record: dict, key: str) -> float:
    return record["opensim"][key] / record["batched"][key]


def _print_summary(records: list[dict]) -> None:
    per_trial_wall = [r["opensim"]["timing"].wall / r["batched"]["timing"].wall for r in records]
    per_trial_cpu = [r["opensim"]["timing"].cpu / r["batched"]["timing"].cpu for r in records]
    print(f"\nper-trial speed-up over {len(records)} trial(s): "
          f"wall {min(per_trial_wall):.1f}–{max(per_trial_wall):.1f}×,"
          f" CPU {min(per_trial_cpu):.1f}–{max(per_trial_cpu):.1f}×")
    if all("marginal_wall_ms_per_frame" in r["batched"] for r in records):
        wall = [_ratio(r, "marginal_wall_ms_per_frame") for r in records]
        cpu = [_ratio(r, "marginal_cpu_ms_per_frame") for r in records]
        print(f"per-frame (marginal) speed-up: wall {min(wall):.1f}–{max(wall):.1f}×, "
              f"CPU {min(cpu):.1f}–{max(cpu):.1f}×")


def _print_agreement(worst_by_column: dict[str, float], hip_muscles: list[str], label: str) -> None:
    print(f"\nworst |batched − {label}| over the trials, % of that column's peak")
    for name in hip_muscles:
        print(f"  {name:<16} {worst_by_column[name]:8.4f} %")
    groups = {"hip muscles": hip_muscles,
              "other muscles": [c for c in worst_by_column if c not in hip_muscles and not c.startswith(
                  ("residual_", "reserve_")) and "_grf_" not in c and not c.startswith("grf_")],
              "residuals": [c for c in worst_by_column if c.startswith("residual_")],
              "reserves": [c for c in worst_by_column if c.startswith("reserve_")]}
    for group, columns in groups.items():
        if columns:
            values = np.array([worst_by_column[c] for c in columns])
            print(f"  {group:<14} median {np.median(values):.4f} %, worst {values.max():.4f} % "
                  f"({columns[int(values.argmax())]})")


if __name__ == "__main__":
    main()
