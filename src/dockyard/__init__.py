"""Dockyard: a self-hosted workload platform compatible with the Workload API."""

__version__ = "0.1.0"
