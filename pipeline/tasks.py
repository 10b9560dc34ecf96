"""What crosses a batch task's process boundary: its request (``request.json``) and its result (``result.json``).

The batch engine writes a :class:`TaskRequest` into the task's folder, the worker process
reads it and writes a :class:`TaskResult` beside it. Paths in ``result.json`` are relative to
the task's folder, so a labels folder that is moved (or copied) as a whole still finds its
outputs and its finished tasks are reused.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from gait2hip.pipeline.config import PipelineConfig
from gait2hip.pipeline.status import TrialStatus
from gait2hip.pipeline.subject import SubjectInfo

REQUEST_FILE = "request.json"
RESULT_FILE = "result.json"


class TaskKind(StrEnum):
    """A batch task scales one subject or labels one trial."""

    SCALE = "scale"
    TRIAL = "trial"


@dataclass(frozen=True)
class TaskRequest:
    """One task for a worker process.

    Attributes
    ----------
    kind
        Scale a subject, or label a trial with the subject's scaled model.
    key
        ``subject/scale`` or ``subject/trial``: names the task in messages and summaries.
    out_dir
        The task's own folder: every file it writes goes there.
    input_hash
        Hash of everything the outputs depend on; an earlier result with the same hash is reused.
    static_trc
        Scaling: the subject's static trial.
    markers, grf, scaled_model
        Labelling: the trial's markers (TRC), GRFs (``.mot``) and the subject's scaled model.
    time_range_s
        Labelling: the part of the trial to label (s), None for all of it.
    """

    kind: TaskKind
    key: str
    subject: SubjectInfo
    out_dir: Path
    config: PipelineConfig
    input_hash: str
    static_trc: Path | None = None
    markers: Path | None = None
    grf: Path | None = None
    scaled_model: Path | None = None
    time_range_s: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The request as a JSON-ready mapping (``request.json``)."""
        content = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        content.update(kind=str(self.kind), subject=dataclasses.asdict(self.subject), config=self.config.to_dict(),
                       time_range_s=list(self.time_range_s) if self.time_range_s else None)
        return {name: str(value) if isinstance(value, Path) else value for name, value in content.items()}

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> "TaskRequest":
        """Rebuild a request from :meth:`to_json`'s mapping (in the worker process).

        Raises
        ------
        ConfigError
            If the settings in the request are not valid pipeline settings.
        """
        paths = {name: Path(content[name]) if content.get(name) is not None else None
                 for name in ("out_dir", "static_trc", "markers", "grf", "scaled_model")}
        return cls(kind=TaskKind(content["kind"]), key=content["key"], subject=SubjectInfo(**content["subject"]),
                   config=PipelineConfig.from_dict(content["config"]), input_hash=content["input_hash"],
                   time_range_s=tuple(content["time_range_s"]) if content.get("time_range_s") else None, **paths)


@dataclass(frozen=True)
class TaskResult:
    """What one task came back with.

    Attributes
    ----------
    status
        ``ok``/``warn``/``failed``; a scaling is ``ok`` or ``failed``.
    failed_stage, error, traceback
        Where and why a task stopped with an error (``inputs``, ``scale``, ``ik``, ``id``,
        ``so``, ``labels``; ``outputs`` for a task folder that cannot be written; ``timeout``,
        ``crash``, ``unexpected`` for a task whose process ran out of time, died, or hit a
        bug). All None for a finished task, QC failures included.
    reasons
        The QC checks a trial missed (why it is ``warn`` or ``failed``).
    qc, wall_time_s
        QC figures (units in the key names) and wall time per stage (s).
    labels, scaled_model
        The trial's ``labels.parquet``, the subject's scaled model (absolute in memory,
        relative to the task's folder on disk).
    scale_factors, landmark_rms_error_m
        Scaling: segment → ``(3,)`` scale factors, and the RMS error of the landmarks (m).
    peak_rss_mb
        Peak memory of the task's process (MB).
    skipped
        The result was reused from an earlier run (inputs and settings unchanged); not on disk.
    """

    kind: TaskKind
    input_hash: str
    status: TrialStatus
    failed_stage: str | None = None
    error: str | None = None
    traceback: str | None = None
    reasons: tuple[str, ...] = ()
    qc: dict[str, float] = field(default_factory=dict)
    wall_time_s: dict[str, float] = field(default_factory=dict)
    n_frames: int = 0
    labels: Path | None = None
    scaled_model: Path | None = None
    scale_factors: dict[str, list[float]] = field(default_factory=dict)
    landmark_rms_error_m: float | None = None
    peak_rss_mb: float | None = None
    skipped: bool = False

    @classmethod
    def failure(cls, kind: TaskKind, input_hash: str, stage: str, error: str,
                traceback: str | None = None) -> "TaskResult":
        """A task that stopped with ``error`` in ``stage``."""
        return cls(kind=kind, input_hash=input_hash, status=TrialStatus.FAILED, failed_stage=stage, error=error,
                   traceback=traceback)

    @property
    def stopped_with_error(self) -> bool:
        """Failed by an error (bad input, a tool, a timeout, a crash), not by a QC verdict."""
        return self.status == TrialStatus.FAILED and bool(self.error)

    @property
    def failed_qc(self) -> bool:
        """Ran to the end and a QC figure is past its fail limit."""
        return self.status == TrialStatus.FAILED and not self.error

    def failure_text(self) -> str:
        """Where and why the task failed: the stage and error, or the QC checks it missed."""
        if self.error:
            return f"at {self.failed_stage or 'an unknown stage'}: {self.error}"
        return "QC: " + "; ".join(self.reasons or ["no reason recorded"])

    def to_json(self, out_dir: Path) -> dict[str, Any]:
        """The result as a JSON-ready mapping (``result.json``), paths relative to ``out_dir``."""
        content = {item.name: getattr(self, item.name) for item in dataclasses.fields(self) if item.name != "skipped"}
        content.update(kind=str(self.kind), status=str(self.status), reasons=list(self.reasons))
        for name in ("labels", "scaled_model"):
            if content[name] is not None:
                content[name] = os.path.relpath(content[name], out_dir)
        return content

    @classmethod
    def read(cls, out_dir: Path) -> "TaskResult | None":
        """The result in ``out_dir/result.json``; None when there is none or it cannot be used.

        A truncated, damaged (not JSON, not UTF-8) or unreadable file, or one written by
        another version, is no result: the task counts as not done and runs again.
        """
        path = Path(out_dir) / RESULT_FILE
        try:
            content = json.loads(path.read_bytes().decode("utf-8"))
            if not isinstance(content, dict):
                return None
            return cls.from_json(content, Path(out_dir))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def from_json(cls, content: dict[str, Any], out_dir: Path) -> "TaskResult":
        """Rebuild a result from :meth:`to_json`'s mapping; relative paths are taken from ``out_dir``.

        Raises
        ------
        ValueError
            If ``content`` holds an unknown key, or an unknown kind or status.
        """
        names = {item.name for item in dataclasses.fields(cls)} - {"skipped"}
        unknown = sorted(set(content) - names)
        if unknown:
            raise ValueError(f"unknown key(s) in a task result: {unknown}")
        values = dict(content)
        values.update(kind=TaskKind(content["kind"]), status=TrialStatus(content["status"]),
                      reasons=tuple(content.get("reasons") or ()))
        for name in ("labels", "scaled_model"):
            if values.get(name) is not None:
                values[name] = Path(out_dir) / values[name]
        return cls(**values)
