"""How well a trained surrogate fits its training, validation and test subjects.

Prints the subject-level mean R² per target group for each part of the checkpoint's split,
and the force channels with the lowest test R² beside their training R², to tell
under-fitting (low everywhere) from poor generalisation across subjects (low on test only).

    .venv/bin/python benchmarks/fit_by_split.py runs/gait2hip24/models/transformer/best.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from gait2hip.surrogate.checkpoint import load_checkpoint
from gait2hip.surrogate.dataset import load_dataset
from gait2hip.surrogate.evaluate import evaluate_on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--worst", type=int, default=8, help="how many of the worst test channels to list")
    args = parser.parse_args()
    model, checkpoint = load_checkpoint(args.checkpoint)
    table = load_dataset(checkpoint.dataset)
    channel_r2 = {}
    for part in ("train", "validation", "test"):
        evaluation = evaluate_on(model, checkpoint, table[table["subject"].isin(getattr(checkpoint.split, part))], part)
        summary = evaluation.summary[evaluation.summary["metric"] == "r2"]
        print(f"{part:<11}" + "".join(f"  {row.target} R² {row.mean:.3f} ± {row.sd:.3f}"
                                      for row in summary.itertuples()))
        long = evaluation.long_metrics
        channel_r2[part] = long[long["metric"] == "r2"].groupby("channel")["value"].mean()
    channels = pd.DataFrame(channel_r2).sort_values("test")
    print("\nlowest test R² (mean over subject × cadence), with the same channel's R² on the other parts:")
    print(channels.head(args.worst).round(3).to_string())


if __name__ == "__main__":
    main()
