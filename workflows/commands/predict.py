"""``gait2hip predict``: hip forces and moments from joint angles with a trained surrogate."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Predict hip muscle forces (N/kg) and hip joint moments (Nm/kg) for INPUT with a trained
surrogate. INPUT is an OpenSim IK .mot/.sto or a CSV with a `time` column and the 10 angle
columns (hip_flexion_r, hip_adduction_r, hip_rotation_r, knee_angle_r, ankle_angle_r, and _l).
Missing angle columns are named; angles in radians are detected and converted; other sampling
rates are resampled to 100 Hz.

A model trained on gait cycles (the default) predicts cycle by cycle, so it needs the right
heel strikes: from --grf (the trial's GRF .mot, right vertical force above 20 N), from
--heel-strikes, or from a `stance_r` column of a CSV (as in gait2hip label tables). Frames
outside whole cycles are left empty. Writes OUT.csv, OUT.sto (OpenSim storage; when OpenSim
is installed) and OUT.summary.json. Runs without OpenSim on a CSV input with --heel-strikes or
a `stance_r` column; .mot/.sto input and --grf are read with OpenSim.

A model trained with `moment_scaling: mass_height` (moments per kilogram and metre of body
height, so that one model serves adults and children) needs the subject's --height-m.
"""
RATE_HZ = 100.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict hip forces and moments from angles",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="best.pt of a training run")
    parser.add_argument("input", type=Path, metavar="INPUT", help="IK .mot/.sto or CSV of the 10 angles")
    parser.add_argument("--grf", type=Path, default=None, metavar="MOT", help="GRF .mot for right heel strikes")
    parser.add_argument("--heel-strikes", default=None, metavar="T1,T2,...",
                        help="right heel-strike times in s, comma-separated")
    parser.add_argument("--height-m", type=float, default=None, metavar="M",
                        help="the subject's body height in metres (models trained with moment_scaling: mass_height)")
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="output path without extension (default: INPUT's stem + _surrogate)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    import numpy as np
    import pandas as pd

    from gait2hip.core.atomic import write_atomically, write_json_atomically
    from gait2hip.core.errors import InputDataError
    from gait2hip.core.optional import is_available
    from gait2hip.surrogate.body_size import PLAUSIBLE_HEIGHT_M
    from gait2hip.surrogate.checkpoint import load_checkpoint
    from gait2hip.surrogate.inference import SequenceInputError, predict_sequence
    from gait2hip.workflows.arguments import check_output_file
    from gait2hip.workflows.prediction_inputs import implausible_angles, read_angles, right_heel_strike_frames

    model, checkpoint = load_checkpoint(args.checkpoint)
    scaling = checkpoint.training_config.moment_scaling
    if scaling == "mass_height" and args.height_m is None:
        raise InputDataError(args.checkpoint, "this surrogate predicts hip moments for the subject's size (trained "
                                              "with moment_scaling: mass_height): give the subject's height, "
                                              "--height-m M")
    if args.height_m is not None and not PLAUSIBLE_HEIGHT_M[0] <= args.height_m <= PLAUSIBLE_HEIGHT_M[1]:
        raise InputDataError(args.checkpoint, f"--height-m {args.height_m:g} is not a body height in metres "
                                              f"({PLAUSIBLE_HEIGHT_M[0]} to {PLAUSIBLE_HEIGHT_M[1]})")
    out = args.out or args.input.with_name(f"{args.input.stem}_surrogate")
    if out.exists():
        raise InputDataError(out, "--out is the output path without extension (OUT.csv, OUT.sto and "
                                  "OUT.summary.json are written); it exists as a " + ("folder" if out.is_dir() else "file"))
    for suffix in (".csv", ".summary.json"):
        check_output_file(out.with_suffix(suffix))
    angles = read_angles(args.input, list(checkpoint.input_names), RATE_HZ)
    implausible = implausible_angles(angles, list(checkpoint.input_names), checkpoint.input_scaler.mean,
                                     checkpoint.input_scaler.std)
    if implausible:
        logging.getLogger("gait2hip").warning(
            "warning: %s: angles outside any plausible range for walking, predictions there mean nothing: %s",
            args.input, "; ".join(implausible))
    strikes = None
    if checkpoint.segmentation.mode == "cycles":
        strikes = right_heel_strike_frames(angles, args.input, args.grf, args.heel_strikes)
    try:
        values = predict_sequence(model, checkpoint, angles[list(checkpoint.input_names)].to_numpy(float), strikes,
                                  args.height_m)
    except SequenceInputError as error:
        raise InputDataError(args.input, str(error)) from error
    predicted = {"time": angles["time"].to_numpy(), **dict(zip(checkpoint.target_names, values.T))}
    write_atomically(out.with_suffix(".csv"), lambda p: pd.DataFrame(predicted).to_csv(p, index=False))
    covered = ~np.isnan(values[:, 0])
    written = [out.with_suffix(".csv")]
    if is_available("opensim"):  # the .sto copy is written by OpenSim's STO adapter; the .csv holds the same values
        from gait2hip.core.opensim_files import write_mot

        written.append(write_mot(out.with_suffix(".sto"),
                                 {name: column[covered] for name, column in list(predicted.items())[1:]},
                                 predicted["time"][covered], in_degrees=False))
    else:
        logging.getLogger("gait2hip").warning(
            'no %s: OpenSim is not installed (pip install "gait2hip[lab]" adds it)', out.with_suffix(".sto"))
    write_json_atomically(out.with_suffix(".summary.json"), {
        "kind": "gait2hip.predict", "checkpoint": str(args.checkpoint), "input": str(args.input),
        "frames": len(values), "frames_predicted": int(covered.sum()), "rate_hz": RATE_HZ, "model": checkpoint.model,
        "right_heel_strike_frames": None if strikes is None else [int(s) for s in strikes],
        "units": {"forces": "N/kg", "moments": "Nm/kg"}, "moment_scaling": scaling, "body_height_m": args.height_m,
        "converted_from_radians": bool(angles.attrs.get("converted_from_radians", False)),
        "resampled_from_hz": angles.attrs.get("resampled_from_hz")})
    print(f"{int(covered.sum())} of {len(values)} frames predicted → {' and '.join(map(str, written))}"
          + (" (input converted from radians)" if angles.attrs.get("converted_from_radians") else ""))
    return 0
