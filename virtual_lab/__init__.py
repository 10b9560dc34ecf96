"""The virtual gait lab: SYNTHETIC multi-subject, multi-cadence cohorts in the lab layout.

Markers come from OpenSim forward kinematics of subject-scaled gait2392 models walking a
normative template; GRFs from the whole-body dynamics of that motion. See README.md for what
this data can and cannot stand in for. Import the modules directly (``gait2hip.virtual_lab.cohort``).
"""
