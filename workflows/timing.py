"""Wall time of the full OpenSim path against surrogate inference, on the same trials.

Simulation: every repetition re-runs IK, ID and SO on the trial, once with OpenSim's
StaticOptimization tool and once with gait2hip's batched SO (scaling is run once per subject
per repetition and amortised over that subject's trials). Surrogate: latency of one
gait cycle (batch 1) and throughput of a batch, after a warm-up, on CPU (and CUDA when
present). Medians and spreads over repetitions; nothing here asserts on time.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from gait2hip.pipeline.cohort import Cohort
from gait2hip.pipeline.config import SO_SOLVER_NAMES, PipelineConfig
from gait2hip.pipeline.scale import scale_subject
from gait2hip.pipeline.trial import label_trial

if TYPE_CHECKING:
    from gait2hip.surrogate.checkpoint import Checkpoint


@dataclass(frozen=True)
class SpreadSummary:
    """Median and spread (min, max) of repeated measurements, in the unit of the field name."""

    median: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: list[float]) -> "SpreadSummary":
        return cls(statistics.median(values), min(values), max(values))


def time_simulation(cohort: Cohort, trial_keys: list[str], config: PipelineConfig, repetitions: int,
                    progress: Callable[[str], None] | None = None,
                    solvers: tuple[str, ...] = ("opensim", "batched")) -> pd.DataFrame:
    """Re-run the OpenSim path on the given trials with each SO solver; one row per solver, trial and repetition.

    Columns: ``solver, subject, trial, repetition, n_frames, scale_amortised_s, ik_s, id_s, so_s,
    total_s``. ``so_s`` of the batched solver includes its cross-check against OpenSim's tool
    (``static_optimization.cross_check_frames`` of ``config``), as a labelling run spends it.
    Within a repetition the solvers run one after the other on each trial, so both paths see
    the same machine load. The work happens in a temporary folder that is removed afterwards.
    """
    rows = []
    wanted = set(trial_keys)
    configs = {solver: dataclasses.replace(config, static_optimization=dataclasses.replace(
        config.static_optimization, solver=solver)) for solver in solvers}
    with tempfile.TemporaryDirectory(prefix="gait2hip-timing-") as folder:
        work = Path(folder)
        for repetition in range(repetitions):
            for subject in cohort.subjects:
                trials = [t for t in subject.trials if t.key in wanted]
                if not trials:
                    continue
                scaled = scale_subject(subject.info, subject.static_trc_path, work / f"r{repetition}" / subject.info.subject_id / "scale", config)
                scale_share = scaled.wall_time_s / len(trials)
                for trial in trials:
                    for solver, solver_config in configs.items():
                        if progress:
                            progress(f"repetition {repetition + 1}/{repetitions}: {trial.key} ({SO_SOLVER_NAMES[solver]})")
                        result = label_trial(subject.info, scaled.scaled_model_path, trial.markers_path,
                                             trial.grf_path, work / f"r{repetition}" / solver / trial.key,
                                             solver_config, trial.key)
                        stage_times = {stage: result.timings_s.get(stage, 0.0) for stage in ("ik", "id", "so")}
                        stage_times["so"] += result.timings_s.get("so_cross_check", 0.0)
                        rows.append({"solver": solver, "subject": subject.info.subject_id, "trial": trial.trial_id,
                                     "repetition": repetition, "n_frames": result.n_frames,
                                     "scale_amortised_s": scale_share,
                                     **{f"{stage}_s": seconds for stage, seconds in stage_times.items()},
                                     "total_s": scale_share + sum(stage_times.values())})
    return pd.DataFrame(rows)


def time_inference(model: torch.nn.Module, n_inputs: int, *, sequence_length: int = 101, batch_size: int = 64,
                   repetitions: int = 20, warm_up: int = 3, device: str = "cpu") -> dict[str, SpreadSummary]:
    """Latency of one sequence (batch 1) and throughput of ``batch_size`` sequences.

    Returns ``{"latency_s": ..., "batch_s": ..., "throughput_sequences_per_s": ...}`` where the
    throughput summary is derived from the batch times (median of sequences/s).
    """
    model = model.to(device).eval()
    one = torch.zeros(1, sequence_length, n_inputs, device=device)
    batch = torch.zeros(batch_size, sequence_length, n_inputs, device=device)

    def measure(inputs: torch.Tensor) -> list[float]:
        with torch.inference_mode():
            for _ in range(warm_up):
                model(inputs)
            _synchronise(device)
            times = []
            for _ in range(repetitions):
                start = time.perf_counter()
                model(inputs)
                _synchronise(device)
                times.append(time.perf_counter() - start)
        return times

    latency = measure(one)
    batch_times = measure(batch)
    return {"latency_s": SpreadSummary.of(latency), "batch_s": SpreadSummary.of(batch_times),
            "throughput_sequences_per_s": SpreadSummary.of([batch_size / t for t in batch_times])}


def _synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_surrogate_on_trials(model: torch.nn.Module, checkpoint: Checkpoint, table: pd.DataFrame,
                             trial_keys: list[str], *, repetitions: int = 20, warm_up: int = 3) -> pd.DataFrame:
    """Surrogate wall time on the same trials: every gait cycle of the trial predicted in one call.

    ``model``/``checkpoint`` come from :func:`gait2hip.surrogate.checkpoint.load_checkpoint`.
    ``table`` is the label dataset (angles in degrees, ``stance_r``); the timed call is what
    ``gait2hip predict`` does after reading the file (cutting, standardising, the network,
    mapping back to frames). One row per trial: ``trial_key, n_frames, median_s, min_s, max_s``.
    """
    from gait2hip.surrogate.inference import predict_sequence
    from gait2hip.surrogate.segmentation import heel_strikes

    rows = []
    for key in trial_keys:
        subject, trial = key.split("/", 1)
        frames = table[(table["subject"] == subject) & (table["trial"] == trial)]
        angles = frames[list(checkpoint.input_names)].to_numpy(float)
        strikes = heel_strikes(frames["stance_r"].to_numpy())
        height_m = float(frames["height_m"].iloc[0]) if "height_m" in frames else None

        def run() -> None:
            predict_sequence(model, checkpoint, angles, strikes, height_m)

        for _ in range(warm_up):
            run()
        times = []
        for _ in range(repetitions):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        spread = SpreadSummary.of(times)
        rows.append({"trial_key": key, "n_frames": len(frames), "median_s": spread.median, "min_s": spread.minimum,
                     "max_s": spread.maximum})
    return pd.DataFrame(rows)
