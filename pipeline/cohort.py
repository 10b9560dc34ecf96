"""Discover subjects and trials from a cohort folder (layout: docs/cohort_layout.md)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from gait2hip.core.errors import InputDataError
from gait2hip.pipeline.subject import SubjectInfo, read_metadata_yaml

STATIC_TRIAL_FILE = "static.trc"
SUBJECT_FILE = "subject.yaml"
COHORT_FILE = "cohort.yaml"
MARKERS_FILE = "markers.trc"
GRF_FILE = "grf.mot"
TRIAL_FILE = "trial.yaml"
COHORT_YAML_KEYS = ("name", "description", "synthetic", "model", "generator")
TRIAL_YAML_KEYS = ("id", "cadence_condition", "cadence_steps_per_min", "events", "cycles", "time_range_s")


@dataclass(frozen=True)
class TrialSpec:
    """One walking trial of the cohort: where its files are and what it is.

    ``cadence_condition`` is the condition tag (e.g. ``cadence_110``); ``cadence_steps_per_min``
    the measured cadence when known. ``time_range_s`` is the part of the trial to label
    (``(start, end)`` in s), None for all of it. ``metadata_error`` is what is wrong with the trial's
    ``trial.yaml`` (naming the file and the key), or None: a trial with one fails alone when
    the cohort is labelled, and the batch goes on.
    """

    subject_id: str
    trial_id: str
    markers_path: Path
    grf_path: Path
    cadence_condition: str
    cadence_steps_per_min: float | None
    metadata_error: str | None = None
    time_range_s: tuple[float, float] | None = None

    @property
    def key(self) -> str:
        """``subject/trial``, unique within a cohort."""
        return f"{self.subject_id}/{self.trial_id}"


@dataclass(frozen=True)
class SubjectSpec:
    """One subject: metadata, static trial, and walking trials (sorted by id)."""

    info: SubjectInfo
    folder: Path
    static_trc_path: Path
    trials: tuple[TrialSpec, ...]


@dataclass(frozen=True)
class Cohort:
    """A cohort folder's content. ``synthetic`` is true for cohorts made by ``gait2hip synth``.

    ``model`` is the model ``cohort.yaml`` names (its marker names are that model's), None
    when it names none.
    """

    name: str
    folder: Path
    synthetic: bool
    model: str | None
    subjects: tuple[SubjectSpec, ...]

    @property
    def trials(self) -> list[TrialSpec]:
        """Every trial of every subject, in subject then trial order."""
        return [trial for subject in self.subjects for trial in subject.trials]


def discover_cohort(folder: str | Path) -> Cohort:
    """Read ``cohort.yaml``, every ``<subject>/subject.yaml`` and every ``trials/<trial>/``.

    A subject folder without ``subject.yaml`` is an error (a typo would otherwise drop a
    subject silently); folders starting with ``.`` or ``_`` are ignored.

    Raises
    ------
    InputDataError
        Missing or invalid ``cohort.yaml`` (unknown key, ``synthetic`` not a YAML boolean),
        or a subject without valid metadata or static trial. A trial folder missing its
        markers or GRF file, or with an invalid ``trial.yaml``, is not an error here: that
        trial fails alone when it is labelled, and the batch goes on.
    """
    folder = Path(folder).resolve()
    cohort_file = folder / COHORT_FILE
    if not cohort_file.is_file():
        raise InputDataError(cohort_file, "cohort.yaml not found: is this a cohort folder? (see docs/cohort_layout.md)")
    meta = read_metadata_yaml(cohort_file, COHORT_YAML_KEYS)
    synthetic = meta.get("synthetic", False)
    if not isinstance(synthetic, bool):
        # YAML reads "no" in quotes as text, and bool("no") is True: only true/false will do.
        raise InputDataError(cohort_file, f"synthetic must be true or false (a YAML boolean), got {synthetic!r}")
    for key in ("name", "model", "description"):
        if key in meta and not isinstance(meta[key], str):
            raise InputDataError(cohort_file, f"{key} must be text, got {meta[key]!r}")
    subjects = []
    for subject_folder in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        subjects.append(_read_subject(subject_folder))
    if not subjects:
        raise InputDataError(folder, "the cohort has no subject folders")
    return Cohort(name=str(meta.get("name", folder.name)), folder=folder, synthetic=synthetic,
                  model=meta.get("model"), subjects=tuple(subjects))


def _read_subject(folder: Path) -> SubjectSpec:
    info = SubjectInfo.from_yaml(folder / SUBJECT_FILE)
    if info.subject_id != folder.name:
        raise InputDataError(folder / SUBJECT_FILE, f"id {info.subject_id!r} differs from the folder name {folder.name!r}")
    static = folder / STATIC_TRIAL_FILE
    if not static.is_file():
        raise InputDataError(static, "static trial not found (needed to scale the model)")
    trials = []
    trials_folder = folder / "trials"
    if trials_folder.is_dir():
        for trial_folder in sorted(p for p in trials_folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            trials.append(_read_trial(info.subject_id, trial_folder))
    return SubjectSpec(info=info, folder=folder, static_trc_path=static, trials=tuple(trials))


def _read_trial(subject_id: str, folder: Path) -> TrialSpec:
    spec = TrialSpec(subject_id=subject_id, trial_id=folder.name, markers_path=folder / MARKERS_FILE,
                     grf_path=folder / GRF_FILE, cadence_condition="unknown", cadence_steps_per_min=None)
    if not (folder / TRIAL_FILE).is_file():
        return spec
    try:
        condition, cadence, time_range = _trial_metadata(folder / TRIAL_FILE)
    except InputDataError as error:
        return dataclasses.replace(spec, metadata_error=str(error))
    return dataclasses.replace(spec, cadence_condition=condition, cadence_steps_per_min=cadence,
                               time_range_s=time_range)


def _trial_metadata(path: Path) -> tuple[str, float | None, tuple[float, float] | None]:
    """``(cadence_condition, cadence_steps_per_min, time_range_s)`` of a ``trial.yaml``.

    Raises InputDataError naming the key.
    """
    meta = read_metadata_yaml(path, TRIAL_YAML_KEYS)
    time_range = _time_range(path, meta.get("time_range_s"))
    condition = meta.get("cadence_condition", "unknown")
    if not isinstance(condition, str):
        raise InputDataError(path, f"cadence_condition must be text, got {condition!r}")
    cadence = meta.get("cadence_steps_per_min")
    if cadence is None:
        return condition, None, time_range
    if isinstance(cadence, bool) or not isinstance(cadence, (int, float)) or not math.isfinite(cadence) or cadence <= 0:
        raise InputDataError(path, f"cadence_steps_per_min must be a positive number of steps/min or null, "
                                   f"got {cadence!r}")
    return condition, float(cadence), time_range


def _time_range(path: Path, value) -> tuple[float, float] | None:
    """``time_range_s: [start, end]`` (s, start < end) or absent/null."""
    if value is None:
        return None
    numbers = value if isinstance(value, list) else []
    if (len(numbers) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                                 for v in numbers) or not numbers[0] < numbers[1]):
        raise InputDataError(path, f"time_range_s must be [start, end] in s with start < end, or null; got {value!r}")
    return float(numbers[0]), float(numbers[1])
