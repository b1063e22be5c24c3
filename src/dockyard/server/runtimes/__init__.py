"""Where workloads run: one driver per kind of engine, behind `base.Runtime`."""
