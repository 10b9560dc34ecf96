"""Lab data in: C3D files (markers + force plates) → the gait2hip cohort layout.

``gait2hip.ingest.convert`` turns one C3D into ``markers.trc``, ``grf.mot`` and ``trial.yaml``
(or a static C3D into ``static.trc``); ``gait2hip.ingest.batch.ingest_c3d`` does a file or a
folder. Each step lives in its own module: ``c3d_reader`` (read and check the file),
``protocols`` (lab marker names → model markers), ``axes`` (lab axes → OpenSim's),
``force_plates`` (filter, threshold, centre of pressure), ``foot_assignment`` (which
plate under which foot, merged per foot), ``gait_events`` (heel strike, toe-off, cadence)
and ``writers`` (OpenSim adapters, atomic). Importing this package does no work.
"""
