"""The `observations` layer: experiment registry and crew feedback (definitions in `defs`)."""
