"""``gait2hip export``: a trained surrogate as one ``torch.export`` file that runs without gait2hip."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Export CHECKPOINT (best.pt of a training run) as a torch.export program (.pt2; PyTorch's
successor to TorchScript). The file holds the
network with its standardisation folded in: input joint angles in degrees, shape
(batch, L, 10), output hip forces (N/kg) and moments (Nm/kg), shape (batch, L, n_targets),
where L is the training length (101 points per gait cycle, or the window length). Channel
names, units and L are embedded as gait2hip.json. Load it anywhere with PyTorch alone:

    extra = {"gait2hip.json": ""}
    model = torch.export.load("model.pt2", extra_files=extra).module()
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a trained surrogate (torch.export .pt2)", description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="best.pt of a training run")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="output file (default: CHECKPOINT with suffix .pt2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gait2hip.core.atomic import write_json_atomically
    from gait2hip.surrogate.export import export_program

    from gait2hip.surrogate.checkpoint import read_checkpoint
    from gait2hip.workflows.arguments import check_output_file

    read_checkpoint(args.checkpoint)   # a damaged checkpoint is named before anything is written
    out = check_output_file(args.out or args.checkpoint.with_suffix(".pt2"))
    metadata = export_program(args.checkpoint, out)
    write_json_atomically(out.with_name(out.name + ".summary.json"), {"kind": "gait2hip.export", "file": str(out),
                                                                     **metadata})
    print(f"{metadata['model']} → {out} (torch.export; input (batch, {metadata['sequence_length']}, "
          f"{len(metadata['input_names'])}) degrees → (batch, {metadata['sequence_length']}, "
          f"{len(metadata['target_names'])}) N/kg and Nm/kg)")
    return 0
