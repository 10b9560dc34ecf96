"""The report of a measured-data run that stops after labelling (ingest → label → report).

Built from the run's ``summary.json`` entries written by
:func:`gait2hip.workflows.measured_cohort.measured_facts`: the ingest counts, one QC row per
trial, the QC counts and the peak hip moments; nothing is typed by hand.
"""

from __future__ import annotations

from gait2hip.workflows.hip_moment_norms import norms_markdown, peaks_markdown
from gait2hip.workflows.trial_qc import TrialQC, qc_counts_markdown, qc_table_markdown, trial_qc_from_json

MEASURED_NOTE = ("> **MEASURED data** (a C3D corpus of real overground walks): QC and OpenSim labels of each trial; "
                 "a leg's hip moments and muscle forces are known only on its *valid frames* (its foot in swing or "
                 "on a force plate), the pelvis residual only where every loaded foot is on a plate.")
WHY_NO_TRAINING = ("No surrogate is trained (`train.enabled: false`): {n_subjects} subjects with {n_trials} walks are "
                   "too few for the subject-level train / validation / test split of the protocol, and a walk "
                   "crossing the plates once gives each leg at most one stance with a measured ground reaction; the "
                   "corpus serves as a QC and validation set. Set `train.enabled: true` (and `evaluate.external_groups: []`) to train on it anyway.")


def rows_from_summary(summary: dict) -> list[TrialQC]:
    """The QC rows recorded in the run's summary."""
    return [trial_qc_from_json(entry) for entry in summary.get("qc") or []]


def qc_section_markdown(summary: dict) -> str:
    """Ingest counts, the QC table with its counts, and the peak hip moments against the normative ranges."""
    rows = rows_from_summary(summary)
    lines = []
    ingest = summary.get("ingest")
    if ingest:
        counts = ingest.get("counts", {})
        files = counts.get("files", {})
        lines += ["## Ingest: C3D corpus → cohort", "",
                  f"Corpus `{ingest.get('corpus')}`" + (f", walking trials matching {', '.join(f'`{g}`' for g in ingest.get('include', []))}"
                                                       if ingest.get("include") else "")
                  + f": {counts.get('subjects_written', '–')} of {counts.get('subjects', '–')} subjects and "
                  f"{counts.get('trials_written', '–')} walking trials written; files "
                  + ", ".join(f"{n} {status}" for status, n in files.items() if n)
                  + (f"; marker protocol(s) {', '.join(ingest.get('protocols', []))}." if ingest.get("protocols") else "."),
                  ""]
        if ingest.get("not_ingested"):
            lines += ["Not ingested:", ""]
            lines += [f"- {entry['file']} ({entry['status']}): {entry['reason']}" for entry in ingest["not_ingested"]]
            lines.append("")
    lines += ["## Labels: QC per trial", "",
              "Valid frames: per leg, frames whose labels are known, of the trial's frames. Whole valid cycle: a "
              "gait cycle of that leg (heel strike to heel strike) inside its valid frames. IK marker error over "
              "the full-weight markers. Peak residual: pelvis residual force over the residual frames (every "
              "loaded foot on a plate). `–`: not in the trial's summary.", "",
              qc_table_markdown(rows), qc_counts_markdown(rows), ""]
    peaks = summary.get("peak_hip_moments_nm_per_kg")
    if peaks:
        lines += ["## Peak hip moments over valid frames against normative ranges", "",
                  "Nm/kg, each leg's valid frames; ✓ inside, ✗ outside the children's ±1 SD range.", "",
                  peaks_markdown(peaks), norms_markdown(), ""]
    return "\n".join(lines)


def measured_report_markdown(summary: dict) -> str:
    """The whole report of a run without training."""
    labelling = summary["labelling"]
    rows = rows_from_summary(summary)
    lines = [f"# gait2hip run: {summary['workflow']['name']}", "", MEASURED_NOTE, "",
             qc_section_markdown(summary),
             f"OpenSim labelling (scale → IK → ID → SO): {labelling['trials']} trials, {labelling['ok']} ok, "
             f"{labelling['warn']} warn, {labelling['failed']} failed; {labelling.get('reused', 0)} reused from an "
             f"earlier run; {labelling['wall_time_s']:.0f} s with {summary['workflow']['label']['jobs']} jobs. "
             "Failed trials (a QC fail limit) keep their QC figures and are left out of the label dataset.", "",
             WHY_NO_TRAINING.format(n_subjects=len({row.subject for row in rows}), n_trials=len(rows)), "",
             "## Reproduce", "", "```", summary.get("command", "gait2hip run WORKFLOW.yaml"), "```", "",
             "Step times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in summary["step_seconds"].items()),
             ""]
    return "\n".join(lines)


def measured_compact_markdown(summary: dict, page_link: str) -> str:
    """The README block: the QC table without reasons, its counts, and a link to the full report."""
    rows = rows_from_summary(summary)
    return "\n".join([MEASURED_NOTE, "", qc_table_markdown(rows, with_reasons=False), qc_counts_markdown(rows)
                      + f" Full report (ingest, reasons, peak hip moments against normative ranges): "
                        f"[{page_link}]({page_link})."]) + "\n"
