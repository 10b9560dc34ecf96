"""The QC report of a measured-data run, built from real trials' ``summary.json`` files.

``data/real_labels`` holds three summaries written by the pipeline for biomechZoo straight
walks (HC030A05: warn, the current summary format with ``ik_marker_errors`` and the
``*_all_m`` totals; HC039A17 and HC002D06: failed QC, an earlier format), ``data/real_cohort``
their ``trial.yaml`` files. The summaries point at the cohort by absolute paths of the machine
that wrote them; each test copies both into ``tmp_path`` and points the summaries there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gait2hip.workflows.hip_moment_norms import CHILDREN, peak_hip_moments
from gait2hip.workflows.measured_cohort import measured_facts
from gait2hip.workflows.measured_report import measured_report_markdown
from gait2hip.workflows.report import readme_markers, update_readme
from gait2hip.workflows.trial_qc import qc_counts, qc_table_markdown, read_trial_qc, trial_qc_from_summary

DATA = Path(__file__).parent / "data"
TRIALS = ("HC002D/HC002D06", "HC030A/HC030A05", "HC039A/HC039A17")


@pytest.fixture
def labels(tmp_path) -> Path:
    """A labels folder of the three real summaries, their markers path pointing at a copied cohort."""
    cohort = shutil.copytree(DATA / "real_cohort", tmp_path / "cohort")
    folder = shutil.copytree(DATA / "real_labels", tmp_path / "labels")
    for path in folder.glob("*/trials/*/summary.json"):
        summary = json.loads(path.read_text())
        subject, trial = summary["trial_id"].split("/")
        summary["inputs"]["markers"] = str(cohort / subject / "trials" / trial / "markers.trc")
        path.write_text(json.dumps(summary))
    return folder


def test_one_row_per_trial_with_its_status(labels):
    rows = read_trial_qc(labels)

    assert [(row.key, row.status) for row in rows] == [
        ("HC002D/HC002D06", "failed"), ("HC030A/HC030A05", "warn"), ("HC039A/HC039A17", "failed")]


def test_row_holds_the_summarys_figures(labels):
    row = {row.key: row for row in read_trial_qc(labels)}["HC030A/HC030A05"]

    assert (row.valid_frames, row.n_frames, row.residual_frames) == ({"r": 117, "l": 124}, 197, 74)
    assert row.ik_marker_rms_m == pytest.approx(0.010207, abs=1e-6)
    assert row.ik_marker_max_m == pytest.approx(0.032187, abs=1e-6)
    assert row.peak_residual_pct_bw == pytest.approx(9.44, abs=0.01)


def test_cycle_cut_short_by_the_next_off_plate_stance_is_not_a_whole_valid_cycle(labels):
    # HC030A05's right cycle is 3.027-4.040 s; its right leg is valid over 2.85-3.95 s only (the
    # next stance is on the floor, and the frames before it are dropped with it).
    row = {row.key: row for row in read_trial_qc(labels)}["HC030A/HC030A05"]

    assert row.whole_valid_cycle == {"r": False, "l": False}
    # 3.027-3.95 s of the 3.027-4.040 s cycle.
    assert row.cycle_valid_share["r"] == pytest.approx((3.95 - 3.027) / (4.040 - 3.027), abs=0.01)


def test_cycle_inside_a_valid_window_is_a_whole_valid_cycle(labels, tmp_path):
    path = labels / "HC030A" / "trials" / "HC030A05" / "summary.json"
    summary = json.loads(path.read_text())
    summary["valid_frames"]["legs"]["r"]["valid_windows"] = [{"start_s": 2.85, "end_s": 4.05}]

    assert trial_qc_from_summary(summary, path).whole_valid_cycle["r"] is True


def test_absent_keys_are_shown_as_a_dash():
    row = trial_qc_from_summary({"trial_id": "S01/walk1", "status": "ok", "qc": {}}, None)

    table = qc_table_markdown([row])

    assert "| S01/walk1 | ok | – / – of – | – / – | – / – | – (– frames) | – |" in table


def test_trial_without_a_summary_comes_from_the_manifest(labels):
    pd.DataFrame([{"subject": "HC044A", "trial": "HC044A15", "status": "failed",
                   "error": "inputs: markers.trc not found"}]).to_parquet(labels / "manifest.parquet")

    row = {row.key: row for row in read_trial_qc(labels)}["HC044A/HC044A15"]

    assert (row.status, row.reasons) == ("failed", ("inputs: markers.trc not found",))


def test_counts_by_status_and_whole_cycles(labels):
    # HC002D06's left cycle (2.281-3.15 s) lies inside its left leg's valid window (1.90-3.15 s);
    # its right cycle ends at 2.71 s, one frame after the right leg's window (to 2.70 s).
    counts = qc_counts(read_trial_qc(labels))

    assert counts == {"trials": 3, "by_status": {"failed": 2, "warn": 1},
                      "whole_valid_cycle_any_leg": 1, "whole_valid_cycle_both_legs": 0}


def _summary(labels: Path, tmp_path: Path) -> dict:
    summary = {"kind": "gait2hip.run", "command": "gait2hip run workflows/real_biomechzoo.yaml --corpus CORPUS",
               "workflow": {"name": "real_biomechzoo", "label": {"jobs": 2}}, "out": str(tmp_path),
               "cohort": str(tmp_path / "cohort"), "dataset": None, "checkpoints": {}, "evaluations": {},
               "timing": None, "step_seconds": {"ingest": 14.0, "label": 600.0, "report": 1.0},
               "labelling": {"trials": 3, "ok": 0, "warn": 1, "failed": 2, "reused": 0, "wall_time_s": 600.0,
                             "failures": []}}
    summary.update(measured_facts(tmp_path / "cohort", labels))
    return summary


def test_report_has_a_qc_row_per_trial_and_the_counts(labels, tmp_path):
    report = measured_report_markdown(_summary(labels, tmp_path))

    for key in TRIALS:
        assert f"| {key} |" in report
    assert "3 trials: 2 failed, 1 warn" in report
    assert "peak_pelvis_residual_force_pct_bw = 11.06 % BW > fail limit 10" in report


def test_update_readme_puts_the_compact_qc_table_in_the_readme_and_the_reasons_on_the_page(labels, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps(_summary(labels, tmp_path)))
    start, end = readme_markers("real_biomechzoo")
    readme = tmp_path / "repo" / "README.md"
    readme.parent.mkdir()
    readme.write_text(f"# project\n\n{start}\nold\n{end}\n\nafter\n")

    page = update_readme(readme, out, "gait2hip run workflows/real_biomechzoo.yaml --corpus CORPUS")

    text = readme.read_text()
    assert "| HC030A/HC030A05 | warn | 117 / 124 of 197 | 91 % / 92 % | 10.2 / 32.2 | 9.4 (74 frames) | – |" in text
    assert "fail limit" not in text and text.endswith("\nafter\n")
    assert page == readme.parent / "docs" / "results" / "real_biomechzoo.md"
    assert "fail limit 10" in page.read_text()


def test_peak_hip_moments_are_taken_over_each_legs_valid_frames(tmp_path):
    # Right leg: a flexor moment of 0.5 Nm/kg on a valid frame, 3.0 on an invalid one (ignored).
    table = pd.DataFrame({"time": [0.0, 0.01, 0.02],
                          "hip_flexion_r_moment": [0.5, -0.8, 3.0], "hip_adduction_r_moment": [-0.6, 0.1, 0.0],
                          "hip_rotation_r_moment": [0.05, -0.02, 0.0],
                          "hip_flexion_l_moment": [0.0, 0.0, 0.0], "hip_adduction_l_moment": [0.0, 0.0, 0.0],
                          "hip_rotation_l_moment": [0.0, 0.0, 0.0],
                          "valid_r": [True, True, False], "valid_l": [False, False, False]})
    table.to_parquet(tmp_path / "labels.parquet")

    peaks = peak_hip_moments(tmp_path, {})

    assert peaks["r"] == pytest.approx({"extension": 0.8, "flexion": 0.5, "abduction": 0.6, "adduction": 0.1,
                                        "internal_rotation": 0.05, "external_rotation": 0.02})
    assert all(value is None for value in peaks["l"].values())


def test_childrens_normative_ranges_come_with_their_source_and_rotation_is_not_available():
    assert CHILDREN["extension"].contains(0.8) is True
    assert CHILDREN["abduction"].contains(1.2) is False
    assert CHILDREN["internal_rotation"].text() == "not available"
    assert "Schwartz" in CHILDREN["flexion"].source
    assert np.isclose(CHILDREN["flexion"].mean_nm_per_kg, 0.62)
