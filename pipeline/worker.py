"""Run one scaling or one trial in a child process: ``python -m gait2hip.pipeline.worker REQUEST_JSON``.

The batch engine starts one child per task, so an OpenSim abort (it can abort on bad input)
kills only that child: the task is reported failed and the batch goes on. A fresh process per
task also keeps a long batch's memory from growing trial after trial.

The request names the task; the child writes ``result.json`` (atomically) next to the task's
outputs and exits 0 whenever it could report, failure included.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from pathlib import Path
from typing import Any

from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet

from gait2hip.core.atomic import write_json_atomically
from gait2hip.pipeline.config import PipelineConfig
from gait2hip.core.errors import Gait2HipError, OpenSimToolError
from gait2hip.pipeline.scale import scale_subject
from gait2hip.pipeline.subject import SubjectInfo
from gait2hip.pipeline.trial import label_trial

RESULT_FILE = "result.json"


def run_request(request: dict[str, Any]) -> dict[str, Any]:
    """Execute a ``scale`` or ``trial`` request; return the result mapping (never raises)."""
    config = PipelineConfig.from_dict(request["config"])
    subject = SubjectInfo(**request["subject"])
    out_dir = Path(request["out_dir"])
    result: dict[str, Any] = {"kind": request["kind"], "input_hash": request["input_hash"]}
    try:
        if request["kind"] == "scale":
            scaled = scale_subject(subject, Path(request["static_trc"]), out_dir, config)
            result.update(status="ok", scaled_model=str(scaled.scaled_model_path),
                          scale_factors={k: v.tolist() for k, v in scaled.scale_factors.items()},
                          landmark_rms_error_m=scaled.marker_rms_error_m, wall_time_s={"scale": scaled.wall_time_s})
        else:
            trial = label_trial(subject, Path(request["scaled_model"]), Path(request["markers"]), Path(request["grf"]),
                                out_dir, config, request["trial_key"], provenance={"input_hash": request["input_hash"]})
            result.update(status=trial.status, reasons=trial.reasons, qc=trial.qc, wall_time_s=trial.timings_s,
                          n_frames=trial.n_frames, labels=str(trial.labels_path))
    except OpenSimToolError as error:
        result.update(status="failed", failed_stage=error.stage, error=str(error))
    except Gait2HipError as error:
        result.update(status="failed", failed_stage="inputs", error=str(error))
    except Exception as error:  # noqa: BLE001 - any other failure of one task is recorded, not fatal
        result.update(status="failed", failed_stage="unexpected", error=f"{type(error).__name__}: {error}",
                      traceback=traceback.format_exc())
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    request_path = Path(argv[0])
    request = json.loads(request_path.read_text())
    keep_opensim_console_quiet()
    result = run_request(request)
    # Linux reports ru_maxrss in KiB: the peak memory of this task's process.
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    write_json_atomically(Path(request["out_dir"]) / RESULT_FILE, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
