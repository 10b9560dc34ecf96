"""A C3D file or a folder of them → one subject folder in the cohort layout.

In a folder, the static trial is the file given as ``static``, or else the one file whose
name contains "static" (case-insensitive); every other ``.c3d`` is a walking trial. Each
trial is converted on its own: one that fails is reported and the others go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.convert import TrialConversion, convert_c3d_static, convert_c3d_trial
from gait2hip.ingest.writers import write_yaml
from gait2hip.core.errors import Gait2HipError, InputDataError
from gait2hip.pipeline.subject import SubjectInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    """Outcome of :func:`ingest_c3d`.

    Attributes
    ----------
    converted
        Every trial written (the static one first when there is one).
    failed
        ``(file, message)`` of every trial that could not be converted (nothing written for it).
    """

    subject_dir: Path
    converted: tuple[TrialConversion, ...]
    failed: tuple[tuple[Path, str], ...] = field(default=())


def ingest_c3d(source: str | Path, subject_dir: str | Path, *, config: IngestConfig | None = None,
               static: str | Path | None = None, cadence_condition: str = "self_selected",
               overwrite: bool = False, subject: SubjectInfo | None = None) -> IngestReport:
    """Convert a C3D file, or every C3D in a folder, into ``subject_dir``.

    Parameters
    ----------
    source
        A walking-trial ``.c3d`` or a folder of ``.c3d`` files.
    subject_dir
        The subject's folder (created when missing).
    static
        A static standing ``.c3d`` → ``subject_dir/static.trc``.
    subject
        When given, ``subject_dir/subject.yaml`` is written from it.

    Raises
    ------
    InputDataError
        If ``source`` does not exist or holds no C3D, if the static trial is ambiguous, or
        (single-file ``source``) if the file cannot be converted.
    """
    config = config or IngestConfig()
    source, subject_dir = Path(source), Path(subject_dir)
    walking, static_path = _collect(source, Path(static) if static else None)
    converted, failed = [], []
    if static_path is not None:
        converted.append(convert_c3d_static(static_path, subject_dir, config=config, overwrite=overwrite))
    for path in walking:
        try:
            converted.append(convert_c3d_trial(path, subject_dir, config=config, cadence_condition=cadence_condition,
                                               overwrite=overwrite))
        except Gait2HipError as error:
            if source.is_file():
                raise
            logger.error("skipped %s: %s", path.name, error)
            failed.append((path, str(error)))
    if subject is not None:
        write_subject_yaml(subject_dir, subject)
    elif not (subject_dir / "subject.yaml").exists() and converted:
        logger.warning("%s has no subject.yaml; write one (id, mass_kg, height_m) or pass --mass and --height",
                       subject_dir)
    return IngestReport(subject_dir, tuple(converted), tuple(failed))


def write_subject_yaml(subject_dir: Path, subject: SubjectInfo) -> Path:
    """Write ``subject.yaml`` (id, mass_kg, height_m, group, affected_side), atomically."""
    return write_yaml(Path(subject_dir) / "subject.yaml", {
        "id": subject.subject_id, "mass_kg": subject.mass_kg, "height_m": subject.height_m,
        "group": subject.group, "affected_side": subject.affected_side})


def _collect(source: Path, static: Path | None) -> tuple[list[Path], Path | None]:
    """Walking-trial files and the static file."""
    if static is not None and not static.is_file():
        raise InputDataError(static, "static C3D file not found")
    if source.is_file():
        return [source], static
    if not source.is_dir():
        raise InputDataError(source, "no such C3D file or folder")
    files = sorted(path for path in source.iterdir() if path.is_file() and path.suffix.lower() == ".c3d")
    if not files:
        raise InputDataError(source, "holds no .c3d file")
    if static is None:
        candidates = [path for path in files if "static" in path.stem.lower()]
        if len(candidates) > 1:
            raise InputDataError(source, f"several files look static ({', '.join(p.name for p in candidates)}); "
                                         "name the one to use with --static")
        static = candidates[0] if candidates else None
    walking = [path for path in files if static is None or path.resolve() != static.resolve()]
    return walking, static
