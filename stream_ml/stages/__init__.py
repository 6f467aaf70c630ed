"""Stages the engine wires in: routing (experiments), monitoring (drift), snapshots."""
