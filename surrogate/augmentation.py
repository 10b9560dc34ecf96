"""Left–right mirroring: every left gait cycle becomes one more right-cycle training sample.

The models read the 10 bilateral joint angles of a cycle that starts at a right heel strike
and predict both hips' moments and forces. gait2392 (and gait2354) define the left coordinates
anatomically mirrored to the right ones (positive hip adduction is adduction on both sides) and
the left muscles as mirror images of the right ones, so swapping every ``_r``/``_l`` column of a
trial turns its left cycles (left heel strike to left heel strike) into right cycles of the
mirrored body. Training on both doubles the training cycles without any invented value: each
sample is still a cycle OpenSim labelled. Only the training set is mirrored; validation, test
and zero-shot evaluation keep the right cycles, as the metrics are defined.
"""

from __future__ import annotations

import re

import pandas as pd

_SIDE = re.compile(r"_(r|l)(?=_|$)")
# Appended to the trial id of mirrored rows, so a trial and its mirror image stay apart.
MIRRORED_TRIAL_SUFFIX = "/mirrored"


def mirrored_name(column: str) -> str:
    """``hip_flexion_r`` → ``hip_flexion_l``, ``glut_med1_l_force`` → ``glut_med1_r_force``; others unchanged.

    Only the last side token is swapped, so names such as ``add_long_r_force`` keep their stem.
    """
    matches = list(_SIDE.finditer(column))
    if not matches:
        return column
    last = matches[-1]
    other = "l" if last.group(1) == "r" else "r"
    return column[:last.start()] + f"_{other}" + column[last.end():]


def mirror_sides(table: pd.DataFrame) -> pd.DataFrame:
    """The same rows with every right/left column pair swapped.

    Raises
    ------
    ValueError
        If a sided column has no counterpart on the other side (the dataset is not bilateral,
        so mirroring would leave a channel without values).
    """
    renamed = {column: mirrored_name(column) for column in table.columns}
    orphans = sorted(c for c, m in renamed.items() if m != c and m not in table.columns)
    if orphans:
        raise ValueError(f"cannot mirror left and right: no counterpart for column(s) {', '.join(orphans[:5])}")
    return table.rename(columns=renamed)
