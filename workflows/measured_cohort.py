"""The cohort step of a measured-data workflow: a C3D corpus ingested into ``OUT/cohort``, once.

Re-runs are idempotent: when ``OUT/cohort/summary.json`` records the same corpus, filters and
ingest settings and ``cohort.yaml`` is there, the cohort is reused as it is (its files, and so
the labels' input hashes, are unchanged); otherwise the corpus is ingested again, replacing
the subject folders (the same corpus and options give the same bytes, so labels stay up to
date). ``--force`` ingests again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from gait2hip.core.errors import ConfigError
from gait2hip.workflows.workflow_config import CohortStep

COHORT_FOLDER = "cohort"


def check_corpus(cohort: CohortStep) -> Path:
    """The corpus folder of a ``corpus`` workflow; ConfigError when none is named, InputDataError when absent."""
    from gait2hip.workflows.arguments import check_input_file, check_input_folder

    if not cohort.corpus:
        raise ConfigError("cohort.corpus: this workflow ingests a C3D corpus but names none; pass "
                          "`gait2hip run WORKFLOW.yaml --corpus DIR` (a folder of subject folders of .c3d files) "
                          "or set cohort.corpus in the workflow file")
    folder = check_input_folder(Path(cohort.corpus), "cohort.corpus (--corpus)", "C3D corpus folder")
    if cohort.ingest_config:
        ingest_config(cohort)
    if cohort.subjects_table:
        check_input_file(Path(cohort.subjects_table), "cohort.subjects_table", "subjects CSV")
    return folder


def ingest_config(cohort: CohortStep):
    """The ``IngestConfig`` of the workflow: its ``cohort.ingest_config`` YAML, else the defaults."""
    from gait2hip.ingest.config import IngestConfig

    return IngestConfig.from_yaml(cohort.ingest_config) if cohort.ingest_config else IngestConfig()


def ingest_cohort(cohort: CohortStep, out: Path, *, force: bool, progress: Callable[[str], None]) -> Path:
    """Ingest the corpus into ``out/cohort`` unless it is there from the same corpus and settings; return the folder.

    Raises
    ------
    WorkflowError
        If no subject of the corpus could be ingested (each subject's reason is printed).
    """
    from gait2hip.ingest.corpus import SUMMARY_FILE, ingest_corpus
    from gait2hip.workflows.run_workflow import WorkflowError

    corpus = check_corpus(cohort).resolve()
    config = ingest_config(cohort)
    folder = out / COHORT_FOLDER
    wanted = {"corpus": str(corpus), "include": list(cohort.include), "exclude": list(cohort.exclude),
              "settings": json.loads(json.dumps(config.to_dict()))}
    recorded = _recorded(folder / SUMMARY_FILE)
    if not force and (folder / "cohort.yaml").is_file() and recorded is not None and all(
            recorded.get(key) == value for key, value in wanted.items()):
        counts = recorded.get("counts", {})
        progress(f"      cohort already ingested from {corpus} in {folder} "
                 f"({counts.get('subjects_written', '?')} subjects, {counts.get('trials_written', '?')} trials)")
        return folder
    subjects = None
    if cohort.subjects_table:
        from gait2hip.ingest.subject_table import read_subject_table

        subjects = read_subject_table(cohort.subjects_table)
    progress(f"      ingesting the C3D corpus {corpus} into {folder}"
             + (f" (include {', '.join(cohort.include)})" if cohort.include else ""))
    report = ingest_corpus(corpus, folder, config=config, include=tuple(cohort.include), exclude=tuple(cohort.exclude),
                           overwrite=True, subjects=subjects, progress=lambda line: progress(f"        {line}"))
    if not report.written:
        raise WorkflowError(f"no subject of {corpus} could be ingested; see {report.summary_path}")
    return folder


def ingest_facts(cohort_dir: Path) -> dict | None:
    """Counts and the files not ingested (with reasons) from the cohort's ingest ``summary.json``; None without one."""
    recorded = _recorded(Path(cohort_dir) / "summary.json")
    if recorded is None or recorded.get("kind") != "gait2hip.ingest_corpus":
        return None
    not_ingested = [{"subject": subject.get("id"), "file": entry.get("file"), "status": entry.get("status"),
                     "reason": entry.get("reason")}
                    for subject in recorded.get("subjects", []) for entry in subject.get("files", [])
                    if entry.get("status") in ("failed", "skipped")]
    protocols = sorted({entry.get("protocol") for subject in recorded.get("subjects", [])
                        for entry in subject.get("files", []) if entry.get("protocol")})
    return {"corpus": recorded.get("corpus"), "include": recorded.get("include", []),
            "counts": recorded.get("counts", {}), "protocols": protocols, "not_ingested": not_ingested}


def measured_facts(cohort_dir: Path, labels_dir: Path) -> dict:
    """The ingest counts, each trial's QC row, the QC counts and peak hip moments, for the summary and the report."""
    from gait2hip.workflows.hip_moment_norms import peak_hip_moments
    from gait2hip.workflows.measured_cohort import ingest_facts
    from gait2hip.workflows.trial_qc import qc_counts, read_trial_qc

    rows = read_trial_qc(labels_dir)
    peaks = {}
    for row in rows:
        if row.summary_path is not None:
            peaks[row.key] = peak_hip_moments(row.summary_path.parent, json.loads(row.summary_path.read_text()))
    return {"ingest": ingest_facts(cohort_dir), "qc": [row.to_json() for row in rows], "qc_counts": qc_counts(rows),
            "peak_hip_moments_nm_per_kg": peaks}


def _recorded(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
