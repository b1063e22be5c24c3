"""Compute resources a workload may ask for: the bundle catalog."""
