"""Stage 4: muscle forces with ``AnalyzeTool`` + ``StaticOptimization``.

Cost: sum of activations to the power ``activation_exponent`` (2 by default), with the
muscles' force-length-velocity properties on, subject to reproducing the ID generalized
forces with muscles plus the residual and reserve actuators of :mod:`gait2hip.pipeline.actuators`.

Before its first optimisation OpenSim equilibrates every muscle once, at the first frame. At an
extreme opening pose or speed that Newton solve can fail ("Unable to compute equilibrium for
this muscle") though every later frame would solve; the tool then stops before solving any
frame (tests/pipeline/test_static_optimization_start.py builds such a start). SO is then run again from the next frame, up to
``MAX_START_RETRIES`` times, and the labels start where it started.

The tool's own ``printResults`` ends by turning the activations into a ``ControlSet`` and printing
it as ``so_StaticOptimization_controls.xml`` (an input for a forward simulation, which nothing
here reads): an XML node per actuator per frame, built in memory, that about doubles the
process's memory on a long trial (+1 GB at 6,000 frames). The tool runs with its result files
off and the two ``.sto`` files are printed afterwards by the same call ``printResults`` makes
(``Storage.printResult``), so they are byte for byte the tool's own and the ``ControlSet`` is
never built. The setup XML is left as printed, so run by hand it writes all three files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import opensim

from gait2hip.pipeline.config import StaticOptimizationConfig
from gait2hip.core.errors import OpenSimToolError
from gait2hip.pipeline.opensim_log import run_tool_from_setup

# StaticOptimization logs this for each frame where the optimizer found no solution.
SO_FAILURE_MESSAGE = "optimizer could not find a solution"
# ... and this (at log level Info) for each frame it solved.
SO_FRAME_SOLVED_MESSAGE = "Performance ="
# Later first frames to try when SO stops before solving any frame (a module constant, not a
# setting: it changes no label of a trial that starts, so it stays out of the config hash).
MAX_START_RETRIES = 3
_log = logging.getLogger(__name__)


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
    start_time_s
        Time (s) of the first frame SO solved: the requested start, or a later frame when
        OpenSim could not equilibrate the muscles at the earlier ones.
    skipped_start_frames
        How many opening frames were given up for that (0 normally).
    start_failure
        OpenSim's error at the requested start when frames were skipped, else empty.
    """

    forces_path: Path
    activations_path: Path
    setup_path: Path
    n_failed_frames: int
    wall_time_s: float
    log_path: Path
    start_time_s: float
    skipped_start_frames: int = 0
    start_failure: str = ""


def run_static_optimization(*, model_path: Path, coordinates_path: Path, external_loads_path: Path,
                            actuators_path: Path, out_dir: Path, settings: StaticOptimizationConfig,
                            time_range_s: tuple[float, float], trial_id: str,
                            log_dir: Path | None = None, later_start_times_s: Sequence[float] = ()) -> SOResult:
    """Run SO through the AnalyzeTool; the setup XML it ran is kept in ``out_dir``.

    ``later_start_times_s`` are the frame times (s) after ``time_range_s[0]`` to start from, in
    turn, when the tool stops before solving any frame (the muscles' initial equilibrium failed);
    each retry's log is ``so_retry<k>_opensim.log`` beside the first attempt's ``so_opensim.log``.

    Raises
    ------
    OpenSimToolError
        If SO fails after solving a frame, or at every start tried.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = log_dir or out_dir / "logs"
    start_times_s = [time_range_s[0], *later_start_times_s]
    attempt = 0
    start_failure = ""
    while True:
        start_time_s = start_times_s[attempt]
        try:
            forces_path, activations_path, setup_path, log_path = _run_analyze_tool(
                model_path, coordinates_path, external_loads_path, actuators_path, out_dir, settings,
                (start_time_s, time_range_s[1]), trial_id, log_dir, "so" if attempt == 0 else f"so_retry{attempt}")
        except OpenSimToolError as error:
            if attempt + 1 < len(start_times_s) and not _solved_a_frame(error.log_path):
                _log.info("%s: SO stopped before its first frame at %.3f s (%s); starting again at %.3f s",
                          trial_id, start_time_s, error.detail.splitlines()[0], start_times_s[attempt + 1])
                start_failure = start_failure or error.detail
                attempt += 1
                continue
            if attempt == 0:
                raise
            raise OpenSimToolError(trial_id, "so", f"{error.detail} [started {attempt} frame(s) late, at "
                                   f"{start_time_s:.3f} s, after the earlier starts stopped before their first frame]",
                                   error.log_path) from error
        with open(log_path, errors="replace") as log:
            n_failed = sum(SO_FAILURE_MESSAGE in line.lower() for line in log)
        return SOResult(forces_path, activations_path, setup_path, n_failed, time.perf_counter() - start, log_path,
                        start_time_s=start_time_s, skipped_start_frames=attempt, start_failure=start_failure)


def _solved_a_frame(log_path: Path | None) -> bool:
    """Whether the SO log records a solved frame (a missing log counts as yes: nothing to retry)."""
    if log_path is None or not log_path.is_file():
        return True
    with open(log_path, errors="replace") as log:
        return any(SO_FRAME_SOLVED_MESSAGE in line for line in log)


def _run_analyze_tool(model_path: Path, coordinates_path: Path, external_loads_path: Path, actuators_path: Path,
                      out_dir: Path, settings: StaticOptimizationConfig, time_range_s: tuple[float, float],
                      trial_id: str, log_dir: Path, stage_log: str) -> tuple[Path, Path, Path, Path]:
    """One AnalyzeTool run over ``time_range_s``; returns the forces, activations, setup and log paths."""
    forces_path = out_dir / "so_StaticOptimization_force.sto"
    activations_path = out_dir / "so_StaticOptimization_activation.sto"
    setup_path = out_dir / "setup_so.xml"
    for stale in (forces_path, activations_path, out_dir / "so_StaticOptimization_controls.xml"):
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

    log_path = run_tool_from_setup(_AnalyzeToolPrintingStorages, setup_path, forces_path,
                                   trial_id=trial_id, stage=stage_log, log_dir=log_dir)
    return forces_path, activations_path, setup_path, log_path


class _AnalyzeToolPrintingStorages:
    """The AnalyzeTool of a setup XML that prints SO's activation and force ``.sto`` files, not its ``ControlSet``.

    ``run`` is the tool's own with ``print_result_files`` off, followed by the two
    ``Storage.printResult`` calls of ``StaticOptimization.printResults`` (same names, folder and
    format: the IO precision the tool set is still in force).
    """

    def __init__(self, setup_path: str):
        self.tool = opensim.AnalyzeTool(setup_path, True)
        self.tool.setPrintResultFiles(False)

    def run(self) -> bool:
        if not self.tool.run():
            return False
        results_dir, base_name = self.tool.getResultsDir(), self.tool.getName()
        analyses = self.tool.getModel().getAnalysisSet()
        for index in range(analyses.getSize()):
            analysis = opensim.StaticOptimization.safeDownCast(analyses.get(index))
            if analysis is None:
                continue
            prefix = f"{base_name}_{analysis.getName()}"
            # dt -1: every frame as recorded, the tool's default.
            for storage, suffix in ((analysis.getActivationStorage(), "activation"), (analysis.getForceStorage(), "force")):
                opensim.Storage.printResult(storage, f"{prefix}_{suffix}", results_dir, -1.0, ".sto")
        return True
