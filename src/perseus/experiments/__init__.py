"""Experiment kinds as plug-ins: one module per kind owns its settings, its plan and run (through the Lab
protocol, which orchestrate implements on a real server), the typed keys its trials are stored under and
its analysis over stored trial rows. registry.py lists the kinds."""
