"""Pure Kubernetes -> NSX mapping: no I/O; functions return values for callers to apply."""
