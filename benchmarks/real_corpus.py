"""A C3D corpus of real walks, trial by trial: QC, valid frames and peak hip moments against published norms.

Ingests the corpus (`gait2hip ingest corpus`), labels it with OpenSim (`gait2hip label`), or
reads a labels folder already written (--labels), then prints one line per trial: status,
valid frames per leg of the trial's frames, whether a whole gait cycle of each leg is valid,
the IK marker RMS / max error (full-weight markers), the peak pelvis residual over the
residual frames, and the peak hip moments (extensor, flexor, abductor, adductor, internal and
external rotator; Nm/kg over each leg's valid frames) against published normative ranges.

Children (typically developing, free speed): Schwartz, Rozumalski & Trost 2008, J Biomech
41:1639-1650, supplementary data; sagittal and frontal moments only, so rotation has no range.
Adults: not available (no tabulated source checked; Fukuchi et al. 2018, PeerJ 6:e4640,
publish raw data only). The ranges and how they were read: gait2hip.workflows.hip_moment_norms.

    .venv/bin/python benchmarks/real_corpus.py CORPUS [--out DIR] [--include GLOB ...] [--jobs N]
    .venv/bin/python benchmarks/real_corpus.py --labels LABELS_DIR

Writes OUT/summary.json (kind gait2hip.bench.real_corpus): every row, the counts and the norms.
Labelling is resumable: a second call reuses the labels of unchanged trials.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from gait2hip.core.atomic import write_json_atomically
from gait2hip.workflows.hip_moment_norms import ADULTS, CHILDREN, PEAKS, norms_markdown, peak_hip_moments
from gait2hip.workflows.trial_qc import MISSING, SIDES, qc_counts, qc_counts_markdown, read_trial_qc

logger = logging.getLogger("real_corpus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, nargs="?", help="C3D corpus: a folder of subject folders")
    parser.add_argument("--out", type=Path, default=Path("runs/real_corpus"), help="cohort/, labels/, summary.json")
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="walking trials to keep (corpus-relative, e.g. '*/straight/*'); repeatable")
    parser.add_argument("--jobs", type=int, default=2, help="parallel labelling tasks")
    parser.add_argument("--labels", type=Path, default=None, help="a labels folder already written: no ingest, no labelling")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if (args.corpus is None) == (args.labels is None):
        parser.error("give a CORPUS to ingest and label, or --labels DIR to read")
    started = time.perf_counter()
    labels_dir = args.labels or _ingest_and_label(args.corpus, args.out, tuple(args.include), args.jobs)
    rows = read_trial_qc(labels_dir)
    peaks = {row.key: (peak_hip_moments(row.summary_path.parent, json.loads(row.summary_path.read_text()))
                       if row.summary_path else None) for row in rows}
    print(_table(rows, peaks))
    print(qc_counts_markdown(rows))
    print()
    print(norms_markdown())
    out = args.out
    summary = {"kind": "gait2hip.bench.real_corpus", "corpus": None if args.corpus is None else str(args.corpus.resolve()),
               "labels": str(Path(labels_dir).resolve()), "include": args.include, "counts": qc_counts(rows),
               "trials": [row.to_json() | {"peak_hip_moments_nm_per_kg": peaks[row.key]} for row in rows],
               "norms_nm_per_kg": {"children": {name: vars(CHILDREN[name]) for name, *_ in PEAKS},
                                   "adults": {name: vars(ADULTS[name]) for name, *_ in PEAKS}},
               "wall_time_s": time.perf_counter() - started}
    path = write_json_atomically(Path(out) / "summary.json", summary)
    print(f"summary: {path}")


def _ingest_and_label(corpus: Path, out: Path, include: tuple[str, ...], jobs: int) -> Path:
    from gait2hip.ingest.corpus import ingest_corpus
    from gait2hip.pipeline.batch import BatchOptions, label_cohort
    from gait2hip.pipeline.config import PipelineConfig
    from gait2hip.pipeline.opensim_log import keep_opensim_console_quiet

    keep_opensim_console_quiet()
    begin = time.perf_counter()
    report = ingest_corpus(corpus, out / "cohort", include=include, overwrite=True)
    print(f"ingest: {len(report.written)} of {len(report.subjects)} subjects written in {time.perf_counter() - begin:.0f} s")
    batch = label_cohort(out / "cohort", out / "labels", PipelineConfig(), BatchOptions(jobs=jobs, quiet=True))
    print(f"label: {batch.n_trials} trials ({batch.n_ok} ok, {batch.n_warn} warn, {batch.n_failed} failed, "
          f"{batch.n_skipped} reused) in {batch.wall_time_s:.0f} s with {jobs} jobs")
    return out / "labels"


def _table(rows, peaks) -> str:
    """One line per trial and leg: QC, then the peaks with the children's range check (✓ inside, ✗ outside)."""
    names = [label for *_, label in PEAKS]
    lines = ["| trial | status | leg | valid frames of n | valid share of a cycle | IK RMS / max (mm) "
             "| residual % BW (frames) | after RRA % BW | " + " | ".join(names) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(names)]
    for row in rows:
        for side in SIDES:
            first = side == SIDES[0]
            valid = f"{_text(row.valid_frames.get(side))} of {_text(row.n_frames)}"
            share = row.cycle_valid_share.get(side)
            cycle = MISSING if share is None else f"{100 * share:.0f} %"
            marker = (f"{_mm(row.ik_marker_rms_m)} / {_mm(row.ik_marker_max_m)}" if first else "")
            residual = ((MISSING if row.peak_residual_pct_bw is None else f"{row.peak_residual_pct_bw:.1f}")
                        + f" ({_text(row.residual_frames)})") if first else ""
            after_rra = ((MISSING if row.rra_residual_pct_bw is None else f"{row.rra_residual_pct_bw:.1f}")
                         if first else "")
            cells = []
            for name, *_ in PEAKS:
                value = None if peaks.get(row.key) is None else peaks[row.key][side][name]
                inside = CHILDREN[name].contains(value)
                cells.append(MISSING if value is None else f"{value:.2f}" + ("" if inside is None else " ✓" if inside else " ✗"))
            lines.append(f"| {row.key if first else ''} | {row.status if first else ''} | {side} | {valid} | {cycle} | "
                         f"{marker} | {residual} | {after_rra} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _text(value) -> str:
    return MISSING if value is None else str(value)


def _mm(value_m) -> str:
    return MISSING if value_m is None else f"{value_m * 1000:.1f}"


if __name__ == "__main__":
    main()
