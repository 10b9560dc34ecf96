"""A corpus folder of subjects' C3D files → a whole cohort (``gait2hip ingest corpus``).

Each subject (:func:`gait2hip.ingest.discovery.find_subjects`) is converted on its own: its
static trial (:mod:`gait2hip.ingest.discovery` says which file that is) becomes
``static.trc``, every other file a walking trial. A subject is written in a hidden staging
folder beside its final place and renamed into place only once its static trial, at least
one walking trial and its ``subject.yaml`` are written, so the cohort never holds a subject
folder the pipeline would refuse. A subject or trial that fails is recorded with its reason
and the corpus goes on. At the end, ``cohort.yaml`` is written when at least one subject is
in place (an interrupted run leaves none, which the pipeline refuses), and ``summary.json``
(kind ``gait2hip.ingest_corpus``) always; both are atomic, and the same corpus and options
give the same bytes.

Filters: ``exclude`` globs drop any file (static or walking); ``include`` globs, when given,
keep only the walking trials they match (the static trial is always looked for: every
subject needs one). Globs match the path relative to the corpus folder with ``/``
separators, and ``*`` spans folders: ``--include '*/straight/*'``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from gait2hip.core.atomic import write_json_atomically
from gait2hip.core.errors import Gait2HipError, InputDataError
from gait2hip.ingest.config import IngestConfig
from gait2hip.ingest.convert import TrialConversion, convert_c3d_static, convert_c3d_trial, trial_id_from
from gait2hip.ingest.discovery import (StaticCandidate, SubjectFiles, find_subjects, matches_any, relative_path,
                                       static_candidates)
from gait2hip.ingest.protocol_detection import AUTO
from gait2hip.ingest.protocols import load_protocol
from gait2hip.ingest.batch import write_subject_yaml
from gait2hip.ingest.writers import staged_folder, write_yaml
from gait2hip.pipeline.subject import SubjectInfo

logger = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
COHORT_FILE = "cohort.yaml"
# The model of the shipped protocols, which auto-detection chooses among.
_SHIPPED_MODEL = "gait2392"
_NO_STATIC = ("no static trial: add a file or folder named *static* to {folder} (or ingest the subject with "
              "`gait2hip ingest c3d {folder} --static FILE`)")


class Status(str, enum.Enum):
    """Outcome of one file or subject in ``summary.json``."""

    OK = "ok"                  # written
    PARTIAL = "partial"        # subject written, some of its walking trials failed
    FAILED = "failed"          # not written; the reason says why
    SKIPPED = "skipped"        # not tried: its subject could not be ingested
    FILTERED = "filtered"      # left out by --include / --exclude
    NOT_USED = "not_used"      # another static candidate of the subject was used


@dataclass(frozen=True)
class FileOutcome:
    """One C3D file of the corpus.

    Attributes
    ----------
    file
        Path relative to the corpus folder (``/`` separators).
    role
        ``"static"`` or ``"walking"``.
    trial_id
        The trial folder written (walking trials), else None.
    protocol
        :meth:`ProtocolChoice.to_json` of the protocol it was read with (None when not read).
    details
        Static: how it was recognised; walking: heel strikes, cadence, plates.
    """

    file: str
    role: str
    status: Status
    reason: str = ""
    trial_id: str | None = None
    protocol: dict | None = None
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"file": self.file, "role": self.role, "status": self.status.value, "reason": self.reason,
                "trial": self.trial_id, "protocol": None if self.protocol is None else self.protocol["protocol"],
                "protocol_choice": self.protocol, **self.details}


@dataclass(frozen=True)
class SubjectOutcome:
    """One subject of the corpus: whether it was written, and each of its files."""

    subject_id: str
    source: str
    status: Status
    reason: str
    files: tuple[FileOutcome, ...]

    def to_json(self) -> dict:
        return {"id": self.subject_id, "source": self.source, "status": self.status.value, "reason": self.reason,
                "files": [outcome.to_json() for outcome in self.files]}


@dataclass(frozen=True)
class CorpusReport:
    """Outcome of :func:`ingest_corpus`."""

    cohort_dir: Path
    subjects: tuple[SubjectOutcome, ...]
    summary_path: Path

    @property
    def complete(self) -> bool:
        """Whether every subject and every file that was not filtered out was ingested."""
        return all(subject.status == Status.OK for subject in self.subjects)

    @property
    def written(self) -> tuple[str, ...]:
        return tuple(s.subject_id for s in self.subjects if s.status in (Status.OK, Status.PARTIAL))


Progress = Callable[[str], None]


def ingest_corpus(corpus_dir: str | Path, cohort_dir: str | Path, *, config: IngestConfig | None = None,
                  include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), overwrite: bool = False,
                  cadence_condition: str = "self_selected", subjects: dict[str, SubjectInfo] | None = None,
                  cohort_name: str | None = None, description: str | None = None,
                  progress: Progress | None = None) -> CorpusReport:
    """Convert every subject of ``corpus_dir`` into the cohort ``cohort_dir``.

    Parameters
    ----------
    corpus_dir
        Folder of subject folders (see :mod:`gait2hip.ingest.discovery`).
    cohort_dir
        The cohort to write (created when missing); existing subject folders are replaced
        only with ``overwrite``.
    config
        Ingest settings; ``config.protocol`` is ``auto`` (per file) or one protocol for all.
    include, exclude
        Shell-style globs on the path relative to ``corpus_dir`` (see the module docstring).
    subjects
        Subject id → mass, height, group, side; wins over the files' ``PROCESSING`` values.
    progress
        Called with one line per file and per subject (the CLI prints them).

    Raises
    ------
    InputDataError
        If ``corpus_dir`` holds no subject. Problems of a subject or a file never raise:
        they are in the report and in ``summary.json``.
    """
    config = config or IngestConfig()
    corpus_dir, cohort_dir = Path(corpus_dir), Path(cohort_dir)
    say = progress or (lambda line: None)
    model = _SHIPPED_MODEL if config.protocol == AUTO else load_protocol(config.protocol).model
    found = find_subjects(corpus_dir)
    cohort_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for subject in found:
        outcome = _ingest_subject(subject, corpus_dir, cohort_dir, config=config, include=include, exclude=exclude,
                                  overwrite=overwrite, cadence_condition=cadence_condition,
                                  table_entry=(subjects or {}).get(subject.subject_id), say=say)
        outcomes.append(outcome)
        say(f"{subject.subject_id}: {outcome.status.value.upper()}"
            + (f": {outcome.reason}" if outcome.reason else f" → {cohort_dir / subject.subject_id}"))
    if any(o.status in (Status.OK, Status.PARTIAL) for o in outcomes):
        _write_cohort_yaml(cohort_dir, cohort_name, description, corpus_dir, model)
    summary_path = write_json_atomically(cohort_dir / SUMMARY_FILE, _summary(corpus_dir, cohort_dir, config, include,
                                                                             exclude, outcomes, model))
    return CorpusReport(cohort_dir, tuple(outcomes), summary_path)


def _ingest_subject(subject: SubjectFiles, corpus_dir: Path, cohort_dir: Path, *, config: IngestConfig,
                    include: tuple[str, ...], exclude: tuple[str, ...], overwrite: bool, cadence_condition: str,
                    table_entry: SubjectInfo | None, say: Progress) -> SubjectOutcome:
    source = relative_path(subject.folder, corpus_dir) if subject.folder != corpus_dir else "."
    outcomes: dict[Path, FileOutcome] = {}

    def record(path: Path, outcome: FileOutcome, line: str) -> None:
        outcomes[path] = outcome
        say(f"{subject.subject_id}  {line}")

    kept = []
    for path in subject.files:
        relative = relative_path(path, corpus_dir)
        if matches_any(relative, exclude):
            record(path, FileOutcome(relative, "walking", Status.FILTERED, "matched by --exclude"),
                   f"filtered {relative} (--exclude)")
        else:
            kept.append(path)
    candidates = static_candidates(subject, tuple(kept), config)
    static = candidates[0] if candidates else None
    for other in candidates[1:]:
        relative = relative_path(other.path, corpus_dir)
        record(other.path, FileOutcome(relative, "static", Status.NOT_USED,
                                       f"another static trial was used: {relative_path(static.path, corpus_dir)} "
                                       "(more model markers, or first by name)", details={"static_by": other.reason}),
               f"not used {relative} (static candidate; {relative_path(static.path, corpus_dir)} is used)")
    used_as_static = {c.path for c in candidates}
    walking = []
    for path in kept:
        if path in used_as_static:
            continue
        relative = relative_path(path, corpus_dir)
        if include and not matches_any(relative, include):
            record(path, FileOutcome(relative, "walking", Status.FILTERED, "not matched by --include"),
                   f"filtered {relative} (--include)")
        else:
            walking.append(path)
    final_dir = cohort_dir / subject.subject_id

    def finish(status: Status, reason: str) -> SubjectOutcome:
        if status == Status.FAILED:  # converted files were in the staging folder, now gone
            for path, outcome in list(outcomes.items()):
                if outcome.status == Status.OK:
                    outcomes[path] = replace(outcome, status=Status.SKIPPED, trial_id=None,
                                             reason=f"converted, but subject {subject.subject_id} not written: {reason}")
        for path in (*([static.path] if static else []), *walking):
            if path not in outcomes:
                outcomes[path] = FileOutcome(relative_path(path, corpus_dir), "static" if static and path == static.path
                                             else "walking", Status.SKIPPED, f"subject {subject.subject_id} not "
                                             f"ingested: {reason}")
        ordered = tuple(outcomes[path] for path in subject.files if path in outcomes)
        return SubjectOutcome(subject.subject_id, source, status, reason, ordered)

    if static is None:
        return finish(Status.FAILED, _NO_STATIC.format(folder=subject.folder))
    if not walking:
        return finish(Status.FAILED, "no walking trial left (all filtered out, or every file is a static candidate)")
    if final_dir.exists() and not overwrite:
        return finish(Status.FAILED, f"{final_dir} already exists; pass --overwrite to replace it")
    try:
        with staged_folder(final_dir, overwrite=True) as staging:
            converted = _convert_files(subject, corpus_dir, staging, static, walking, config=config,
                                       cadence_condition=cadence_condition, record=record)
            info = _subject_info(subject, converted, table_entry)
            write_subject_yaml(staging, info)
    except Gait2HipError as error:
        return finish(Status.FAILED, _one_line(error))
    failed = [o for o in outcomes.values() if o.role == "walking" and o.status == Status.FAILED]
    return finish(Status.PARTIAL if failed else Status.OK,
                  f"{len(failed)} walking trial(s) failed" if failed else "")


def _convert_files(subject: SubjectFiles, corpus_dir: Path, staging: Path, static: StaticCandidate,
                   walking: list[Path], *, config: IngestConfig, cadence_condition: str,
                   record: Callable[[Path, FileOutcome, str], None]) -> list[TrialConversion]:
    """Convert the static trial and each walking trial into ``staging``; raise when the subject cannot be kept."""
    relative = relative_path(static.path, corpus_dir)
    try:
        static_conversion = convert_c3d_static(static.path, staging, config=config, overwrite=True)
    except Gait2HipError as error:
        record(static.path, FileOutcome(relative, "static", Status.FAILED, _one_line(error, static.path),
                                        details={"static_by": static.reason}),
               f"FAILED   {relative} (static): {_one_line(error, static.path)}")
        raise InputDataError(static.path, "the static trial could not be converted (see its entry)") from error
    record(static.path, FileOutcome(relative, "static", Status.OK, protocol=static_conversion.protocol.to_json(),
                                    details={"static_by": static.reason}),
           f"static   {relative} → static.trc ({static_conversion.protocol.describe()}; by {static.reason})")
    converted, used_ids = [static_conversion], {}
    for path in walking:
        relative = relative_path(path, corpus_dir)
        trial_id = trial_id_from(path)
        if trial_id in used_ids:
            reason = f"trial id {trial_id} is already taken by {used_ids[trial_id]}; rename one of the files"
            record(path, FileOutcome(relative, "walking", Status.FAILED, reason), f"FAILED   {relative}: {reason}")
            continue
        try:
            conversion = convert_c3d_trial(path, staging, config=config, trial_id=trial_id,
                                           cadence_condition=cadence_condition, overwrite=True)
        except Gait2HipError as error:
            record(path, FileOutcome(relative, "walking", Status.FAILED, _one_line(error, path)),
                   f"FAILED   {relative}: {_one_line(error, path)}")
            continue
        used_ids[trial_id] = relative
        converted.append(conversion)
        events = conversion.events
        details = {"heel_strikes": {side: len(events.heel_strike_s[side]) for side in ("r", "l")},
                   "cadence_steps_per_min": None if events.cadence_steps_per_min is None
                   else round(events.cadence_steps_per_min, 2),
                   "plates": [f"{c.plate_number}->{c.side}" for c in conversion.contacts]}
        record(path, FileOutcome(relative, "walking", Status.OK, trial_id=trial_id,
                                 protocol=conversion.protocol.to_json(), details=details),
               f"trial    {relative} → trials/{trial_id} ({conversion.protocol.describe()}; plates "
               f"{', '.join(details['plates'])}; heel strikes r {details['heel_strikes']['r']}, "
               f"l {details['heel_strikes']['l']})")
    if len(converted) == 1:
        raise InputDataError(subject.folder, "no walking trial could be converted (see each file's reason)")
    return converted


def _subject_info(subject: SubjectFiles, converted: list[TrialConversion], entry: SubjectInfo | None) -> SubjectInfo:
    """The table's entry, else mass and height from the files (static trial first)."""
    if entry is not None:
        return replace(entry, subject_id=subject.subject_id)
    masses = [c.subject_mass_kg for c in converted if c.subject_mass_kg is not None]
    heights = [c.subject_height_m for c in converted if c.subject_height_m is not None]
    if not masses or not heights:
        lacking = " and ".join(name for name, values in (("body mass", masses), ("height", heights)) if not values)
        raise InputDataError(subject.folder, f"no {lacking}: the C3D files carry no PROCESSING:Bodymass / Height; "
                                             "give them in --subjects FILE.csv (columns id,mass_kg,height_m)")
    try:
        return SubjectInfo(subject.subject_id, float(masses[0]), float(heights[0]))
    except ValueError as error:
        raise InputDataError(subject.folder, f"{error} (fix the C3D's PROCESSING or use --subjects FILE.csv)") from error


def _write_cohort_yaml(cohort_dir: Path, name: str | None, description: str | None, corpus_dir: Path,
                       model: str) -> None:
    write_yaml(cohort_dir / COHORT_FILE, {
        "name": name or cohort_dir.resolve().name,
        "description": description or f"measured gait-lab data ingested from {corpus_dir.resolve().name} "
                                      "by gait2hip ingest corpus",
        "synthetic": False,
        "model": model,
    })


def _summary(corpus_dir: Path, cohort_dir: Path, config: IngestConfig, include: tuple[str, ...],
             exclude: tuple[str, ...], outcomes: list[SubjectOutcome], model: str) -> dict:
    files = [f for s in outcomes for f in s.files]
    return {
        "kind": "gait2hip.ingest_corpus",
        "corpus": str(corpus_dir.resolve()),
        "cohort": str(cohort_dir.resolve()),
        "model": model,
        "protocol_setting": config.protocol,
        "include": list(include),
        "exclude": list(exclude),
        "settings": config.to_dict(),
        "counts": {
            "subjects": len(outcomes),
            "subjects_written": sum(s.status in (Status.OK, Status.PARTIAL) for s in outcomes),
            "trials_written": sum(f.role == "walking" and f.status == Status.OK for f in files),
            "files": {status.value: sum(f.status == status for f in files) for status in Status if status != Status.PARTIAL},
        },
        "subjects": [subject.to_json() for subject in outcomes],
    }


def _one_line(error: Exception, path: Path | None = None) -> str:
    """The error on one line; without the file's path when the entry already names the file."""
    text = error.problem if isinstance(error, InputDataError) and path is not None and error.path == path else str(error)
    return " ".join(text.split())
