"""Stage 4: muscle forces with ``AnalyzeTool`` + ``StaticOptimization``.

Cost: sum of activations to the power ``activation_exponent`` (2 by default), with the
muscles' force-length-velocity properties on, subject to reproducing the ID generalized
forces with muscles plus the residual and reserve actuators of :mod:`pipeline.actuators`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import opensim

from pipeline.config import StaticOptimizationConfig
from pipeline.opensim_log import run_tool_from_setup

# StaticOptimization logs this for each frame where the optimizer found no solution.
SO_FAILURE_MESSAGE = "optimizer could not find a solution"


@dataclass(frozen=True)
class SOResult:
    """Outputs of :func:`run_static_optimization`.

    Attributes
    ----------
    forces_path
        ``.sto`` of every actuator's force: muscles (N), residuals (N or Nm), reserves (Nm).
    activations_path
        ``.sto`` of muscle activations (0–1) and actuator controls.
    n_failed_frames
        Frames where the optimizer reported no solution.
    """

    forces_path: Path
    activations_path: Path
    setup_path: Path
    n_failed_frames: int
    wall_time_s: float
    log_path: Path


def run_static_optimization(*, model_path: Path, coordinates_path: Path, external_loads_path: Path,
                            actuators_path: Path, out_dir: Path, settings: StaticOptimizationConfig,
                            time_range_s: tuple[float, float], trial_id: str,
                            log_dir: Path | None = None) -> SOResult:
    """Run SO through the AnalyzeTool; the setup XML it ran is kept in ``out_dir``."""
    start = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    forces_path = out_dir / "so_StaticOptimization_force.sto"
    activations_path = out_dir / "so_StaticOptimization_activation.sto"
    setup_path = out_dir / "setup_so.xml"
    for stale in (forces_path, activations_path):
        stale.unlink(missing_ok=True)

    tool = opensim.AnalyzeTool()
    tool.setName("so")
    tool.setModelFilename(str(Path(model_path).resolve()))
    tool.setCoordinatesFileName(str(Path(coordinates_path).resolve()))
    tool.setExternalLoadsFileName(str(Path(external_loads_path).resolve()))
    tool.setLowpassCutoffFrequency(settings.lowpass_cutoff_hz)
    force_set_files = opensim.ArrayStr()
    force_set_files.append(str(Path(actuators_path).resolve()))
    tool.setForceSetFiles(force_set_files)
    tool.setReplaceForceSet(False)
    tool.setResultsDir(str(out_dir))
    tool.setInitialTime(time_range_s[0])
    tool.setFinalTime(time_range_s[1])
    tool.setSolveForEquilibrium(False)

    analysis = opensim.StaticOptimization()
    analysis.setName("StaticOptimization")
    analysis.setStartTime(time_range_s[0])
    analysis.setEndTime(time_range_s[1])
    analysis.setUseModelForceSet(True)
    analysis.setActivationExponent(settings.activation_exponent)
    analysis.setUseMusclePhysiology(settings.use_muscle_physiology)
    analysis.setConvergenceCriterion(settings.convergence_criterion)
    analysis.setMaxIterations(settings.max_iterations)
    analysis.setStepInterval(1)
    tool.getAnalysisSet().cloneAndAppend(analysis)
    tool.printToXML(str(setup_path))

    log_path = run_tool_from_setup(lambda setup: opensim.AnalyzeTool(setup, True), setup_path, forces_path,
                                   trial_id=trial_id, stage="so", log_dir=log_dir or out_dir / "logs")
    with open(log_path, errors="replace") as log:
        n_failed = sum(SO_FAILURE_MESSAGE in line.lower() for line in log)
    return SOResult(forces_path, activations_path, setup_path, n_failed, time.perf_counter() - start, log_path)
