"""``gait2hip ingest corpus``: a folder of subjects → a whole cohort, with a summary, filters and reasons."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pytest
import yaml

from gait2hip.ingest.corpus import Status, ingest_corpus
from gait2hip.ingest.subject_table import read_subject_table
from gait2hip.pipeline.cohort import discover_cohort
from gait2hip.workflows.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "realdata" / "biomechzoo"
WALK = DATA / "HC055A09.c3d"  # PROCESSING: Bodymass 32 kg, Height 1440 mm
STATIC = DATA / "HC040A04.c3d"


@pytest.fixture
def corpus(tmp_path) -> Path:
    """biomechZoo's layout: SUBJECT/{static,straight,turn}/*.c3d (the vendored files, copied)."""
    root = tmp_path / "corpus"
    for folder, source, name in (("static", STATIC, "HC055A01.c3d"), ("straight", WALK, "HC055A09.c3d"),
                                 ("turn", WALK, "HC055A34.c3d")):
        (root / "HC055A" / folder).mkdir(parents=True)
        shutil.copy(source, root / "HC055A" / folder / name)
    return root


def _files(report, subject_id):
    subject = next(s for s in report.subjects if s.subject_id == subject_id)
    return {outcome.file: outcome for outcome in subject.files}


def test_corpus_becomes_a_cohort_the_pipeline_reads(corpus, tmp_path):
    report = ingest_corpus(corpus, tmp_path / "cohort", include=("*/straight/*",))
    cohort = discover_cohort(tmp_path / "cohort")
    assert report.complete and cohort.synthetic is False and cohort.model == "gait2392"
    assert [s.info.subject_id for s in cohort.subjects] == ["HC055A"]
    assert [t.trial_id for t in cohort.trials] == ["HC055A09"]
    assert cohort.subjects[0].info.mass_kg == pytest.approx(25.0)  # the static trial's PROCESSING comes first


def test_include_keeps_only_the_walks_it_matches_and_lists_the_others(corpus, tmp_path):
    report = ingest_corpus(corpus, tmp_path / "cohort", include=("*/straight/*",))
    files = _files(report, "HC055A")
    assert files["HC055A/turn/HC055A34.c3d"].status == Status.FILTERED
    assert files["HC055A/static/HC055A01.c3d"].status == Status.OK  # the static trial is always looked for
    assert sorted(p.name for p in (tmp_path / "cohort" / "HC055A" / "trials").iterdir()) == ["HC055A09"]


def test_exclude_leaves_a_file_out(corpus, tmp_path):
    report = ingest_corpus(corpus, tmp_path / "cohort", exclude=("*/turn/*",))
    assert _files(report, "HC055A")["HC055A/turn/HC055A34.c3d"].reason == "matched by --exclude"
    assert not (tmp_path / "cohort" / "HC055A" / "trials" / "HC055A34").exists()


def test_a_subject_without_static_trial_is_listed_with_its_reason_and_not_written(corpus, tmp_path):
    (corpus / "HC099A").mkdir()
    shutil.copy(WALK, corpus / "HC099A" / "walk 01.c3d")
    report = ingest_corpus(corpus, tmp_path / "cohort", include=("*/straight/*", "HC099A/*"))
    missing = next(s for s in report.subjects if s.subject_id == "HC099A")
    assert missing.status == Status.FAILED and missing.reason.startswith("no static trial: add a file or folder named")
    assert [f.status for f in missing.files] == [Status.SKIPPED]
    assert not (tmp_path / "cohort" / "HC099A").exists()
    assert [s.info.subject_id for s in discover_cohort(tmp_path / "cohort").subjects] == ["HC055A"]


def test_a_trial_that_fails_does_not_sink_its_subject(corpus, tmp_path):
    (corpus / "HC055A" / "straight" / "HC055A10.c3d").write_bytes(b"\x00" * 600)
    report = ingest_corpus(corpus, tmp_path / "cohort", include=("*/straight/*",))
    files = _files(report, "HC055A")
    broken = files["HC055A/straight/HC055A10.c3d"]
    assert broken.status == Status.FAILED and "\n" not in broken.reason and "not a C3D file" in broken.reason
    assert report.subjects[0].status == Status.PARTIAL
    assert [t.trial_id for t in discover_cohort(tmp_path / "cohort").trials] == ["HC055A09"]
    assert not any(p.name.startswith(".") for p in (tmp_path / "cohort").rglob("*"))  # no staging left behind


def test_reingesting_a_corpus_writes_the_same_bytes(corpus, tmp_path):
    cohort = tmp_path / "cohort"
    ingest_corpus(corpus, cohort, include=("*/straight/*",))
    first = tmp_path / "first"
    shutil.copytree(cohort, first)
    ingest_corpus(corpus, cohort, include=("*/straight/*",), overwrite=True)
    files = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(cohort)) for p in cohort.rglob("*") if p.is_file())
    assert {"cohort.yaml", "summary.json", "HC055A/static.trc", "HC055A/subject.yaml"} <= set(files)
    _, mismatch, errors = filecmp.cmpfiles(first, cohort, files, shallow=False)
    assert mismatch == [] and errors == []


def test_an_existing_subject_is_kept_without_overwrite(corpus, tmp_path):
    ingest_corpus(corpus, tmp_path / "cohort", include=("*/straight/*",))
    (tmp_path / "cohort" / "HC055A" / "note.txt").write_text("mine")
    report = ingest_corpus(corpus, tmp_path / "cohort", include=("*/straight/*",))
    assert report.subjects[0].status == Status.FAILED and "pass --overwrite" in report.subjects[0].reason
    assert (tmp_path / "cohort" / "HC055A" / "note.txt").exists()


def test_summary_records_each_files_protocol_and_status(corpus, tmp_path):
    report = ingest_corpus(corpus, tmp_path / "cohort", include=("*/straight/*",))
    summary = json.loads(report.summary_path.read_text())
    assert summary["kind"] == "gait2hip.ingest_corpus"
    files = {entry["file"]: entry for entry in summary["subjects"][0]["files"]}
    walk = files["HC055A/straight/HC055A09.c3d"]
    assert walk["status"] == "ok" and walk["trial"] == "HC055A09" and walk["protocol"] == "plug_in_gait"
    assert walk["protocol_choice"]["how"] == "auto" and walk["protocol_choice"]["score"] > 0
    assert files["HC055A/static/HC055A01.c3d"]["static_by"] == "folder name"
    assert summary["counts"]["trials_written"] == 1


def test_a_still_file_is_the_static_trial_when_none_is_named_static(scenarios, tmp_path):
    subject = tmp_path / "corpus" / "S01"
    subject.mkdir(parents=True)
    scenarios.write_c3d(subject / "trial_a.c3d", scenarios.static_scenario())
    scenarios.write_c3d(subject / "trial_b.c3d", scenarios.walking_scenario())
    table = tmp_path / "subjects.csv"
    table.write_text("id,mass_kg,height_m\nS01,70,1.7\n")
    report = ingest_corpus(tmp_path / "corpus", tmp_path / "cohort", subjects=read_subject_table(table))
    files = _files(report, "S01")
    assert files["S01/trial_a.c3d"].role == "static" and files["S01/trial_a.c3d"].details["static_by"] == "little motion"
    assert files["S01/trial_b.c3d"].trial_id == "trial_b"


def test_the_subject_table_gives_mass_and_height_the_files_lack(scenarios, tmp_path):
    subject = tmp_path / "corpus" / "S01"
    subject.mkdir(parents=True)
    scenarios.write_c3d(subject / "Static 1.c3d", scenarios.static_scenario())
    scenarios.write_c3d(subject / "walk.c3d", scenarios.walking_scenario())
    report = ingest_corpus(tmp_path / "corpus", tmp_path / "cohort")
    assert report.subjects[0].status == Status.FAILED and "--subjects FILE.csv" in report.subjects[0].reason
    table = tmp_path / "subjects.csv"
    table.write_text("id,mass_kg,height_m,group\nS01,70.5,1.71,antalgic-hip\n")
    ingest_corpus(tmp_path / "corpus", tmp_path / "cohort", subjects=read_subject_table(table))
    written = yaml.safe_load((tmp_path / "cohort" / "S01" / "subject.yaml").read_text())
    assert written == {"id": "S01", "mass_kg": 70.5, "height_m": 1.71, "group": "antalgic-hip", "affected_side": None}


def test_cli_prints_a_line_per_file_and_exits_1_when_a_subject_is_missing(corpus, tmp_path, capsys):
    (corpus / "HC099A").mkdir()
    shutil.copy(WALK, corpus / "HC099A" / "walk.c3d")
    code = main(["ingest", "corpus", str(corpus), "--out", str(tmp_path / "cohort"), "--include", "*/straight/*",
                 "HC099A/*"])
    out = capsys.readouterr().out
    assert code == 1
    assert "HC055A  static   HC055A/static/HC055A01.c3d → static.trc (plug_in_gait (auto, score" in out
    assert "HC055A  filtered HC055A/turn/HC055A34.c3d (--include)" in out
    assert "HC099A: FAILED: no static trial" in out
    assert (tmp_path / "cohort" / "summary.json").is_file()
