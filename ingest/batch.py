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
               overwrite: bool = False, mass_kg: float | None = None, height_m: float | None = None,
               subject_id: str | None = None) -> IngestReport:
    """Convert a C3D file, or every C3D in a folder, into ``subject_dir``, and write its ``subject.yaml``.

    Parameters
    ----------
    source
        A walking-trial ``.c3d`` or a folder of ``.c3d`` files.
    subject_dir
        The subject's folder (created when missing).
    static
        A static standing ``.c3d`` → ``subject_dir/static.trc``.
    mass_kg, height_m
        Body mass (kg) and standing height (m); each, when None, comes from the C3D files'
        ``PROCESSING:Bodymass`` / ``PROCESSING:Height`` (the static trial's first).
    subject_id
        Id in ``subject.yaml`` (default: the folder's name, which the cohort layout requires).

    Raises
    ------
    InputDataError
        If ``source`` does not exist or holds no C3D, if the static trial is ambiguous,
        (single-file ``source``) if the file cannot be converted, or if neither the arguments
        nor the files give the mass and height and ``subject.yaml`` does not exist yet (the
        trials are converted then; the message says how to finish).
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
    if converted:
        subject = _subject_info(subject_dir, converted, mass_kg, height_m, subject_id)
        if subject is not None:
            write_subject_yaml(subject_dir, subject)
    return IngestReport(subject_dir, tuple(converted), tuple(failed))


def _subject_info(subject_dir: Path, converted: list[TrialConversion], mass_kg: float | None,
                  height_m: float | None, subject_id: str | None) -> SubjectInfo | None:
    """The subject from the arguments, else from the files; None to keep an existing ``subject.yaml``.

    Without arguments an existing ``subject.yaml`` is kept (it may carry a group or an
    affected side the files do not).
    """
    if mass_kg is None and height_m is None and subject_id is None and (subject_dir / "subject.yaml").exists():
        return None
    from_files = {"mass": [c.subject_mass_kg for c in converted if c.subject_mass_kg is not None],
                  "height": [c.subject_height_m for c in converted if c.subject_height_m is not None]}
    mass = mass_kg if mass_kg is not None else (from_files["mass"][0] if from_files["mass"] else None)
    height = height_m if height_m is not None else (from_files["height"][0] if from_files["height"] else None)
    if mass is None or height is None:
        lacking = " and ".join(name for name, value in (("body mass (--mass KG)", mass), ("height (--height M)", height))
                               if value is None)
        raise InputDataError(subject_dir / "subject.yaml", f"not written: no {lacking} given, and the C3D files carry "
                                                           "no PROCESSING:Bodymass / PROCESSING:Height; the trials are "
                                                           "converted: run again with the missing option(s) and "
                                                           "--overwrite, or write subject.yaml yourself")
    for name, values in from_files.items():
        if len({round(v, 6) for v in values}) > 1:
            logger.warning("%s: the C3D files disagree on the subject's %s (%s); using %g", subject_dir, name,
                           ", ".join(f"{v:g}" for v in values), mass if name == "mass" else height)
    try:
        return SubjectInfo(subject_id or subject_dir.name, float(mass), float(height))
    except ValueError as error:
        raise InputDataError(subject_dir / "subject.yaml", f"not written: {error}") from error


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
