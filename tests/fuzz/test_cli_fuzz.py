"""Malformed ``gait2hip`` invocations: each ends in one message naming what is wrong, never a traceback.

A table of bad values per option and bad files per file argument, over every sub-command, run
in-process through :func:`gait2hip.workflows.cli.main`. Every case must exit non-zero, print
no traceback and no ``internal error``, name the offending option or file, be rejected
quickly (before any long OpenSim stage), and leave no output that looks valid.

The few valid inputs the cases need (a label dataset, a tiny trained checkpoint, an angle CSV)
are built once per module, without OpenSim, on a small table this module writes itself.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gait2hip.workflows.cli import main

ANGLES = [f"{joint}_{side}" for side in "rl" for joint in
          ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle")]
TARGETS = ["hip_flexion_r_moment", "hip_flexion_l_moment", "glut_med1_r_force", "glut_med1_l_force"]
# Every case is rejected before any long stage; one that is not would run for minutes.
CASE_SECONDS = 30
# Files whose presence after a failed invocation would look like a finished result.
REAL_C3D_WALK = Path(__file__).parents[1] / "data" / "realdata" / "biomechzoo" / "HC040A14.c3d"
RESULT_NAMES = ("summary.json", "best.pt", "last.pt", "labels.parquet", "manifest.parquet", "manifest.csv",
                "results.csv", "results.md", "timing.md", "validation.json", "report.md", "cohort.yaml",
                "history.json")


def _label_table(n_healthy: int = 4, frames: int = 120, nan_targets: bool = False) -> pd.DataFrame:
    """A small label table: smooth angles (deg) and targets that depend on them, per subject."""
    rows = []
    time = np.arange(frames) / 100.0
    subjects = [(f"S{i + 1:02d}", "healthy") for i in range(n_healthy)] + [("A01", "antalgic-hip")]
    for number, (subject, group) in enumerate(subjects):
        phase = 2 * np.pi * time / 1.1 + 0.3 * number
        table = {"time": time}
        for k, name in enumerate(ANGLES):
            table[name] = (20 + 5 * k) * np.sin(phase + 0.4 * k)
        for k, name in enumerate(TARGETS):
            table[name] = np.nan if nan_targets else 0.1 * table[ANGLES[k]] + 0.05 * k
        table["stance_r"] = (np.sin(phase) > 0).astype(float)
        frame = pd.DataFrame(table).assign(subject=subject, trial="cadence_110_01", cadence_condition="cadence_110",
                                           group=group)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _write_dataset(folder: Path, table: pd.DataFrame) -> Path:
    folder.mkdir(parents=True)
    table.to_parquet(folder / "part-0.parquet", index=False)
    return folder


TINY_TRAINING = {
    "model": "lstm", "model_config": {"hidden_size": 4, "n_layers": 1, "bidirectional": False, "dropout": 0.0},
    "targets": ["moments", "forces"], "groups": ["healthy"], "split_fractions": [0.5, 0.25, 0.25],
    "segmentation": {"mode": "windows", "window_frames": 40, "window_stride_frames": 20},
    "mirror_left_cycles": False, "max_epochs": 1, "patience": 1, "batch_size": 4, "num_threads": 1,
}

# Training configs, each wrong in one key; the message must name the key.
BAD_TRAINING = {
    "learning_rate_negative": ({"learning_rate": -0.001}, "learning_rate"),
    "learning_rate_zero": ({"learning_rate": 0.0}, "learning_rate"),
    "learning_rate_nan": ({"learning_rate": float("nan")}, "learning_rate"),
    "learning_rate_inf": ({"learning_rate": float("inf")}, "learning_rate"),
    "learning_rate_text": ({"learning_rate": "fast"}, "learning_rate"),
    "weight_decay_negative": ({"weight_decay": -1.0}, "weight_decay"),
    "weight_decay_nan": ({"weight_decay": float("nan")}, "weight_decay"),
    "num_threads_zero": ({"num_threads": 0}, "num_threads"),
    "num_threads_negative": ({"num_threads": -2}, "num_threads"),
    "num_threads_float": ({"num_threads": 1.5}, "num_threads"),
    "model_unknown": ({"model": "gpt"}, "gpt"),
    "model_empty": ({"model": ""}, "model"),
    "dropout_two": ({"model_config": {**TINY_TRAINING["model_config"], "dropout": 2.0}}, "dropout"),
    "dropout_one": ({"model_config": {**TINY_TRAINING["model_config"], "dropout": 1.0}}, "dropout"),
    "dropout_negative": ({"model_config": {**TINY_TRAINING["model_config"], "dropout": -0.1}}, "dropout"),
    "hidden_size_zero": ({"model_config": {**TINY_TRAINING["model_config"], "hidden_size": 0}}, "hidden_size"),
    "n_layers_zero": ({"model_config": {**TINY_TRAINING["model_config"], "n_layers": 0}}, "n_layers"),
    "model_config_unknown_key": ({"model_config": {"hiden_size": 4}}, "hiden_size"),
    "max_epochs_zero": ({"max_epochs": 0}, "max_epochs"),
    "max_epochs_negative": ({"max_epochs": -5}, "max_epochs"),
    "patience_zero": ({"patience": 0}, "patience"),
    "batch_size_zero": ({"batch_size": 0}, "batch_size"),
    "lr_reduce_patience_negative": ({"lr_reduce_patience": -1}, "lr_reduce_patience"),
    "split_one_zero_zero": ({"split_fractions": [1.0, 0.0, 0.0]}, "split_fractions"),
    "split_negative": ({"split_fractions": [1.2, -0.1, -0.1]}, "split_fractions"),
    "split_not_summing": ({"split_fractions": [0.5, 0.5, 0.5]}, "split_fractions"),
    "split_two_values": ({"split_fractions": [0.5, 0.5]}, "split_fractions"),
    "split_too_small_for_dataset": ({"split_fractions": [0.9, 0.05, 0.05]}, "subjects"),
    "split_nan": ({"split_fractions": [float("nan"), 0.5, 0.5]}, "split_fractions"),
    "seed_negative": ({"seed": -1}, "seed"),
    "device_unknown": ({"device": "gpu"}, "device"),
    "targets_unknown": ({"targets": ["torques"]}, "torques"),
    "groups_unknown": ({"groups": ["healthy-ish"]}, "healthy-ish"),
    "segmentation_mode": ({"segmentation": {"mode": "strides"}}, "mode"),
    "window_frames_zero": ({"segmentation": {"mode": "windows", "window_frames": 0}}, "window_frames"),
    "window_stride_zero": ({"segmentation": {"mode": "windows", "window_stride_frames": 0}}, "window_stride_frames"),
    "unknown_key": ({"learning_rat": 0.01}, "learning_rat"),
}

# Workflow files, each wrong in one place; all must be refused before the first OpenSim call.
BAD_WORKFLOWS = {
    "unknown_model": ({"train": {"models": ["lstm", "gpt"]}}, "gpt"),
    "no_models": ({"train": {"models": []}}, "models"),
    "split_one_zero_zero": ({"train": {"split_fractions": [1.0, 0.0, 0.0]}}, "split_fractions"),
    "split_not_summing": ({"train": {"split_fractions": [0.3, 0.3, 0.3]}}, "split_fractions"),
    "max_epochs_zero": ({"train": {"max_epochs": 0}}, "max_epochs"),
    "patience_zero": ({"train": {"patience": 0}}, "patience"),
    "seed_negative": ({"train": {"seed": -3}}, "seed"),
    "external_group_misspelled": ({"evaluate": {"external_groups": ["antalgic"]}}, "antalgic"),
    "pipeline_config_missing": ({"label": {"pipeline_config": "/nonexistent/pipeline.yaml"}}, "pipeline.yaml"),
    "jobs_zero": ({"label": {"jobs": 0}}, "jobs"),
    "timeout_negative": ({"label": {"timeout_s": -5.0}}, "timeout_s"),
    "timeout_nan": ({"label": {"timeout_s": float("nan")}}, "timeout_s"),
    "n_trials_negative": ({"timing": {"n_trials": -1}}, "n_trials"),
    "repetitions_zero": ({"timing": {"repetitions": 0}}, "repetitions"),
    "timing_solvers_unknown": ({"timing": {"solvers": ["opensim", "nope"]}}, "solvers"),
    "preset_unknown": ({"cohort": {"preset": "no-such-preset"}}, "no-such-preset"),
    "cohort_folder_missing": ({"cohort": {"folder": "/nonexistent/cohort"}}, "/nonexistent/cohort"),
    "cohort_seed_negative": ({"cohort": {"seed": -1}}, "seed"),
    "unknown_key": ({"trian": {}}, "trian"),
    "unknown_step_key": ({"train": {"model": ["lstm"]}}, "train.model"),
    "wrong_type": ({"label": {"jobs": "two"}}, "label.jobs"),
}

# Sim-to-real protocol files, each wrong in one place; all must be refused before the first training.
BAD_SIM2REAL = {
    "unknown_key": ({"fold": 4}, "fold"),
    "unknown_step_key": ({"fine_tune": {"lr": 0.001}}, "fine_tune.lr"),
    "folds_one": ({"folds": 1}, "folds"),
    "folds_text": ({"folds": "five"}, "folds"),
    "folds_float": ({"folds": 2.5}, "folds"),
    "folds_more_than_subjects": ({"folds": 50}, "folds"),
    "validation_subjects_zero": ({"validation_subjects": 0}, "validation_subjects"),
    "validation_subjects_too_many": ({"validation_subjects": 4}, "validation_subjects"),
    "models_unknown": ({"models": ["lstm", "gpt"]}, "gpt"),
    "models_empty": ({"models": []}, "models"),
    "seed_negative": ({"seed": -1}, "seed"),
    "num_threads_zero": ({"num_threads": 0}, "num_threads"),
    "fine_tune_learning_rate_zero": ({"fine_tune": {"learning_rate": 0.0}}, "learning_rate"),
    "fine_tune_max_epochs_negative": ({"fine_tune": {"max_epochs": -1}}, "max_epochs"),
    "real_max_epochs_zero": ({"real": {"max_epochs": 0}}, "max_epochs"),
    "virtual_split_not_summing": ({"virtual": {"split_fractions": [0.5, 0.5, 0.5]}}, "split_fractions"),
    "virtual_dataset_missing": ({"virtual_dataset": "/nonexistent/virtual_dataset"}, "/nonexistent/virtual_dataset"),
    "real_dataset_missing": ({"real_dataset": "/nonexistent/real_dataset"}, "/nonexistent/real_dataset"),
    "real_dataset_none": ({"real_dataset": None}, "real_dataset"),
    "virtual_models_dir_missing": ({"virtual_models_dir": "/nonexistent/models"}, "/nonexistent/models"),
    "training_configs_dir_missing": ({"training_configs_dir": "/nonexistent/configs"}, "/nonexistent/configs"),
}


@dataclass
class Files:
    """The shared inputs of the cases (built once per module)."""

    paths: dict[str, str]
    root: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    root = tmp_path_factory.mktemp("fuzz")
    paths: dict[str, Path] = {}
    paths["data"] = _write_dataset(root / "dataset", _label_table())
    paths["nan_data"] = _write_dataset(root / "nan_dataset", _label_table(nan_targets=True))
    paths["no_subject_data"] = _write_dataset(root / "no_subject_dataset", _label_table().drop(columns="subject"))
    paths["cfg"] = root / "tiny.yaml"
    paths["cfg"].write_text(yaml.safe_dump(TINY_TRAINING))
    run = root / "run"
    code = main(["train", "--config", str(paths["cfg"]), "--data", str(paths["data"]), "--out", str(run)])
    assert code == 0
    paths["ckpt"] = run / "best.pt"
    paths["file"] = root / "a_file.txt"
    paths["file"].write_text("not a folder\n")
    paths["under_file"] = paths["file"] / "sub"
    paths["dir"] = root / "a_folder"
    paths["dir"].mkdir()
    paths["missing"] = root / "does_not_exist"
    paths["empty"] = root / "empty.pt"
    paths["empty"].write_bytes(b"")
    paths["text"] = root / "text.pt"
    paths["text"].write_text("this is a text file, not a checkpoint\n")
    paths["truncated"] = root / "truncated.pt"
    paths["truncated"].write_bytes(paths["ckpt"].read_bytes()[:300])
    paths["latin1"] = root / "latin1.yaml"
    paths["latin1"].write_bytes("model: lstm  # Schl\xfcssel\n".encode("latin-1"))
    paths["list_yaml"] = root / "list.yaml"
    paths["list_yaml"].write_text("- 1\n- 2\n")
    paths["broken_yaml"] = root / "broken.yaml"
    paths["broken_yaml"].write_text("model: [lstm\n  : :\n")
    paths["binary_yaml"] = root / "binary.yaml"
    paths["binary_yaml"].write_bytes(bytes(range(256)))
    paths["empty_yaml"] = root / "empty.yaml"
    paths["empty_yaml"].write_text("")
    for name, (changes, _) in BAD_TRAINING.items():
        path = root / f"train_{name}.yaml"
        path.write_text(yaml.safe_dump({**TINY_TRAINING, **changes}))
        paths[f"train_{name}"] = path
    base_workflow = {"name": "fuzz", "out": str(root / "workflow_out"), "train": {"models": ["lstm"]}}
    for name, (changes, _) in BAD_WORKFLOWS.items():
        path = root / f"workflow_{name}.yaml"
        content = {**base_workflow, **{key: value for key, value in changes.items()}}
        path.write_text(yaml.safe_dump(content))
        paths[f"workflow_{name}"] = path
    paths["sim2real_configs"] = root / "sim2real_configs"
    paths["sim2real_configs"].mkdir()
    (paths["sim2real_configs"] / "lstm.yaml").write_text(yaml.safe_dump(TINY_TRAINING))
    base_sim2real = {"virtual_dataset": str(paths["data"]), "real_dataset": str(paths["data"]),
                     "out": str(root / "sim2real_out"), "models": ["lstm"], "folds": 2, "validation_subjects": 1,
                     "training_configs_dir": str(paths["sim2real_configs"])}
    paths["sim2real"] = root / "sim2real.yaml"
    paths["sim2real"].write_text(yaml.safe_dump(base_sim2real))
    for name, (changes, _) in BAD_SIM2REAL.items():
        path = root / f"sim2real_{name}.yaml"
        path.write_text(yaml.safe_dump({**base_sim2real, **changes}))
        paths[f"sim2real_{name}"] = path
    table = _label_table()
    trial = table[table["subject"] == "S01"]
    paths["csv"] = root / "angles.csv"
    trial[["time", *ANGLES]].to_csv(paths["csv"], index=False)
    paths["csv_missing_column"] = root / "angles_missing_column.csv"
    trial[["time", *ANGLES[:-1]]].to_csv(paths["csv_missing_column"], index=False)
    paths["csv_no_time"] = root / "angles_no_time.csv"
    trial[ANGLES].to_csv(paths["csv_no_time"], index=False)
    paths["csv_nan"] = root / "angles_nan.csv"
    trial[["time", *ANGLES]].assign(knee_angle_r=np.nan).to_csv(paths["csv_nan"], index=False)
    paths["csv_one_row"] = root / "angles_one_row.csv"
    trial[["time", *ANGLES]].head(1).to_csv(paths["csv_one_row"], index=False)
    paths["csv_empty"] = root / "angles_empty.csv"
    paths["csv_empty"].write_text("")
    paths["csv_latin1"] = root / "angles_latin1.csv"
    paths["csv_latin1"].write_bytes("time,h\xfcft\n0,1\n".encode("latin-1"))
    paths["csv_text"] = root / "angles.txt"
    paths["csv_text"].write_text("time\n0\n")
    paths["cohort"] = root / "empty_cohort"
    paths["cohort"].mkdir()
    paths["c3d_text"] = root / "walk.c3d"
    paths["c3d_text"].write_text("not a C3D file\n")
    # A measured walk (vendored, two plates; NOTICE beside it), for options judged against the file itself.
    paths["c3d_walk"] = REAL_C3D_WALK
    paths["trc_text"] = root / "static.trc"
    paths["trc_text"].write_text("not a TRC file\n")
    paths["mot_text"] = root / "grf.mot"
    paths["mot_text"].write_text("not a MOT file\n")
    paths["subject_latin1"] = root / "subject_latin1.yaml"
    paths["subject_latin1"].write_bytes("id: J\xf6rg\nmass_kg: 70\nheight_m: 1.7\n".encode("latin-1"))
    return Files({key: str(value) for key, value in paths.items()}, root)


@dataclass(frozen=True)
class Case:
    """One malformed invocation: argv with ``{placeholders}``, and text the message must hold."""

    id: str
    argv: tuple[str, ...]
    names: str


def _case(case_id: str, argv: str | list[str], names: str) -> Case:
    return Case(case_id, tuple(argv.split() if isinstance(argv, str) else argv), names)


BAD_COUNTS = ("0", "-1", "abc", "1.5", "nan", "")
BAD_FLOATS = ("nan", "inf", "-inf", "abc", "")
BAD_SEEDS = ("-1", "abc", "1.5", "99999999999")
BAD_CHECKPOINTS = ("missing", "empty", "text", "truncated", "dir")
BAD_OUT_DIRS = ("file", "under_file")


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append

    # label COHORT_DIR --out LABELS_DIR
    label = "label {cohort} --out {out}"
    for value in ("0", "-2", "abc", "1.5", "nan", ""):   # -1 is valid: one task per core
        add(_case(f"label-jobs-{value or 'empty'}", label.split() + ["--jobs", value], "--jobs"))
    for value in ("nan", "-inf", "abc", "", "0", "-5"):   # inf is valid: no limit
        add(_case(f"label-timeout-{value or 'empty'}", label.split() + ["--timeout", value], "--timeout"))
    add(_case("label-backend-unknown", label + " --backend threads", "--backend"))
    add(_case("label-scheduler-unreachable", label + " --backend dask --scheduler tcp://127.0.0.1:9", "--scheduler"))
    add(_case("label-scheduler-garbage", label + " --backend dask --scheduler not-an-address", "--scheduler"))
    add(_case("label-scheduler-bad-port", label + " --backend dask --scheduler tcp://127.0.0.1:99999", "--scheduler"))
    add(_case("label-scheduler-without-dask", label + " --scheduler tcp://127.0.0.1:9", "--scheduler"))
    for bad in ("missing", "latin1", "list_yaml", "broken_yaml", "binary_yaml", "dir"):
        add(_case(f"label-config-{bad}", label + f" --config {{{bad}}}", f"{{{bad}}}"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"label-out-{bad}", f"label {{cohort}} --out {{{bad}}}", f"{{{bad}}}"))
    for bad in ("missing", "file", "empty"):
        add(_case(f"label-cohort-{bad}", f"label {{{bad}}} --out {{out}}", f"{{{bad}}}"))
    add(_case("label-cohort-empty-folder", "label {dir} --out {out}", "{dir}"))

    # label-trial
    trial = "label-trial --static {trc_text} --markers {trc_text} --grf {mot_text} --out {out}"
    for value in ("0", "-70", "nan", "inf", "abc", ""):
        add(_case(f"label-trial-mass-{value or 'empty'}", trial.split() + ["--mass", value, "--height", "1.7"],
                  "--mass"))
    for value in ("0", "-1.7", "nan", "abc", "17"):
        add(_case(f"label-trial-height-{value}", trial.split() + ["--mass", "70", "--height", value], "height"))
    add(_case("label-trial-mass-only", trial + " --mass 70", "--height"))
    add(_case("label-trial-no-subject", trial, "--subject"))
    for value in ("../../x", "../x", "..", ".", "/tmp/escape", "a/b", "a\\b", "", " "):
        add(_case(f"label-trial-trial-id-{value or 'empty'}", trial.split() + ["--mass", "70", "--height", "1.7",
                                                                                "--trial-id", value], "--trial-id"))
    for bad in ("missing", "latin1", "list_yaml", "dir", "subject_latin1", "empty_yaml"):
        add(_case(f"label-trial-subject-{bad}", trial + f" --subject {{{bad}}}", f"{{{bad}}}"))
    for bad in ("missing", "latin1", "broken_yaml", "dir"):
        add(_case(f"label-trial-config-{bad}", trial + f" --mass 70 --height 1.7 --config {{{bad}}}", f"{{{bad}}}"))
    for option in ("static", "markers", "grf"):
        for bad in ("missing", "dir", "empty"):
            argv = trial.replace(f"--{option} ", f"--{option} {{{bad}}} --was-{option} ").split()
            argv = [a for i, a in enumerate(argv) if not (a.startswith("--was-") or argv[i - 1].startswith("--was-"))]
            add(_case(f"label-trial-{option}-{bad}", argv + ["--mass", "70", "--height", "1.7"], f"{{{bad}}}"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"label-trial-out-{bad}", trial.replace("{out}", f"{{{bad}}}") + " --mass 70 --height 1.7",
                  f"{{{bad}}}"))

    # ingest c3d
    ingest = "ingest c3d {c3d_text} --out {out}"
    for value in ("-1", "nan", "inf", "abc"):
        add(_case(f"ingest-lowpass-{value}", ingest.split() + ["--lowpass-hz", value], "--lowpass-hz"))
    for value in ("-5", "nan", "inf", "abc", "0"):
        add(_case(f"ingest-threshold-{value}", ingest.split() + ["--threshold-n", value], "--threshold-n"))
    for value in ("0", "-1", "abc"):
        add(_case(f"ingest-ignore-plates-{value}", ingest.split() + ["--ignore-plates", value], "--ignore-plates"))
    # A plate number the file does not have is refused once the file is read, naming the file and the number.
    for value in ("3", "99"):
        add(_case(f"ingest-ignore-plates-absent-{value}",
                  f"ingest c3d {{c3d_walk}} --out {{out}} --mass 70 --height 1.7 --ignore-plates 1 {value}",
                  f"ignore_plates (--ignore-plates) {value}"))
    for value in ("0", "-70", "nan", "abc"):
        add(_case(f"ingest-mass-{value}", ingest.split() + ["--mass", value, "--height", "1.7"], "--mass"))
    add(_case("ingest-vertical-axis", ingest + " --vertical-axis w", "vertical"))
    add(_case("ingest-forward-axis", ingest + " --forward-axis up", "forward"))
    add(_case("ingest-protocol-unknown", ingest + " --protocol no_such_protocol", "no_such_protocol"))
    add(_case("ingest-subject-id-escape", ingest + " --mass 70 --height 1.7 --subject-id ../x", "--subject-id"))
    for bad in ("missing", "latin1", "list_yaml", "broken_yaml", "dir"):
        add(_case(f"ingest-config-{bad}", ingest + f" --config {{{bad}}}", f"{{{bad}}}"))
    for bad in ("missing", "c3d_text", "empty", "dir"):
        add(_case(f"ingest-source-{bad}", f"ingest c3d {{{bad}}} --out {{out}}", f"{{{bad}}}"))
    add(_case("ingest-static-missing", ingest + " --static {missing}", "{missing}"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"ingest-out-{bad}", f"ingest c3d {{c3d_text}} --out {{{bad}}}", f"{{{bad}}}"))

    # synth
    synth = "synth --out {out}"
    for value in ("0", "-90", "nan", "abc", "", "inf", "1000", "90,,110", "90;110", "30", "90,nan"):
        add(_case(f"synth-cadences-{value or 'empty'}", synth.split() + [f"--cadences={value}"], "--cadences"))
    for value in BAD_COUNTS:
        add(_case(f"synth-subjects-{value or 'empty'}", synth.split() + ["--subjects", value], "--subjects"))
        add(_case(f"synth-trials-{value or 'empty'}", synth.split() + ["--trials", value], "--trials"))
    for value in BAD_SEEDS:
        add(_case(f"synth-seed-{value}", synth.split() + ["--seed", value], "--seed"))
    for value in ("0", "-1", "abc"):
        add(_case(f"synth-validate-subjects-{value}", synth.split() + ["--validate", "--validate-subjects", value],
                  "--validate-subjects"))
    add(_case("synth-group-unknown", synth + " --group elderly", "--group"))
    add(_case("synth-preset-unknown", synth + " --preset no_such_preset", "no_such_preset"))
    for bad in ("latin1", "list_yaml", "broken_yaml", "binary_yaml"):
        add(_case(f"synth-preset-{bad}", synth + f" --preset {{{bad}}}", f"{{{bad}}}"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"synth-out-{bad}", f"synth --out {{{bad}}}", f"{{{bad}}}"))

    # train
    train = "train --config {cfg} --data {data} --out {out}"
    for name, (_, named) in BAD_TRAINING.items():
        add(_case(f"train-config-{name}", f"train --config {{train_{name}}} --data {{data}} --out {{out}}", named))
    for bad in ("missing", "latin1", "list_yaml", "broken_yaml", "binary_yaml", "dir"):
        add(_case(f"train-config-file-{bad}", f"train --config {{{bad}}} --data {{data}} --out {{out}}", f"{{{bad}}}"))
    for bad in ("missing", "file", "dir", "no_subject_data"):
        add(_case(f"train-data-{bad}", f"train --config {{cfg}} --data {{{bad}}} --out {{out}}", f"{{{bad}}}"))
    add(_case("train-data-nan-labels", "train --config {cfg} --data {nan_data} --out {out}", "non-finite"))
    for value in BAD_SEEDS:
        add(_case(f"train-seed-{value}", train.split() + ["--seed", value], "--seed"))
    for value in BAD_COUNTS:
        add(_case(f"train-epochs-{value or 'empty'}", train.split() + ["--epochs", value], "--epochs"))
    add(_case("train-resume-nothing", train + " --resume", "--resume"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"train-out-{bad}", f"train --config {{cfg}} --data {{data}} --out {{{bad}}}", f"{{{bad}}}"))

    # evaluate
    for bad in BAD_CHECKPOINTS:
        add(_case(f"evaluate-checkpoint-{bad}", f"evaluate {{{bad}}} --data {{data}} --out {{out}}", f"{{{bad}}}"))
    for bad in ("missing", "file", "dir", "no_subject_data"):
        add(_case(f"evaluate-data-{bad}", f"evaluate {{ckpt}} --data {{{bad}}} --out {{out}}", f"{{{bad}}}"))
        add(_case(f"evaluate-external-{bad}", f"evaluate {{ckpt}} --data {{data}} --out {{out}} --external {{{bad}}}",
                  f"{{{bad}}}"))
    add(_case("evaluate-external-group-misspelled", "evaluate {ckpt} --data {data} --out {out} --external-group antalgic",
              "antalgic"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"evaluate-out-{bad}", f"evaluate {{ckpt}} --data {{data}} --out {{{bad}}}", f"{{{bad}}}"))

    # predict
    for bad in BAD_CHECKPOINTS:
        add(_case(f"predict-checkpoint-{bad}", f"predict {{{bad}}} {{csv}} --out {{out}}/p", f"{{{bad}}}"))
    for bad in ("missing", "dir", "csv_missing_column", "csv_no_time", "csv_nan", "csv_one_row", "csv_empty",
                "csv_latin1", "csv_text", "mot_text", "empty"):
        add(_case(f"predict-input-{bad}", f"predict {{ckpt}} {{{bad}}} --out {{out}}/p", f"{{{bad}}}"))
    for bad in ("file", "under_file", "dir"):
        add(_case(f"predict-out-{bad}", f"predict {{ckpt}} {{csv}} --out {{{bad}}}", f"{{{bad}}}"))

    # export
    for bad in BAD_CHECKPOINTS:
        add(_case(f"export-checkpoint-{bad}", f"export {{{bad}}} --out {{out}}/model.pt2", f"{{{bad}}}"))
    for bad in ("under_file", "dir"):
        add(_case(f"export-out-{bad}", f"export {{ckpt}} --out {{{bad}}}", f"{{{bad}}}"))

    # timing
    timing = "timing {cohort} --data {data} --checkpoint {ckpt} --out {out}"
    for bad in BAD_CHECKPOINTS:
        add(_case(f"timing-checkpoint-{bad}", timing.replace("{ckpt}", f"{{{bad}}}"), f"{{{bad}}}"))
    for value in BAD_COUNTS:
        add(_case(f"timing-n-trials-{value or 'empty'}", timing.split() + ["--n-trials", value], "--n-trials"))
        add(_case(f"timing-repetitions-{value or 'empty'}", timing.split() + ["--repetitions", value],
                  "--repetitions"))
    for value in ("S99/T99", "S01/nope", "nonsense", ",", ""):
        add(_case(f"timing-trials-{value or 'empty'}", timing.split() + [f"--trials={value}"], "--trials"))
    for value in ("simbody", "opensim,nope", ",", ""):
        add(_case(f"timing-solvers-{value or 'empty'}", timing.split() + [f"--solvers={value}"], "--solvers"))
    for bad in ("missing", "file", "dir"):
        add(_case(f"timing-data-{bad}", timing.replace("{data}", f"{{{bad}}}"), f"{{{bad}}}"))
    for bad in ("missing", "file"):
        add(_case(f"timing-cohort-{bad}", timing.replace("timing {cohort}", f"timing {{{bad}}}"), f"{{{bad}}}"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"timing-out-{bad}", timing.replace("{out}", f"{{{bad}}}"), f"{{{bad}}}"))

    # run
    for name, (_, named) in BAD_WORKFLOWS.items():
        add(_case(f"run-workflow-{name}", f"run {{workflow_{name}}} --out {{out}}", named))
    for bad in ("missing", "latin1", "list_yaml", "broken_yaml", "binary_yaml", "dir"):
        add(_case(f"run-workflow-file-{bad}", f"run {{{bad}}} --out {{out}}", f"{{{bad}}}"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"run-out-{bad}", f"run {{workflow_unknown_model}} --out {{{bad}}}", f"{{{bad}}}"))
    add(_case("run-update-readme-dir", "run {workflow_unknown_model} --out {out} --update-readme {dir}",
              "--update-readme"))
    add(_case("run-update-readme-missing", "run {workflow_unknown_model} --out {out} --update-readme {missing}",
              "--update-readme"))

    # demo
    for value in BAD_SEEDS:
        add(_case(f"demo-seed-{value}", ["demo", "--out", "{out}", "--seed", value], "--seed"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"demo-out-{bad}", f"demo --out {{{bad}}}", f"{{{bad}}}"))

    # convert-checkpoint
    for bad in BAD_CHECKPOINTS:
        add(_case(f"convert-checkpoint-old-{bad}", f"convert-checkpoint {{{bad}}} {{out}}/new.pt", f"{{{bad}}}"))
    for bad in ("dir", "under_file"):
        add(_case(f"convert-checkpoint-new-{bad}", f"convert-checkpoint {{ckpt}} {{{bad}}}", f"{{{bad}}}"))

    # sim2real CONFIG.yaml [--virtual DIR] [--real DIR] [--out DIR] [--virtual-checkpoints DIR]
    for name, (_, named) in BAD_SIM2REAL.items():
        add(_case(f"sim2real-config-{name}", f"sim2real {{sim2real_{name}}} --out {{out}}", named))
    for bad in ("missing", "latin1", "list_yaml", "broken_yaml", "binary_yaml", "dir"):
        add(_case(f"sim2real-config-file-{bad}", f"sim2real {{{bad}}} --out {{out}}", f"{{{bad}}}"))
    for bad in ("missing", "file", "no_subject_data"):
        add(_case(f"sim2real-virtual-{bad}", f"sim2real {{sim2real}} --out {{out}} --virtual {{{bad}}}", f"{{{bad}}}"))
        add(_case(f"sim2real-real-{bad}", f"sim2real {{sim2real}} --out {{out}} --real {{{bad}}}", f"{{{bad}}}"))
    for bad in ("missing", "file", "dir"):
        add(_case(f"sim2real-virtual-checkpoints-{bad}",
                  f"sim2real {{sim2real}} --out {{out}} --virtual-checkpoints {{{bad}}}", f"{{{bad}}}"))
    for bad in BAD_OUT_DIRS:
        add(_case(f"sim2real-out-{bad}", f"sim2real {{sim2real}} --out {{{bad}}}", f"{{{bad}}}"))
    add(_case("sim2real-no-config", "sim2real", "CONFIG_YAML"))
    add(_case("sim2real-unknown-option", "sim2real {sim2real} --out {out} --frobnicate", "--frobnicate"))

    # no or unknown sub-command, unknown options
    add(_case("no-command", [], "COMMAND"))
    add(_case("unknown-command", "fly", "fly"))
    for command in ("label {cohort} --out {out}", "train --config {cfg} --data {data} --out {out}",
                    "predict {ckpt} {csv}", "synth --out {out}", "demo --out {out}"):
        add(_case(f"{command.split()[0]}-unknown-option", command + " --frobnicate", "--frobnicate"))
    return cases


CASES = _cases()


class _TookTooLong(Exception):
    pass


def _run(argv: list[str]) -> int:
    """``main(argv)``'s exit code (argparse's SystemExit included), stopped after CASE_SECONDS."""

    def alarm(signum, frame):
        raise _TookTooLong(f"not rejected within {CASE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(CASE_SECONDS)
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_the_table_covers_every_command_with_enough_cases():
    commands = {case.argv[0] for case in CASES if case.argv}
    assert {"label", "label-trial", "ingest", "synth", "train", "evaluate", "predict", "export", "timing", "run",
            "demo", "convert-checkpoint"} <= commands
    assert len(CASES) >= 250
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_invocation_ends_in_one_message(case, files, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    paths = {**files.paths, "out": str(out)}
    argv = [part.format(**paths) for part in case.argv]
    before = {path for path in files.root.rglob("*")}
    code = _run(argv)
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert code != 0, f"exit 0 for {argv}:\n{text}"
    assert "Traceback" not in text
    assert "internal error" not in text, text
    named = case.names.format(**paths)
    assert named in text, f"the message does not name {named!r}:\n{text}"
    left = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) if out.exists() else []
    assert not [p for p in left if p.name in RESULT_NAMES or p.suffix in (".pt", ".pt2", ".csv", ".parquet")], left
    appeared = [p for p in files.root.rglob("*") if p not in before and p.is_file()]
    assert not appeared, f"files written next to the inputs: {appeared}"


def test_an_unexpected_error_is_one_line_with_a_log_file_and_exit_3(files, tmp_path, capsys, caplog, monkeypatch):
    import gait2hip.workflows.commands.export as export

    def broken(args):
        raise KeyError("something the code did not expect")

    monkeypatch.setattr(export, "run", broken)
    out = tmp_path / "model.pt2"
    code = _run(["export", files.paths["ckpt"], "--out", str(out)])
    text = capsys.readouterr().err + caplog.text
    assert code == 3
    assert "Traceback" not in text
    line = next(line for line in text.splitlines() if "internal error" in line)
    assert "KeyError" in line and "details: " in line
    log = Path(line.split("details: ")[1].rstrip(")"))
    assert "Traceback" in log.read_text() and "something the code did not expect" in log.read_text()
    log.unlink()


def test_verbose_prints_the_traceback_of_an_unexpected_error(files, tmp_path, capsys, monkeypatch):
    import gait2hip.workflows.commands.export as export

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(export, "run", broken)
    assert _run(["-v", "export", files.paths["ckpt"]]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_is_one_line_and_exit_130(files, capsys, caplog, monkeypatch):
    import gait2hip.workflows.commands.export as export

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "run", interrupted)
    assert _run(["export", files.paths["ckpt"]]) == 130
    text = capsys.readouterr().err + caplog.text
    assert "interrupted" in text and "Traceback" not in text


def test_nan_labels_fail_training_without_a_best_checkpoint(files, tmp_path, caplog):
    out = tmp_path / "run"
    assert _run(["train", "--config", files.paths["cfg"], "--data", files.paths["nan_data"], "--out", str(out)]) == 2
    assert "non-finite" in caplog.text
    assert not (out / "best.pt").exists() and not (out / "summary.json").exists()


def test_angles_far_outside_any_plausible_range_warn_on_predict(files, tmp_path, caplog):
    table = pd.read_csv(files.paths["csv"])
    huge = tmp_path / "huge.csv"
    table.assign(**{name: table[name] * 1e8 for name in ANGLES}).to_csv(huge, index=False)
    assert _run(["predict", files.paths["ckpt"], str(huge), "--out", str(tmp_path / "p")]) == 0
    warnings = [record for record in caplog.records if record.levelname == "WARNING" and "plausible" in record.message]
    assert len(warnings) == 1 and "hip_flexion_r" in warnings[0].message


def test_plausible_angles_predict_without_a_range_warning(files, tmp_path, caplog):
    assert _run(["predict", files.paths["ckpt"], files.paths["csv"], "--out", str(tmp_path / "p")]) == 0
    assert not [record for record in caplog.records if "plausible" in record.message]
    assert (tmp_path / "p.csv").is_file()


def test_the_cadence_range_of_the_arguments_is_the_virtual_labs():
    from gait2hip.virtual_lab.presets import CADENCE_RANGE_STEPS_PER_MIN
    from gait2hip.workflows import arguments

    assert arguments.CADENCE_RANGE_STEPS_PER_MIN == CADENCE_RANGE_STEPS_PER_MIN


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
@pytest.mark.parametrize("command", ["synth --out {out}", "train --config {cfg} --data {data} --out {out}",
                                     "label {cohort} --out {out}", "demo --out {out}"])
def test_an_unwritable_out_folder_is_named(command, files, tmp_path, caplog):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = [part.format(**{**files.paths, "out": str(locked / "out")}) for part in command.split()]
        assert _run(argv) == 2
        assert "not writable" in caplog.text and str(locked) in caplog.text
    finally:
        locked.chmod(0o700)
