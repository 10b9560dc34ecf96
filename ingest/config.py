"""Settings of the C3D ingest, as one typed dataclass loaded once at the edge (CLI, workflow)."""

from __future__ import annotations

from dataclasses import dataclass

from gait2hip.core.config_loading import YamlConfig

AXIS_NAMES = ("+x", "-x", "+y", "-y", "+z", "-z")


def normalise_axis(value: str | None, key: str) -> str | None:
    """Return ``value`` as ``"+x"`` … ``"-z"`` (``"z"`` means ``"+z"``), or None for "detect".

    Raises
    ------
    ValueError
        Naming ``key`` when ``value`` is not an axis name or ``auto``.
    """
    if value is None or value.strip().lower() == "auto":
        return None
    text = value.strip().lower()
    text = text if text[:1] in "+-" else f"+{text}"
    if text not in AXIS_NAMES:
        raise ValueError(f"{key} must be one of x, y, z, -x, -y, -z or auto; got {value!r}")
    return text


@dataclass(frozen=True)
class IngestConfig(YamlConfig):
    """How a C3D becomes OpenSim inputs.

    Attributes
    ----------
    protocol
        ``auto`` (the shipped protocol that fits each file best, see
        :mod:`gait2hip.ingest.protocol_detection`), a shipped protocol name
        (``plug_in_gait``, ``helen_hayes``, ...; ``ingest/protocols/``) or a path to a protocol
        YAML of your own.
    vertical_axis
        Lab axis pointing up (``+z``, ``-y``, ...); None detects it (plate load, markers).
    forward_axis
        Lab axis that becomes OpenSim's +X; None detects it (walking direction of the
        pelvis, or heel → toe in a static trial).
    lowpass_cutoff_hz
        Cut-off of the zero-lag Butterworth low-pass applied to plate forces and moments
        (Hz); None or 0 leaves them unfiltered.
    lowpass_order
        Order of that filter; it runs forwards and backwards, so the effective order is
        twice this and there is no phase lag.
    load_threshold_n
        Vertical load (N) under which a plate or a foot counts as unloaded: its force,
        centre of pressure and torque are set to zero there.
    max_cop_to_foot_distance_m
        A plate contact whose centre of pressure lies farther (horizontally) than this from
        both feet's heel–toe line is an error (a hand on the plate, mislabelled markers).
    min_assignment_agreement
        Fraction of a contact's samples that must lie nearest to the same foot; below it
        both feet are taken to share the plate, which cannot be split (an error).
    event_kinematic_tolerance_s
        A kinematic event this close to (or inside) a plate-measured stance of the same
        foot is dropped in favour of the plate's events.
    event_filter_cutoff_hz
        Low-pass cut-off (Hz) of the foot and pelvis trajectories used for kinematic events.
    min_stride_s
        Shortest plausible stride (s): kinematic events of one kind and side closer than
        this are the same event.
    min_plate_contact_s
        Shortest plate contact given to a foot (s); shorter loaded periods (a toe brushing a
        plate, a load spike) are dropped, so they cannot become heel strikes of false short
        cycles. 0 keeps every contact.
    ignore_plates
        1-based numbers of plates to leave out (e.g. a plate nobody steps on cleanly).
    required_markers
        Model markers a file must provide besides the protocol's own required ones (e.g.
        every marker your pipeline configuration uses for IK).
    """

    protocol: str = "auto"
    vertical_axis: str | None = None
    forward_axis: str | None = None
    lowpass_cutoff_hz: float | None = 50.0
    lowpass_order: int = 4
    load_threshold_n: float = 20.0
    max_cop_to_foot_distance_m: float = 0.25
    min_assignment_agreement: float = 0.8
    event_kinematic_tolerance_s: float = 0.15
    event_filter_cutoff_hz: float = 6.0
    min_stride_s: float = 0.5
    min_plate_contact_s: float = 0.1
    ignore_plates: tuple[int, ...] = ()
    required_markers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "vertical_axis", normalise_axis(self.vertical_axis, "vertical_axis"))
        object.__setattr__(self, "forward_axis", normalise_axis(self.forward_axis, "forward_axis"))
        if self.vertical_axis and self.forward_axis and self.vertical_axis[1] == self.forward_axis[1]:
            raise ValueError(f"forward_axis {self.forward_axis} must differ from vertical_axis {self.vertical_axis}")
        if self.lowpass_cutoff_hz is not None and self.lowpass_cutoff_hz < 0:
            raise ValueError(f"lowpass_cutoff_hz must be >= 0 Hz (0 or null: no filter), got {self.lowpass_cutoff_hz}")
        if self.lowpass_order < 1:
            raise ValueError(f"lowpass_order must be >= 1, got {self.lowpass_order}")
        if self.load_threshold_n <= 0:
            raise ValueError(f"load_threshold_n must be > 0 N, got {self.load_threshold_n}")
        if not 0.5 < self.min_assignment_agreement <= 1.0:
            raise ValueError(f"min_assignment_agreement must be in (0.5, 1], got {self.min_assignment_agreement}")
        for name in ("max_cop_to_foot_distance_m", "event_kinematic_tolerance_s", "event_filter_cutoff_hz",
                     "min_stride_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.min_plate_contact_s < 0:
            raise ValueError(f"min_plate_contact_s must be >= 0 s (0: keep every contact), got {self.min_plate_contact_s}")
        if any(number < 1 for number in self.ignore_plates):
            raise ValueError(f"ignore_plates holds 1-based plate numbers, got {list(self.ignore_plates)}")
