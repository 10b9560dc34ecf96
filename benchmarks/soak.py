"""Fault-injection soak of the batch engine: injected faults fail alone, a killed batch resumes to the same labels.

Synthesises a cohort (or takes one), labels it once without interruption (the reference), then
labels a copy into which faults were injected in a seeded fraction of the trials, SIGKILLing the
`gait2hip label` process at random moments and resuming until it finishes. Prints:

- the faults injected, one per trial, and how each trial ended (stage and message);
- whether exactly the injected trials failed (besides those the reference fails at QC on the clean data);
- whether every other trial's ``labels.parquet`` is byte-identical to the reference (or, for a
  trial the reference fails at QC, whether the verdict is the same);
- tracebacks on the console (must be 0), processes left running after each kill (must be 0),
  files left half-written (``*.partial`` staging folders) and labels kept by failed trials;
- wall time (reference, soak including the lost work) and per-trial wall time and peak memory.

Faults (cycled in this order, one kind per faulted trial):

- ``truncated_markers``: the TRC cut mid-row at 40 % of its bytes;
- ``nan_time_grf``: a NaN in the GRF file's time column (once hung inverse dynamics);
- ``garbage_grf``: 64 random bytes (not UTF-8) written over the middle of the GRF file;
- ``marker_gap``: a required marker (R.ASIS) missing for 0.3 s mid-trial, longer than may be filled;
- ``wrong_units``: markers in mm with a TRC header saying m;
- ``missing_grf``: the GRF file deleted;
- ``bad_trial_yaml``: a cadence that is not a number in ``trial.yaml``;
- ``segfault``: the trial's task process sent SIGSEGV as soon as it starts (each time it starts);
- ``hang``: the trial's task process sent SIGSTOP (it hangs until the task time limit);
- ``unwritable_output``: the trial's output folder blocked by a file (as root, permissions
  cannot make a folder unwritable).

The batch runs the pipeline's default settings unless ``--config`` names a settings file;
``--timeout`` bounds each task (the hang fault costs one task slot that long). Writes
``summary.json`` in ``--work``. Never asserts; exits 1 when a check fails.

    .venv/bin/python benchmarks/soak.py --work runs/soak --trials 200 --fault-fraction 0.05 --kills 3 \\
        --config benchmarks/soak_pipeline.yaml --jobs 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from gait2hip.pipeline.fork_server import task_processes

FAULT_KINDS = ("truncated_markers", "nan_time_grf", "garbage_grf", "marker_gap", "wrong_units", "missing_grf",
               "bad_trial_yaml", "segfault", "hang", "unwritable_output")
PROCESS_FAULTS = {"segfault": signal.SIGSEGV, "hang": signal.SIGSTOP}
CADENCES_STEPS_PER_MIN = (90, 110, 130)
GAP_MARKER = "R.ASIS"
GAP_S = 0.3
GAIT2HIP = Path(sys.executable).with_name("gait2hip")


@dataclass
class Fault:
    """One injected fault: which trial (``subject/trial``) and what kind."""

    trial: str
    kind: str
    injections: int = 0  # times a process fault was delivered (once per start of the task)


@dataclass
class Attempt:
    """One start of the faulted batch: when it was killed (None: it ran to the end) and what it left."""

    killed_after_s: float | None
    exit_code: int | None
    wall_time_s: float
    processes_left_after_kill: int = 0


@dataclass
class SoakResult:
    trials: int
    faults: list[Fault]
    attempts: list[Attempt]
    failing_without_faults: list[str]  # failed (QC) in the uninterrupted run on the clean cohort too
    failed_as_injected: bool
    unexpected_failures: list[str]
    injected_but_not_failed: list[str]
    labels_identical: int
    labels_different: list[str]
    console_tracebacks: int
    partial_files_left: list[str]
    failed_trials_with_labels: list[str]
    reference_wall_time_s: float
    soak_wall_time_s: float
    per_trial_wall_time_s: dict[str, float] = field(default_factory=dict)
    per_trial_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    endings: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (self.failed_as_injected and not self.labels_different and self.console_tracebacks == 0
                and not self.partial_files_left and not self.failed_trials_with_labels
                and all(a.processes_left_after_kill == 0 for a in self.attempts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (cohorts, labels, logs, summary)")
    parser.add_argument("--cohort", type=Path, default=None, help="cohort to use (default: synthesise one)")
    parser.add_argument("--trials", type=int, default=200, help="trials to synthesise (rounded up to whole subjects)")
    parser.add_argument("--fault-fraction", type=float, default=0.05)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of the batch at random moments")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="per-task time limit (s)")
    parser.add_argument("--config", type=Path, default=None, help="pipeline settings YAML")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0 < args.fault_fraction < 1:
        parser.error(f"--fault-fraction must be between 0 and 1, got {args.fault_fraction}")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a SIGSEGV'd task must not leave a core file
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)

    cohort = args.cohort.resolve() if args.cohort else _synthesise(work / "cohort", args.trials, args.seed)
    trials = _trial_keys(cohort)
    faulty = work / "cohort_faulty"
    shutil.rmtree(faulty, ignore_errors=True)
    shutil.copytree(cohort, faulty)
    n_faults = math.ceil(args.fault_fraction * len(trials))  # at least the fraction asked for
    faults = [Fault(trial, FAULT_KINDS[i % len(FAULT_KINDS)]) for i, trial in enumerate(rng.sample(trials, n_faults))]
    soak_labels = work / "labels_soak"
    shutil.rmtree(soak_labels, ignore_errors=True)
    for fault in faults:
        _inject_file_fault(fault, faulty, soak_labels, rng)
    print(f"{len(trials)} trials, {len(faults)} faults injected:")
    for fault in faults:
        print(f"  {fault.trial:28s} {fault.kind}")

    label_args = ["--jobs", str(args.jobs), "--timeout", str(args.timeout), "--tolerate-failures", "--quiet"]
    if args.config:
        label_args += ["--config", str(args.config.resolve())]
    reference_labels = work / "labels_reference"
    reference_wall_s = _reference(cohort, reference_labels, label_args, work)
    if reference_wall_s is None:
        return 1

    attempts = _soak(faulty, soak_labels, label_args, work, faults, args.kills, reference_wall_s, rng)
    result = _judge(cohort, reference_labels, soak_labels, work, faults, attempts, reference_wall_s)
    _print(result)
    (work / "summary.json").write_text(json.dumps({"kind": "gait2hip.benchmark.soak", "passed": result.passed,
                                                   **asdict(result), "settings": vars(args) | {
                                                       "work": str(work), "cohort": str(cohort),
                                                       "config": str(args.config) if args.config else None}},
                                                  indent=2, default=str) + "\n")
    print(f"summary: {work / 'summary.json'}")
    return 0 if result.passed else 1


def _reference(cohort: Path, labels: Path, label_args: list[str], work: Path) -> float | None:
    """Label the clean cohort without interruption; return its wall time (s), None if the batch failed.

    A reference finished by an earlier run on the same cohort and settings (``reference.json``)
    is reused: the uninterrupted labels do not change, and they take as long as the soak itself.
    """
    record = work / "reference.json"
    settings = {"cohort": str(cohort), "label_args": label_args}
    if record.is_file() and (labels / "manifest.parquet").is_file():
        previous = json.loads(record.read_text())
        if previous["settings"] == settings:
            print(f"reference: reused from {labels} (labelled from scratch in {previous['wall_time_s']:.0f} s)")
            return previous["wall_time_s"]
    shutil.rmtree(labels, ignore_errors=True)
    record.unlink(missing_ok=True)
    print("reference: labelling the cohort without faults or interruptions ...", flush=True)
    start = time.perf_counter()
    code = _run_batch(cohort, labels, label_args, work / "reference.log", None)[0]
    wall_s = time.perf_counter() - start
    if code != 0:
        print(f"the reference batch exited {code}; see {work / 'reference.log'}")
        return None
    record.write_text(json.dumps({"settings": settings, "wall_time_s": wall_s}) + "\n")
    print(f"  {wall_s:.0f} s")
    return wall_s


def _synthesise(folder: Path, n_trials: int, seed: int) -> Path:
    trials_per_cadence = 3
    subjects = math.ceil(n_trials / (len(CADENCES_STEPS_PER_MIN) * trials_per_cadence))
    if (folder / "cohort.yaml").is_file():
        return folder
    print(f"synthesising {subjects} subjects x {len(CADENCES_STEPS_PER_MIN)} cadences x {trials_per_cadence} trials "
          f"(SYNTHETIC, virtual gait lab) ...", flush=True)
    subprocess.run([str(GAIT2HIP), "synth", "--out", str(folder), "--preset", "demo", "--group", "healthy",
                    "--subjects", str(subjects), "--cadences", ",".join(map(str, CADENCES_STEPS_PER_MIN)),
                    "--trials", str(trials_per_cadence), "--seed", str(seed)],
                   check=True, stdout=subprocess.DEVNULL)
    return folder


def _trial_keys(cohort: Path) -> list[str]:
    return sorted(f"{t.parent.parent.name}/{t.name}" for t in cohort.glob("*/trials/*") if t.is_dir())


def _inject_file_fault(fault: Fault, cohort: Path, labels: Path, rng: random.Random) -> None:
    subject, trial = fault.trial.split("/")
    folder = cohort / subject / "trials" / trial
    markers, grf = folder / "markers.trc", folder / "grf.mot"
    if fault.kind == "truncated_markers":
        data = markers.read_bytes()
        markers.write_bytes(data[: int(0.4 * len(data))])
    elif fault.kind == "nan_time_grf":
        lines = grf.read_text().splitlines(keepends=True)
        row = lines.index(next(line for line in lines if line.startswith("time"))) + len(lines) // 3
        lines[row] = "nan" + lines[row][lines[row].index("\t"):]
        grf.write_text("".join(lines))
    elif fault.kind == "garbage_grf":
        data = bytearray(grf.read_bytes())
        middle = len(data) // 2
        data[middle: middle + 64] = bytes(rng.randrange(128, 256) for _ in range(64))
        grf.write_bytes(bytes(data))
    elif fault.kind == "marker_gap":
        _blank_marker(markers, GAP_MARKER, GAP_S)
    elif fault.kind == "wrong_units":
        lines = markers.read_text().splitlines(keepends=True)
        values = lines[2].split("\t")
        values[4] = "m"
        lines[2] = "\t".join(values)
        markers.write_text("".join(lines))
    elif fault.kind == "missing_grf":
        grf.unlink()
    elif fault.kind == "bad_trial_yaml":
        text = (folder / "trial.yaml").read_text()
        (folder / "trial.yaml").write_text(
            "\n".join("cadence_steps_per_min: fast" if line.startswith("cadence_steps_per_min") else line
                      for line in text.splitlines()) + "\n")
    elif fault.kind == "unwritable_output":
        blocked = labels / subject / "trials" / trial
        blocked.parent.mkdir(parents=True, exist_ok=True)
        blocked.write_text("a file where the trial's output folder goes\n")


def _blank_marker(path: Path, marker: str, gap_s: float) -> None:
    """Empty ``marker``'s three cells over ``gap_s`` in the middle of a TRC file (a marker the cameras lost)."""
    lines = path.read_text().splitlines(keepends=True)
    column = 2 + 3 * [name for name in lines[3].rstrip("\n").split("\t")[2:] if name].index(marker)
    rate_hz = float(lines[2].split("\t")[0])
    data_start = next(i for i in range(5, len(lines)) if lines[i].strip())
    n_rows = len(lines) - data_start
    first = data_start + n_rows // 2
    for row in range(first, first + round(gap_s * rate_hz)):
        cells = lines[row].rstrip("\n").split("\t")
        cells[column: column + 3] = ["", "", ""]
        lines[row] = "\t".join(cells) + "\n"
    path.write_text("".join(lines))


class _ProcessFaults(threading.Thread):
    """Deliver each process fault to its trial's task process, every time that process starts."""

    def __init__(self, labels: Path, faults: list[Fault]) -> None:
        super().__init__(daemon=True)
        self.targets = {(labels / f.trial.split("/")[0] / "trials" / f.trial.split("/")[1] / "request.json").resolve(): f
                        for f in faults if f.kind in PROCESS_FAULTS}
        self.signalled: set[int] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            for pid, request_path in task_processes():
                fault = self.targets.get(request_path)
                if fault is not None and pid not in self.signalled:
                    self.signalled.add(pid)
                    try:
                        os.kill(pid, PROCESS_FAULTS[fault.kind])
                        fault.injections += 1
                    except ProcessLookupError:
                        pass


def _run_batch(cohort: Path, labels: Path, label_args: list[str], log: Path,
               kill_after_s: float | None) -> tuple[int | None, float | None]:
    """Run ``gait2hip label``; SIGKILL it after ``kill_after_s`` if it is still running then.

    Returns (exit code, None) when it finished, (None, seconds) when it was killed.
    """
    with log.open("a") as console:
        process = subprocess.Popen([str(GAIT2HIP), "label", str(cohort), "--out", str(labels), *label_args],
                                   stdout=console, stderr=subprocess.STDOUT)
        try:
            return process.wait(timeout=kill_after_s), None
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)  # the batch alone, as the out-of-memory killer would
            process.wait()
            return None, kill_after_s


def _soak(cohort: Path, labels: Path, label_args: list[str], work: Path, faults: list[Fault], kills: int,
          reference_wall_s: float, rng: random.Random) -> list[Attempt]:
    injector = _ProcessFaults(labels, faults)
    injector.start()
    attempts: list[Attempt] = []
    log = work / "soak.log"
    log.unlink(missing_ok=True)
    try:
        while True:
            landed = sum(a.killed_after_s is not None for a in attempts)
            # Each kill comes within the first quarter of a full run's time, so all of them land
            # before the resumed batches run out of work.
            kill_after_s = rng.uniform(0.05, 0.25) * reference_wall_s if landed < kills else None
            print(f"soak attempt {len(attempts) + 1}: " + (f"SIGKILL after {kill_after_s:.0f} s" if kill_after_s
                                                          else "run to the end"), flush=True)
            start = time.perf_counter()
            code, killed_after_s = _run_batch(cohort, labels, label_args, log, kill_after_s)
            attempt = Attempt(killed_after_s=killed_after_s, exit_code=code, wall_time_s=time.perf_counter() - start)
            if killed_after_s is not None:
                attempt.processes_left_after_kill = _processes_left(labels)
            attempts.append(attempt)
            if code is not None:
                return attempts
    finally:
        injector.stopping.set()
        injector.join()


def _processes_left(labels: Path, grace_s: float = 5.0) -> int:
    """Task processes of this batch still running ``grace_s`` after it was killed (then stopped here)."""
    deadline = time.monotonic() + grace_s
    while True:
        left = [pid for pid, request_path in task_processes() if request_path.is_relative_to(labels.resolve())]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return len(left)


def _judge(cohort: Path, reference: Path, soak: Path, work: Path, faults: list[Fault], attempts: list[Attempt],
           reference_wall_s: float) -> SoakResult:
    manifest = _keyed_manifest(soak)
    reference_manifest = _keyed_manifest(reference)
    failed = set(manifest.index[manifest["status"] == "failed"])
    injected = {f.trial for f in faults}
    # Trials the uninterrupted run failed by itself (QC verdicts on the clean data) must end the same way.
    failing_anyway = set(reference_manifest.index[reference_manifest["status"] == "failed"]) - injected
    endings = {key: _ending(manifest.loc[key]) for key in injected}
    identical, different = 0, []
    for key in sorted(set(manifest.index) - injected):
        if key in failing_anyway:
            same = _ending(manifest.loc[key]) == _ending(reference_manifest.loc[key])
        else:
            mine, theirs = (folder / _trial_folder(key) / "labels.parquet" for folder in (soak, reference))
            same = mine.is_file() and theirs.is_file() and mine.read_bytes() == theirs.read_bytes()
        identical += same
        if not same:
            different.append(key)
    failed_with_labels = sorted(key for key in failed if (soak / _trial_folder(key) / "labels.parquet").is_file())
    stage_columns = [c for c in reference_manifest.columns if c.startswith("wall_time_")]
    tracebacks = sum(log.read_text(errors="replace").count("Traceback") for log in work.glob("*.log"))
    return SoakResult(
        trials=len(manifest), faults=faults, attempts=attempts, failing_without_faults=sorted(failing_anyway),
        failed_as_injected=failed == injected | failing_anyway,
        unexpected_failures=sorted(failed - injected - failing_anyway), injected_but_not_failed=sorted(injected - failed),
        labels_identical=identical, labels_different=different, console_tracebacks=tracebacks,
        partial_files_left=sorted(str(p.relative_to(soak)) for p in soak.rglob("*.partial")),
        failed_trials_with_labels=failed_with_labels, reference_wall_time_s=reference_wall_s,
        soak_wall_time_s=sum(a.wall_time_s for a in attempts),
        per_trial_wall_time_s=_spread(reference_manifest[stage_columns].sum(axis=1)),
        per_trial_peak_rss_mb=_spread(reference_manifest["peak_rss_mb"]), endings=endings)


def _keyed_manifest(labels: Path) -> pd.DataFrame:
    manifest = pd.read_parquet(labels / "manifest.parquet")
    return manifest.set_index(manifest["subject"] + "/" + manifest["trial"])


def _trial_folder(key: str) -> Path:
    subject, trial = key.split("/")
    return Path(subject) / "trials" / trial


def _ending(row: pd.Series) -> str:
    return f"failed [{row['failed_stage']}] {row['error']}" if row["status"] == "failed" else str(row["status"])


def _spread(values: pd.Series) -> dict[str, float]:
    return {"median": float(values.median()), "p95": float(values.quantile(0.95)), "max": float(values.max())}


def _print(result: SoakResult) -> None:
    print("\nfault                trial                        ending")
    for fault in result.faults:
        print(f"  {fault.kind:18s} {fault.trial:28s} {result.endings.get(fault.trial, '?')[:110]}")
    kills = [a for a in result.attempts if a.killed_after_s is not None]
    print(f"\nbatch starts: {len(result.attempts)}, SIGKILLed {len(kills)} times (after "
          f"{', '.join(f'{a.killed_after_s:.0f}' for a in kills)} s); task processes left after a kill: "
          f"{sum(a.processes_left_after_kill for a in kills)}")
    print(f"trials: {result.trials}; failed exactly the injected ones (and the "
          f"{len(result.failing_without_faults)} the uninterrupted run failed at QC on the clean data): "
          f"{'yes' if result.failed_as_injected else 'NO'} (unexpected failures: {len(result.unexpected_failures)}, "
          f"injected but not failed: {len(result.injected_but_not_failed)})")
    print(f"trials without a fault ending as in the uninterrupted run (labels byte-identical, or the same QC "
          f"verdict): {result.labels_identical} of {result.labels_identical + len(result.labels_different)}")
    print(f"console tracebacks: {result.console_tracebacks}; half-written files left: "
          f"{len(result.partial_files_left)}; failed trials keeping labels: {len(result.failed_trials_with_labels)}")
    wall, memory = result.per_trial_wall_time_s, result.per_trial_peak_rss_mb
    print(f"wall time: reference {result.reference_wall_time_s:.0f} s, soak {result.soak_wall_time_s:.0f} s "
          f"(all starts, lost work included)")
    print(f"per trial (reference run): wall {wall['median']:.1f} s median, {wall['p95']:.1f} s p95, {wall['max']:.1f} s"
          f" max (stage sum); peak memory {memory['median']:.0f} MB median, {memory['max']:.0f} MB max")
    print("PASS" if result.passed else "FAIL")


if __name__ == "__main__":
    sys.exit(main())
