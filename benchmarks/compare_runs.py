"""Are two workflow runs the same? Cohort, labels, dataset, evaluation tables and model weights.

    python benchmarks/compare_runs.py runs/demo_before runs/demo_after

Prints, per kind of output, how many files are byte-identical, differ, or exist on one side
only, and for every model checkpoint whether its weights are bit-identical. Use it to show
that a change which should not change results (a refactoring, a faster solver with the same
answer) did not, on the same workflow YAML run twice with different ``out``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

# (folder inside the run, file pattern) compared byte for byte.
OUTPUTS = (("cohort", "*.trc"), ("cohort", "*.mot"), ("cohort", "*.yaml"), ("labels", "labels.parquet"),
           ("labels/dataset", "*.parquet"), ("labels", "*.sto"), ("labels", "*.mot"), ("models", "*.csv"))


def _digests(root: Path, folder: str, pattern: str) -> dict[Path, str]:
    return {path.relative_to(root): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((root / folder).rglob(pattern)) if path.is_file()}


def compare_files(before: Path, after: Path, folder: str, pattern: str) -> list[Path]:
    """Print one line for ``folder/**/pattern``; return the files that differ."""
    old, new = _digests(before, folder, pattern), _digests(after, folder, pattern)
    differ = [name for name in old if name in new and new[name] != old[name]]
    print(f"{folder}/**/{pattern}: {len(old)} before, {len(new)} after, "
          f"{sum(new.get(name) == digest for name, digest in old.items())} identical, {len(differ)} differ, "
          f"{len(old.keys() - new.keys())} only before, {len(new.keys() - old.keys())} only after")
    for name in differ[:5]:
        print(f"    differs: {name}")
    return differ


def compare_weights(before: Path, after: Path) -> bool:
    """Print whether each checkpoint's weights are bit-identical; return True when all are."""
    import torch

    from gait2hip.surrogate.checkpoint import read_checkpoint

    all_same = True
    for old_path in sorted((before / "models").glob("*/*.pt")):
        new_path = after / old_path.relative_to(before)
        if not new_path.is_file():
            print(f"{old_path.relative_to(before)}: missing after")
            all_same = False
            continue
        old, new = read_checkpoint(old_path).model_state, read_checkpoint(new_path).model_state
        same = old.keys() == new.keys() and all(torch.equal(old[key], new[key]) for key in old)
        all_same &= same
        print(f"{old_path.relative_to(before)}: weights {'bit-identical' if same else 'DIFFER'}")
    return all_same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="one run's output folder (its YAML's out)")
    parser.add_argument("after", type=Path, help="the other run's output folder")
    args = parser.parse_args()
    differ = [name for folder, pattern in OUTPUTS for name in compare_files(args.before, args.after, folder, pattern)]
    same_weights = compare_weights(args.before, args.after)
    print("same results" if not differ and same_weights else "results differ")


if __name__ == "__main__":
    main()
