"""Metrics: a registry of named metrics with declared direction and range, and the evaluation loop."""
