"""How the held-out R² of a surrogate grows with the number of training subjects.

Takes the split a workflow uses (same fractions and seed, so the same validation and test
subjects), trains ``--config``'s model on seeded random subsets of its training subjects
(``--sizes``, each ``--repeats`` times with other subsets), and prints the subject-level mean
R² of forces and moments on the test subjects for each size. Training options are those of
the config; only the number of training subjects changes. Figures are printed and written to
``OUT/summary.json``, never asserted.

    .venv/bin/python benchmarks/learning_curve.py runs/gait2hip24/labels/dataset \
        --split 0.67 0.16 0.17 --sizes 4 8 16 --out runs/learning_curve
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from gait2hip.core.atomic import write_json_atomically
from gait2hip.surrogate.config import TrainingConfig
from gait2hip.surrogate.dataset import load_dataset
from gait2hip.surrogate.evaluate import split_r2
from gait2hip.surrogate.split import split_subjects
from gait2hip.surrogate.train import train_from_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="label dataset folder (LABELS/dataset)")
    parser.add_argument("--config", type=Path, default=Path("surrogate/configs/transformer.yaml"))
    parser.add_argument("--split", type=float, nargs=3, default=(0.67, 0.16, 0.17), metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--sizes", type=int, nargs="+", default=(4, 8, 16), help="training subjects per run")
    parser.add_argument("--repeats", type=int, default=2, help="subsets per size (one run at the full size)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsets")
    parser.add_argument("--out", type=Path, default=Path("runs/learning_curve"))
    args = parser.parse_args()
    config = dataclasses.replace(TrainingConfig.from_yaml(args.config), split_fractions=tuple(args.split))
    dataset = load_dataset(args.dataset)
    table = dataset[dataset["group"].isin(config.groups)] if "group" in dataset.columns else dataset
    split = split_subjects(table, tuple(config.split_fractions), config.seed)
    rng = np.random.default_rng(args.seed)
    print(f"{config.model}: {len(split.train)} training, {len(split.validation)} validation, "
          f"{len(split.test)} test subjects ({', '.join(split.test)})")
    print(f"{'training subjects':>17} {'run':>4} {'forces R²':>10} {'moments R²':>11} {'best epoch':>10} {'s':>6}")
    rows = []
    for size in args.sizes:
        if size > len(split.train):
            raise SystemExit(f"--sizes: {size} is more than the split's {len(split.train)} training subjects")
        repeats = 1 if size == len(split.train) else args.repeats
        for repeat in range(repeats):
            subjects = sorted(rng.choice(split.train, size=size, replace=False).tolist())
            started = time.perf_counter()
            result = train_from_config(config, args.dataset, args.out / f"n{size:02d}_{repeat}", train_subjects=subjects)
            r2 = split_r2(result.best_checkpoint, dataset, "test")
            seconds = time.perf_counter() - started
            rows.append({"n_train_subjects": size, "repeat": repeat, "train_subjects": subjects,
                         "forces_r2": r2.get("forces"), "moments_r2": r2.get("moments"),
                         "best_epoch": result.best_epoch, "seconds": seconds})
            print(f"{size:>17} {repeat:>4} {r2.get('forces', float('nan')):>10.3f} "
                  f"{r2.get('moments', float('nan')):>11.3f} {result.best_epoch:>10} {seconds:>6.0f}")
    write_json_atomically(args.out / "summary.json", {
        "kind": "gait2hip.learning_curve", "dataset": str(args.dataset.resolve()), "config": config.to_dict(),
        "split": split.to_dict(), "runs": rows})


if __name__ == "__main__":
    main()
