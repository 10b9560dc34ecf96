"""Stage 3: generalized forces from coordinates and GRFs with ``InverseDynamicsTool``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import opensim

from gait2hip.pipeline.opensim_log import run_tool_from_setup


@dataclass(frozen=True)
class IDResult:
    """Outputs of :func:`run_inverse_dynamics`.

    ``generalized_forces_path`` is an ``.sto`` with one column per coordinate:
    ``<coordinate>_moment`` (Nm) for rotations and ``<coordinate>_force`` (N) for translations.
    """

    generalized_forces_path: Path
    setup_path: Path
    wall_time_s: float
    log_path: Path


def run_inverse_dynamics(*, model_path: Path, coordinates_path: Path, external_loads_path: Path,
                         out_dir: Path, lowpass_cutoff_hz: float, time_range_s: tuple[float, float],
                         trial_id: str, log_dir: Path | None = None) -> IDResult:
    """Run ID; muscles are excluded so their passive forces do not enter the joint moments."""
    start = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    output_name = "inverse_dynamics.sto"
    output_path = out_dir / output_name
    setup_path = out_dir / "setup_id.xml"
    output_path.unlink(missing_ok=True)

    tool = opensim.InverseDynamicsTool()
    tool.setName("id")
    tool.setModelFileName(str(Path(model_path).resolve()))
    tool.setCoordinatesFileName(str(Path(coordinates_path).resolve()))
    tool.setExternalLoadsFileName(str(Path(external_loads_path).resolve()))
    tool.setLowpassCutoffFrequency(lowpass_cutoff_hz)
    tool.setStartTime(time_range_s[0])
    tool.setEndTime(time_range_s[1])
    tool.setResultsDir(str(out_dir))
    tool.setOutputGenForceFileName(output_name)
    excluded = opensim.ArrayStr()
    excluded.append("Muscles")
    tool.setExcludedForces(excluded)
    tool.printToXML(str(setup_path))

    log_path = run_tool_from_setup(opensim.InverseDynamicsTool, setup_path, output_path, trial_id=trial_id,
                                   stage="id", log_dir=log_dir or out_dir / "logs")
    return IDResult(output_path, setup_path, time.perf_counter() - start, log_path)
