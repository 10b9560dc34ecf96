"""``gait2hip predict``: hip forces and moments from joint angles with a trained surrogate."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Predict hip muscle forces (N/kg) and hip joint moments (Nm/kg) for INPUT with a trained
surrogate. INPUT is an OpenSim IK .mot/.sto or a CSV with a `time` column and the 10 angle
columns (hip_flexion_r, hip_adduction_r, hip_rotation_r, knee_angle_r, ankle_angle_r, and _l).
Missing angle columns are named; angles in radians are detected and converted; other sampling
rates are resampled to 100 Hz. Writes OUT.csv and OUT.sto (OpenSim storage) and OUT.summary.json.
"""
RATE_HZ = 100.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict hip forces and moments from angles",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="best.pt of a training run")
    parser.add_argument("input", type=Path, metavar="INPUT", help="IK .mot/.sto or CSV of the 10 angles")
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="output path without extension (default: INPUT's stem + _surrogate)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from pipeline.atomic import write_atomically, write_json_atomically
    from surrogate.evaluate import predict_angles
    from workflows.prediction_inputs import read_angles

    state = torch.load(args.checkpoint, weights_only=False, map_location="cpu")
    angles = read_angles(args.input, state["input_names"], RATE_HZ)
    predicted = predict_angles(args.checkpoint, angles)
    out = args.out or args.input.with_name(f"{args.input.stem}_surrogate")
    write_atomically(out.with_suffix(".csv"), lambda p: predicted.to_csv(p, index=False))
    from pipeline.storage import write_mot  # OpenSim's STO adapter, only for the .sto copy

    write_mot(out.with_suffix(".sto"), {c: predicted[c].to_numpy() for c in predicted.columns[1:]},
              predicted["time"].to_numpy(), in_degrees=False)
    write_json_atomically(out.with_suffix(".summary.json"), {
        "kind": "gait2hip.predict", "checkpoint": str(args.checkpoint), "input": str(args.input),
        "frames": len(predicted), "rate_hz": RATE_HZ, "model": state["model"],
        "converted_from_radians": bool(angles.attrs.get("converted_from_radians", False)),
        "resampled_from_hz": angles.attrs.get("resampled_from_hz")})
    print(f"{len(predicted)} frames → {out.with_suffix('.csv')} and {out.with_suffix('.sto')}"
          + (" (input converted from radians)" if angles.attrs.get("converted_from_radians") else ""))
    return 0
