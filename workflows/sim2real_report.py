"""The report of ``gait2hip sim2real`` (:mod:`gait2hip.workflows.sim2real`): its summary as Markdown."""

from __future__ import annotations

from typing import Any

PROTOCOLS = {"zero_shot": "(a) virtual → real, zero-shot", "real_only": "(b) real only, cross-validated",
             "fine_tune": "(c) virtual + real fine-tune"}


def _cell(scores: dict[str, Any], group: str, metric: str) -> str:
    values = scores.get(group, {})
    mean, sd = values.get(f"{metric}_mean"), values.get(f"{metric}_sd")
    return "n/a" if mean is None else f"{mean:.3f} ± {sd or 0.0:.3f}"


def report_markdown(summary: dict) -> str:
    """The side-by-side table (models × protocols), the generalisation gap and the folds, as Markdown."""
    datasets, folds = summary["datasets"], summary["folds"]
    groups = [group for group in ("moments", "forces")
              if any(group in model["protocols"]["zero_shot"]["scores"] for model in summary["models"].values())]
    units = {"moments": "Nm/kg", "forces": "N/kg"}
    n_real = len(summary["real_subjects"])
    lines = [f"# Sim-to-real: {summary['name']}", "",
             f"Virtual cohort = synthetic: `{datasets['virtual']}` (virtual gait lab, OpenSim labels). "
             f"Real subjects = measured: `{datasets['real']}` ({n_real} subjects). "
             f"{len(folds)} folds over the real subjects, seed {summary['seeds']['folds']}.", "",
             "## Side by side", "",
             f"R² and RMSE per real subject (frames with known labels only), then mean ± SD over the {n_real} "
             "subjects; under (b) and (c) each subject is scored by the fold that held it out.", "",
             "| model | protocol | " + " | ".join(f"{g} R² | {g} RMSE ({units[g]})" for g in groups) + " |",
             "|---" * (2 + 2 * len(groups)) + "|"]
    for name, model in summary["models"].items():
        for protocol, label in PROTOCOLS.items():
            scores = model["protocols"][protocol]["scores"]
            lines.append(f"| {name} | {label} | "
                         + " | ".join(f"{_cell(scores, g, 'r2')} | {_cell(scores, g, 'rmse')}" for g in groups) + " |")
    lines += ["", "Median over subjects of the same per-subject R² (one subject with a near-silent muscle can pull "
              "a mean far down):", "", "| model | protocol | " + " | ".join(f"{g} R² median" for g in groups) + " |",
              "|---" * (2 + len(groups)) + "|"]
    for name, model in summary["models"].items():
        for protocol, label in PROTOCOLS.items():
            scores = model["protocols"][protocol]["scores"]
            lines.append(f"| {name} | {label} | "
                         + " | ".join(_number(scores.get(g, {}).get("r2_median")) for g in groups) + " |")
    lines += ["", "## Generalisation gap", "",
              "Virtual test-subject R² of the (a) model minus its zero-shot R² on the real subjects "
              "(positive: worse on real walks).", "",
              "| model | " + " | ".join(f"{g} R² virtual test | {g} R² real zero-shot | {g} gap"
                                        for g in groups) + " |",
              "|---" * (1 + 3 * len(groups)) + "|"]
    for name, model in summary["models"].items():
        cells = []
        for group in groups:
            virtual = model["virtual_test"]["scores"].get(group, {}).get("r2_mean")
            real = model["protocols"]["zero_shot"]["scores"].get(group, {}).get("r2_mean")
            gap = model["generalisation_gap"].get(f"{group}_r2")
            cells += [_number(virtual), _number(real), _number(gap, signed=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Folds", "", "| fold | train | validation (early stopping) | test (held out) |",
              "|---|---|---|---|"]
    lines += [f"| {fold['index'] + 1} | {', '.join(fold['train'])} | {', '.join(fold['validation'])} | "
              f"{', '.join(fold['test'])} |" for fold in folds]
    lines += ["", "## How to read it", "",
              "(a) says how a model trained on synthetic walks alone does on real ones; (b) what the few real "
              "subjects teach on their own; (c) whether pre-training on the virtual cohort helps once real "
              "subjects are available: (c) above (b) means the virtual cohort carries knowledge the real subjects "
              "alone do not, (c) above (a) that the real subjects correct what the virtual cohort gets wrong. "
              "With a dozen subjects a difference smaller than the SDs is not evidence of either. A muscle force "
              "channel nearly constant on a subject's known frames has a tiny total variance, so a small error in "
              "N/kg gives it an R² far below 0: read the forces R² with its RMSE and median.", ""]
    return "\n".join(lines)


def _number(value: float | None, signed: bool = False) -> str:
    return "n/a" if value is None else (f"{value:+.3f}" if signed else f"{value:.3f}")
