"""Peak memory of one trial's labelling against the trial's length, per SO solver (printed, never asserted).

Issue #20 asks that a trial's memory not grow with its length beyond the trial's own arrays. This
synthesises one healthy subject walking at 110 steps/min for about 10, 30 and 60 s
(``workflows/presets/demo.yaml`` with one subject and ``n_cycles`` set for the length; or takes
cohort folders given with ``--cohort``), labels each with ``gait2hip label COHORT --jobs 1`` once
per SO solver (``static_optimization.solver: opensim`` and ``batched``), and prints per trial:

* frames: marker frames of the trial;
* peak RSS (MB) of the trial's task process, two ways: ``peak_rss_mb`` from the manifest
  (``ru_maxrss`` of the worker, the figure ``gait2hip label`` records) and the peak of
  ``VmRSS`` sampled from ``/proc/<pid>/status`` every ``--interval`` s (0.2);
* the sampled peak per stage: samples are attributed by wall clock to the stage whose last output
  was written next (the newest file in ``ik/``, ``id/``, ``so/``, ``so/cross_check/``, then
  ``labels.parquet``); ``start`` is the process start (imports, inputs) up to IK's start (its end
  less its wall time in ``summary.json``), ``end`` what follows the labels (summary, result);
* the ratio of each figure at the longest trial to the shortest.

The scaling task (a separate process, same for every length) is left out. Samples miss peaks
shorter than the interval; ``peak_rss_mb`` does not.

    .venv/bin/python benchmarks/memory_long_trial.py --work /tmp/memory/bench [--seconds 10 30 60]
        [--solvers opensim batched] [--interval 0.2] [--cohort DIR ...] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from gait2hip.pipeline.fork_server import task_processes

REPOSITORY = Path(__file__).resolve().parents[1]
PRESET = REPOSITORY / "workflows" / "presets" / "demo.yaml"
CADENCE_STEPS_PER_MIN = 110.0
# Stage outputs inside a trial folder, in the order the trial writes them.
# A stage ends with the last file it writes: OpenSim's SO tool prints its ControlSet XML after the
# .sto files, the batched solver its log and setup JSON.
STAGE_OUTPUTS = (("ik", "ik/*.mot"), ("id", "id/*.sto"), ("so", "so/*"), ("so_cross_check", "so/cross_check/*"),
                 ("labels", "labels.parquet"))


@dataclass
class ProcessTrace:
    """``VmRSS`` samples of one worker process: wall-clock times (s, epoch) and RSS (MB)."""

    request: str
    times_s: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)


def write_preset(path: Path, seconds: float) -> Path:
    """A demo preset with one healthy subject at 110 steps/min walking ``seconds`` long (2 steps a cycle)."""
    preset = yaml.safe_load(PRESET.read_text())
    preset["name"] = f"long{seconds:g}s"
    preset["description"] = f"One synthetic healthy subject walking about {seconds:g} s (memory benchmark)."
    preset["groups"] = [{"group": "healthy", "subjects": 1, "cadences_steps_per_min": [CADENCE_STEPS_PER_MIN],
                         "trials_per_cadence": 1}]
    preset["recording"]["n_cycles"] = round(seconds / (2 * 60.0 / CADENCE_STEPS_PER_MIN), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(preset, sort_keys=False))
    return path


def gait2hip_command() -> list[str]:
    return [str(Path(sys.executable).with_name("gait2hip"))]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from ``/proc/*/stat``)."""
    parent_of = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent_of[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parent_of.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def _worker_rss(pid: int, tasks: dict[int, Path]) -> tuple[str, float] | None:
    """``(request path, VmRSS MB)`` when ``pid`` is a task process (one of ``tasks``), else None."""
    if pid not in tasks:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return str(tasks[pid]), int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def label_and_sample(cohort: Path, out_dir: Path, config: Path, interval_s: float) -> dict[int, ProcessTrace]:
    """Run ``gait2hip label`` on ``cohort`` and sample every task worker's RSS; returns the traces by pid."""
    command = [*gait2hip_command(), "label", str(cohort), "--out", str(out_dir), "--jobs", "1", "--quiet",
               "--config", str(config), "--tolerate-failures"]
    traces: dict[int, ProcessTrace] = {}
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
        while process.poll() is None:
            now = time.time()
            tasks = dict(task_processes())
            for pid in _children(process.pid):
                sample = _worker_rss(pid, tasks)
                if sample is not None:
                    trace = traces.setdefault(pid, ProcessTrace(sample[0]))
                    trace.times_s.append(now)
                    trace.rss_mb.append(sample[1])
            time.sleep(interval_s)
        stderr = process.stderr.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}: {stderr[-2000:]}")
    return traces


def stage_peaks(trace: ProcessTrace, trial_dir: Path) -> dict[str, float]:
    """Peak sampled RSS (MB) per stage, stages bounded by their outputs' write times (see the module doc)."""
    summary = json.loads((trial_dir / "summary.json").read_text())
    wall_s = summary.get("wall_time_s", {})
    bounds = []
    for stage, pattern in STAGE_OUTPUTS:
        outputs = sorted((path for path in trial_dir.glob(pattern) if path.is_file()),
                         key=lambda path: path.stat().st_mtime)
        if outputs:
            bounds.append((stage, outputs[-1].stat().st_mtime))
    peaks: dict[str, float] = {}
    ik_start = bounds[0][1] - wall_s.get("ik", 0.0) if bounds else float("inf")
    for t, rss in zip(trace.times_s, trace.rss_mb):
        stage = "start" if t < ik_start else next((name for name, end in bounds if t <= end), "end")
        peaks[stage] = max(peaks.get(stage, 0.0), rss)
    return peaks


def measure(cohort: Path, solver: str, work: Path, interval_s: float) -> dict:
    """Label ``cohort`` (one trial) with ``solver``; frames, peak RSS and per-stage peaks of the trial task."""
    config = work / f"config_{solver}.yaml"
    config.write_text(f"static_optimization:\n  solver: {solver}\n")
    out_dir = Path(tempfile.mkdtemp(prefix=f"{cohort.name}_{solver}_", dir=work))
    traces = label_and_sample(cohort, out_dir, config, interval_s)
    manifest = pd.read_csv(out_dir / "manifest.csv")
    if len(manifest) != 1:
        raise RuntimeError(f"{cohort}: expected one trial, the manifest has {len(manifest)}")
    row = manifest.iloc[0]
    trial_dirs = [path.parent for path in out_dir.glob("*/trials/*/summary.json")]
    trial_dir = trial_dirs[0]
    trial_traces = [trace for trace in traces.values() if Path(trace.request).parent.resolve() == trial_dir.resolve()
                    or trial_dir.name in trace.request]
    trace = max(trial_traces, key=lambda trace: len(trace.rss_mb)) if trial_traces else ProcessTrace("")
    summary = json.loads((trial_dir / "summary.json").read_text())
    return {"cohort": str(cohort), "solver": solver, "status": str(row["status"]),
            "frames": int(row["n_frames"]) if "n_frames" in row and pd.notna(row["n_frames"]) else None,
            "peak_rss_mb": float(row["peak_rss_mb"]),
            "sampled_peak_rss_mb": max(trace.rss_mb, default=float("nan")),
            "stage_peak_rss_mb": stage_peaks(trace, trial_dir) if trace.rss_mb else {},
            "wall_time_s": summary.get("wall_time_s", {}), "so_solver_used": summary.get("so_solver"),
            "out_dir": str(out_dir),
            "trace": {"times_s": [t - trace.times_s[0] for t in trace.times_s] if trace.times_s else [],
                      "start_epoch_s": trace.times_s[0] if trace.times_s else None, "rss_mb": trace.rss_mb}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the cohorts and the labelling runs")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 30.0, 60.0])
    parser.add_argument("--cohort", type=Path, nargs="*", default=[], help="one-trial cohorts to use instead")
    parser.add_argument("--solvers", nargs="+", default=["opensim", "batched"], choices=["opensim", "batched"])
    parser.add_argument("--interval", type=float, default=0.2, help="RSS sampling interval (s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    cohorts = list(args.cohort)
    if not cohorts:
        for seconds in args.seconds:
            cohort = args.work / f"cohort_{seconds:g}s"
            if not (cohort / "cohort.yaml").is_file():
                preset = write_preset(args.work / f"long_{seconds:g}s.yaml", seconds)
                subprocess.run([*gait2hip_command(), "synth", "--preset", str(preset), "--out", str(cohort)],
                               check=True, stdout=subprocess.DEVNULL)
            cohorts.append(cohort)

    print(f"load average before: {os.getloadavg()}")
    results = []
    for solver in args.solvers:
        for cohort in cohorts:
            result = measure(cohort, solver, args.work, args.interval)
            results.append(result)
            stages = ", ".join(f"{stage} {peak:.0f}" for stage, peak in result["stage_peak_rss_mb"].items())
            so_s = result["wall_time_s"].get("so", float("nan"))
            print(f"{solver:8s} {cohort.name:14s} frames {result['frames']}  status {result['status']}  "
                  f"peak_rss_mb {result['peak_rss_mb']:.0f}  sampled {result['sampled_peak_rss_mb']:.0f}  "
                  f"SO {so_s:.1f} s  per stage (MB): {stages}", flush=True)
        rows = [result for result in results if result["solver"] == solver]
        if len(rows) > 1:
            shortest, longest = min(rows, key=lambda r: r["frames"] or 0), max(rows, key=lambda r: r["frames"] or 0)
            print(f"{solver:8s} ratio {longest['frames']} / {shortest['frames']} frames: "
                  f"peak_rss_mb x{longest['peak_rss_mb'] / shortest['peak_rss_mb']:.2f}, sampled "
                  f"x{longest['sampled_peak_rss_mb'] / shortest['sampled_peak_rss_mb']:.2f}")
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
