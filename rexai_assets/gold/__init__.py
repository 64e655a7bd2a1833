"""The `gold` layer: feature contract, candidate pool, labels, leak-free splits (definitions in `defs`)."""
